/**
 * Pass 5 of `kelp build`, link: the changed objects' diffs into one livepatch
 * module with the target's kbuild (kelp link), written into the work
 * directory (`output`); the report pass renames it into OUTDIR.
 */
import { join } from 'node:path';
import { linkModule, type LinkResult } from '../link/index.js';
import type { BuildContext } from './context.js';
import type { Diffed } from './diff.js';
import type { Validated } from './validate.js';

export async function linkLivepatch(ctx: BuildContext, v: Validated, d: Diffed): Promise<LinkResult> {
  ctx.progress.phase('link');
  const linked = await linkModule({
    inputs: d.changed.map((i) => d.jobs[i].opts.output), kdir: v.kdir, name: v.name, output: join(ctx.work, `${v.name}.ko`),
    replace: ctx.options.replace !== false, symbols: v.symbols, symvers: [], keepBuild: false,
  });
  ctx.checkInterrupt(v.tree);
  return linked;
}
