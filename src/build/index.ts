/**
 * `kelp build`: patches → a verified livepatch module, as a list of named
 * passes over one BuildContext (context.ts), each in its own file:
 *
 *  1. validate      parse and apply the patches in memory, check options and config;
 *  2. buildObjects  the affected objects, original (cached) and patched, with the tree's kbuild;
 *  3. diffObjects   kelp diff on every object in worker threads;
 *  4. linkLivepatch kelp link with the target's kbuild;
 *  5. verifyInTarget (--verify) kelp check, then a QEMU boot of the target with the module;
 *  6. writeReport   NAME.ko and NAME.json renamed into OUTDIR.
 *
 * Signals and the tree guard are handled in interrupt.ts: on every exit the
 * tree is as it was and nothing half-written is left.
 */
import { rmSync } from 'node:fs';
import { BuildContext, type BuildOptions } from './context.js';
import { diffObjects } from './diff.js';
import { linkLivepatch } from './link.js';
import { buildObjects } from './objects.js';
import { writeReport, type BuildResult } from './report.js';
import { validate } from './validate.js';
import { withTargetPaths } from './target-paths.js';
import { setToolchain } from '../kernel/toolchain.js';
import { verifyInTarget } from './verify.js';

export { PHASES, type BuildOptions } from './context.js';
export { defaultModuleName } from './validate.js';
export type { BuildReport, BuildResult, ObjectReport, VerifyReport } from './report.js';
export { findModuleFile, targetModulesDir } from './module-tree.js';

export async function buildLivepatch(opts: BuildOptions): Promise<BuildResult> {
  // --release (or a kelp-prepared tree) fills in the target's paths.
  const say = (l: string) => { if (opts.quiet !== true) (opts.progress ?? process.stderr).write(`kelp: ${l}\n`); };
  const { opts: o, target } = await withTargetPaths(opts, say);
  const ctx = new BuildContext(o, target);
  const { interrupts, progress } = ctx;
  interrupts.install();
  try {
    const input = await validate(ctx);
    const objects = await buildObjects(ctx, input);
    const diffed = await diffObjects(ctx, input, objects);
    const linked = await linkLivepatch(ctx, input, diffed);
    const verified = o.verify ? await verifyInTarget(ctx, input, diffed, linked) : null;
    return await writeReport(ctx, input, objects, diffed, linked, verified);
  } catch (e) {
    throw interrupts.outcome(e, o.sourcedir ?? o.ootModule);
  } finally {
    progress.end();
    try { interrupts.restoreTree(); } finally {
      setToolchain(null);
      interrupts.uninstall();
      if (!ctx.keepWork) rmSync(ctx.work, { recursive: true, force: true });
      else if (o.keepTmp) progress.say(`work directory kept: ${ctx.work}`);
    }
  }
}
