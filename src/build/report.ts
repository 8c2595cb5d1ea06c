/**
 * The last pass of `kelp build`, report: NAME.json (what was built, from
 * what, how long each phase took, the verification) and the renaming of
 * NAME.ko and NAME.json into OUTDIR. A module that failed verification is
 * not written: it stays in the kept work directory (VerifyFailed).
 */
import type { MovedHunk } from './patch.js';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExitCode, KelpError } from '../errors.js';
import { writeFileAtomic, type LinkResult } from '../link/index.js';
import type { BuildContext } from './context.js';
import type { Diffed } from './diff.js';
import type { Objects } from './objects.js';
import type { Validated } from './validate.js';
import { describeVerifyFailure } from './verify.js';

export interface ObjectReport {
  object: string;
  /** vmlinux or the module name (with `_`). */
  target: string;
  result: 'changed' | 'no-change';
  cached: boolean;
  changedFunctions: Array<{ name: string; oldName: string }>;
  /** Changed functions without __fentry__ that the patch replaces by replacing their callers. */
  throughCallers: Array<{ name: string; callers: string[] }>;
  newFunctions: string[];
  newData: string[];
  /** Replaced functions whose original has .cold parts, and those parts. */
  coldParts: Array<{ name: string; parts: string[] }>;
  diffBytes: number;
}

export interface VerifyReport {
  ok: boolean;
  check: null | { ok: boolean; problems: string[]; notes: string[] };
  checks: Array<{ command: string; output: string; exitCode: number | null }>;
  expect: Array<{ pattern: string; matched: boolean }>;
  /** The checks run again after the patch was disabled in the target (when checks were given). */
  checksAfterDisable: Array<{ command: string; output: string; exitCode: number | null }>;
  expectDisabled: Array<{ pattern: string; matched: boolean }>;
  error: string | null;
  log: string | null;
}

export interface BuildReport {
  name: string;
  moduleName: string;
  ko: string;
  patches: string[];
  tree: string;
  kind: 'in-tree' | 'out-of-tree';
  kdir: string;
  targets: Record<string, string[]>;
  objects: ObjectReport[];
  /** The special sections' entry sizes read from the target kernel (SECTION=BYTES), null when the probe did not build. */
  entrySizes: string[] | null;
  /** The kernel's compiler (CONFIG_CC_VERSION_TEXT), the one kelp built with, where, and whether the check was skipped. */
  compiler: { kernel: string | null; used: string | null; where: string; checkSkipped: boolean } | null;
  sizes: { ko: number; diffObjects: number };
  cache: { hits: number; misses: number };
  timings: Record<string, number>;
  total: number;
  verify: VerifyReport | null;
  repairedFromEarlierRun: string[];
  /** Hunks that applied at an offset or with fuzz, and where they landed (as `patch -p1` would have put them). */
  movedHunks: MovedHunk[];
}

export interface BuildResult { ko: string; json: string; report: BuildReport }

export async function writeReport(
  ctx: BuildContext, v: Validated, objects: Objects, d: Diffed, linked: LinkResult, verify: VerifyReport | null,
): Promise<BuildResult> {
  ctx.progress.end();
  const ko = linked.output;
  const report: BuildReport = {
    name: v.name, moduleName: linked.moduleName, ko: join(v.outdir, `${v.name}.ko`), patches: ctx.options.patches.map((p) => resolve(p)),
    tree: v.tree, kind: v.oot ? 'out-of-tree' : 'in-tree', kdir: v.kdir, targets: d.targets, objects: d.reports, entrySizes: d.entrySizes,
    compiler: ctx.toolchain === null ? null : { kernel: ctx.toolchain.kernel, used: ctx.toolchain.used, where: ctx.toolchain.where, checkSkipped: ctx.toolchain.checkSkipped },
    sizes: { ko: statSync(ko).size, diffObjects: d.reports.reduce((n, r) => n + r.diffBytes, 0) },
    cache: { hits: objects.cached.size, misses: objects.list.length - objects.cached.size },
    timings: { ...ctx.progress.timings }, total: Math.round((Date.now() - ctx.started) / 10) / 100,
    verify, repairedFromEarlierRun: v.repaired, movedHunks: v.applied.moved,
  };
  if (verify !== null && !verify.ok) {
    ctx.keepWork = true;
    throw new KelpError(`verification failed: ${verify.error ?? describeVerifyFailure(verify)}${verify.log ? ` (console log: ${verify.log})` : ''}; module kept in ${ctx.work}`, ko, ExitCode.VerifyFailed);
  }
  const json = join(v.outdir, `${v.name}.json`);
  await writeFileAtomic(join(v.outdir, `${v.name}.ko`), readFileSync(ko));
  await writeFileAtomic(json, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
  return { ko: report.ko, json, report };
}
