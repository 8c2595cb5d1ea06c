/**
 * Preparing the matching kernel source so single objects can be built: the
 * image's config with module signing keys emptied, olddefconfig, then
 * `make prepare modules_prepare`.
 */
import { promises as fs } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { activeToolchain, makeInvocation } from '../kernel/toolchain.js';
import { TargetError } from './errors.js';
import { requireTools } from './tools.js';

/** Tools `make prepare` of a 6.1 tree needs beyond a compiler. */
export const SOURCE_TOOLS = ['tar', 'xz', 'make', 'gcc-12', 'bc', 'flex', 'bison', 'openssl'];

/** The linux-source tarball a linux-source .deb (extracted to `debRoot`) ships. */
export async function sourceTarball(debRoot: string): Promise<string> {
  const srcDir = join(debRoot, 'usr', 'src');
  const tarball = (await fs.readdir(srcDir)).find((f) => /^linux-source-.*\.tar\.(xz|gz|bz2|zst)$/.test(f));
  if (tarball === undefined) throw new TargetError('holds no linux-source tarball', srcDir);
  return join(srcDir, tarball);
}

/** Unpacks the linux-source tarball shipped by the .deb (already extracted to `debRoot`) into `dest`. */
export async function unpackSourceTarball(debRoot: string, dest: string): Promise<string> {
  const tarball = await sourceTarball(debRoot);
  await fs.mkdir(dest, { recursive: true });
  const r = await execa(requireTools(['tar'])['tar']!, ['-xf', tarball, '-C', dest], { reject: false, stdin: 'ignore', maxBuffer: 4 << 20 });
  if (r.exitCode !== 0) throw new TargetError(`tar failed: ${r.stderr.trim().split('\n').pop() ?? r.exitCode}`, tarball);
  const top = (await fs.readdir(dest)).find((f) => f.startsWith('linux-source-'));
  if (top === undefined) throw new TargetError('unpacked to no linux-source-* directory', tarball);
  return join(dest, top);
}

/** Config options set before olddefconfig: no signing keys, no module signing at install. */
export const CONFIG_OVERRIDES: ReadonlyArray<[string, string]> = [
  ['MODULE_SIG_KEY', '""'],
  ['SYSTEM_TRUSTED_KEYS', '""'],
  ['SYSTEM_REVOCATION_KEYS', '""'],
  ['MODULE_SIG_ALL', 'n'],
  ['BUILD_SALT', '""'],
];

/** Rewrites a kernel .config so each override holds (replacing or appending the line). */
export function applyConfigOverrides(config: string, overrides: ReadonlyArray<[string, string]> = CONFIG_OVERRIDES): string {
  let out = config.endsWith('\n') ? config : `${config}\n`;
  for (const [name, value] of overrides) {
    const line = value === 'n' ? `# CONFIG_${name} is not set` : `CONFIG_${name}=${value}`;
    const re = new RegExp(`^(?:CONFIG_${name}=.*|# CONFIG_${name} is not set)$`, 'm');
    out = re.test(out) ? out.replace(re, line) : `${out}${line}\n`;
  }
  return out;
}

/** The compiler the image was built with, from CONFIG_CC_VERSION_TEXT (e.g. gcc-12). */
export function compilerOf(config: string): string | undefined {
  const m = /^CONFIG_CC_VERSION_TEXT="([^"\s]+)/m.exec(config);
  return m ? m[1] : undefined;
}

/** The whole CONFIG_CC_VERSION_TEXT, e.g. `gcc-14 (Debian 14.2.0-19) 14.2.0`. */
export function compilerTextOf(config: string): string | undefined {
  const m = /^CONFIG_CC_VERSION_TEXT="([^"]*)"/m.exec(config);
  return m ? m[1] : undefined;
}

async function make(tree: string, args: string[]): Promise<void> {
  const run = makeInvocation(args, tree, { LC_ALL: 'C', KBUILD_BUILD_TIMESTAMP: '', KBUILD_VERBOSE: '0' });
  const r = await execa(run.file, run.args, {
    cwd: tree, reject: false, stdin: 'ignore', all: true, maxBuffer: 64 << 20, env: run.env, extendEnv: run.file === 'make',
  });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').trim().split('\n').slice(-1)[0] ?? '';
    throw new TargetError(`make ${args.filter((a) => !a.startsWith('-j')).join(' ')} failed: ${tail}`, tree);
  }
}

/**
 * The compiler flags every kelp build of kernel objects adds (through KCFLAGS):
 * a section per function and per data object, so objects can be compared and
 * cut function by function.
 */
export const KELP_KCFLAGS = '-ffunction-sections -fdata-sections';

/**
 * Configures `tree` like the image (`config` is the image's config text) and
 * runs olddefconfig and prepare/modules_prepare. The preparation uses kelp's
 * KCFLAGS too: objects kbuild builds on the way (scripts/mod/empty.o, from which
 * elfconfig.h is generated) depend on them, so later builds with the same flags
 * find nothing to redo and never rewrite a file of the prepared tree.
 */
export async function prepareSource(tree: string, config: string): Promise<void> {
  if (activeToolchain()?.root == null) requireTools(SOURCE_TOOLS);
  const cc = compilerOf(config);
  // Debian's kernel Makefile includes .kernelvariables; setting CC there makes a
  // later `make path/file.o` use the image's compiler without CC= on the command line.
  if (cc !== undefined && /^(x86_64-linux-gnu-)?gcc(-\d+)?$/.test(cc)) {
    await fs.writeFile(join(tree, '.kernelvariables'), `CC = ${cc}\n`);
  }
  await fs.writeFile(join(tree, '.config'), applyConfigOverrides(config));
  await make(tree, ['olddefconfig']);
  const jobs = Math.max(1, availableParallelism());
  await make(tree, [`-j${jobs}`, `KCFLAGS=${KELP_KCFLAGS}`, 'prepare', 'modules_prepare']);
}

/** The object kbuild compiles during every `prepare` (elfconfig.h is made from it). */
const PREPARE_PROBE = join('scripts', 'mod', '.empty.o.cmd');

/**
 * Whether the tree's last `prepare` used kelp's KCFLAGS: scripts/mod/empty.o's
 * recorded command carries them. When it does not (a tree prepared by an older
 * kelp, or since rebuilt by a plain `make`), the next kelp build would rebuild
 * scripts/mod and rewrite elfconfig.h in the tree.
 */
export async function preparedWithKelpFlags(tree: string): Promise<boolean> {
  let cmd: string;
  try {
    cmd = await fs.readFile(join(tree, PREPARE_PROBE), 'utf8');
  } catch {
    return false;
  }
  const line = cmd.split('\n', 1)[0] ?? '';
  const words = new Set(line.split(/\s+/));
  return KELP_KCFLAGS.split(' ').every((f) => words.has(f));
}

/**
 * Brings a prepared tree back to kelp's flags when something rebuilt it
 * without them (an incremental `make prepare modules_prepare`, a few seconds).
 * Returns whether it had to.
 */
export async function refreshPreparation(tree: string): Promise<boolean> {
  if (await preparedWithKelpFlags(tree)) return false;
  if (activeToolchain()?.root == null) requireTools(SOURCE_TOOLS);
  const jobs = Math.max(1, availableParallelism());
  await make(tree, [`-j${jobs}`, `KCFLAGS=${KELP_KCFLAGS}`, 'prepare', 'modules_prepare']);
  return true;
}
