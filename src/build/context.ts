/**
 * What every pass of `kelp build` shares: the options, the progress line, the
 * work directory, the job count and the interrupt handling. Each pass takes
 * the context and what the passes before it produced (see index.ts).
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Toolchain } from '../kernel/toolchain.js';
import type { TargetInfo } from '../target/fetch.js';
import { Interrupts } from './interrupt.js';
import { Progress, type ProgressSink } from './progress.js';

/** The phases of the progress line, in order. */
export const PHASES = ['validate', 'build originals', 'build patched', 'diff', 'link', 'verify'] as const;

export interface BuildOptions {
  patches: string[];
  /** A Debian kernel release (uname -r): source, kdir, System.map and image come from its fetch. */
  release?: string;
  /** Build even when neither the host nor a build root has the kernel's exact compiler (recorded in the report). */
  skipCompilerCheck?: boolean;
  /** A configured kernel tree (in-tree patches). */
  sourcedir?: string;
  /** The build directory whose kbuild builds the module (default: sourcedir). */
  kdir?: string;
  /** An out-of-tree module's directory (its own Makefile/Kbuild); patches are relative to it. */
  ootModule?: string;
  /** The module the out-of-tree patch changes (default: the module kbuild names for its objects). */
  target?: string;
  name?: string;
  outdir?: string;
  /** System.map of the target kernel (sympos, klp symbol checks). */
  symbols?: string;
  /** Module.symvers of the target (default: KDIR/Module.symvers). */
  symvers?: string;
  replace?: boolean;
  jobs?: number;
  keepTmp?: boolean;
  verify?: boolean;
  check?: string[];
  expect?: string[];
  /** With verify and checks: regular expressions the checks' output must match after the patch is disabled in the target (the original behaviour is back). */
  expectDisabled?: string[];
  /** The kernel image to boot for --verify (default: the fetched Debian target's). */
  kernel?: string;
  /** Seconds before the verification boot is killed. */
  timeout?: number;
  /** Lines of context a hunk may leave unchecked (patch's --fuzz; default 2, 0 refuses a hunk that needs fuzz). */
  fuzz?: number;
  /** Cache root (default $KELP_CACHE or ${XDG_CACHE_HOME:-~/.cache}/kelp). */
  cache?: string;
  /** Use the original-object cache (default true). */
  useCache?: boolean;
  progress?: ProgressSink;
  quiet?: boolean;
  /** Where the diff's per-object reports go (default stderr). */
  log?: (text: string) => void;
}

export class BuildContext {
  readonly started = Date.now();
  readonly progress: Progress;
  readonly jobs: number;
  /** The temporary work directory (objects, diffs, the linked module); removed unless kept. */
  readonly work: string;
  readonly interrupts: Interrupts;
  /** Keep the work directory at the end (--keep-tmp, or a module that failed verification). */
  keepWork: boolean;
  /** The fetched target the options came from (--release, a kelp-prepared tree or kdir), if any. */
  fetched: TargetInfo | undefined;
  /** The compiler the build uses (validate chooses it). */
  toolchain: Toolchain | null = null;

  constructor(readonly options: BuildOptions, fetched?: TargetInfo) {
    this.fetched = fetched;
    const sink: ProgressSink = options.progress ?? { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY };
    const phases = options.verify ? [...PHASES] : PHASES.filter((p) => p !== 'verify');
    this.progress = new Progress(phases, sink, options.quiet === true);
    this.jobs = Math.max(1, options.jobs ?? availableParallelism());
    this.interrupts = new Interrupts(this.progress);
    this.work = mkdtempSync(join(tmpdir(), 'kelp-build-'));
    this.keepWork = options.keepTmp === true;
  }

  /** Throws the interruption error if a signal arrived (where: the tree or directory named in it). */
  checkInterrupt(where: string | undefined): void {
    this.interrupts.check(where);
  }
}
