/**
 * The build pass that decides which objects of a kernel tree a patch
 * affects: the configured objects of its .c files and every configured
 * object including a patched header (src/kernel/affected.ts), plus the
 * objects kbuild's .cmd files of earlier builds name (generated sources).
 * Refuses struct layout changes; a patch that changes nothing the
 * configuration builds ends here with exit 3.
 */
import { ExitCode, KelpError } from '../errors.js';
import { affectedObjects } from '../kernel/affected.js';
import { layoutChangeReason, layoutChanges } from '../kernel/struct-layout.js';
import { adviceFor } from '../diff/refusal-kinds.js';
import { RefusalError, type BuildRefusal } from './refusals.js';
import type { AppliedPatches } from './patch.js';
import { objectsIncluding } from './kbuild.js';
import type { Progress } from './progress.js';

/** More objects than this: the build says how many it rebuilds before it starts. */
export const LARGE_SET = 200;

export interface AffectedInput {
  tree: string;
  applied: AppliedPatches;
  patchedC: string[];
  headers: string[];
  progress: Progress;
  /** Where the per-tree object listing and include index are cached (null: not cached). */
  kernelCache: string | null;
}

/** Refuses the patch when it changes the layout of a struct or union that existed before (file: line: type). */
export function refuseLayoutChanges(applied: AppliedPatches, files: string[]): void {
  const problems: BuildRefusal[] = [];
  for (const f of files) {
    const before = applied.before.get(f);
    const after = applied.after.get(f);
    if (before === null || before === undefined || after === null || after === undefined) continue;
    for (const ch of layoutChanges(before, after)) {
      problems.push({ object: f, where: `${f}:${ch.line}`, reason: `${layoutChangeReason(ch)}: existing ${ch.type} objects in the running kernel keep the old layout`, category: 'layout-change', advice: adviceFor('layout-change') });
    }
  }
  if (problems.length > 0) throw new RefusalError(problems, applied.changes[0]?.patch ?? files[0]!);
}

/** The objects to build for an in-tree patch, sorted. */
export async function affectedInTree(c: AffectedInput): Promise<string[]> {
  const aff = await affectedObjects(c.tree, c.patchedC, c.headers, c.kernelCache);
  const configured = new Set(aff.objects);
  const special = aff.notConfigured.filter((n) => n.special);
  if (special.length > 0) {
    throw new RefusalError(special.map((n) => ({ object: n.file, where: n.file, reason: n.message, category: 'not-livepatchable-object', advice: adviceFor('not-livepatchable-object') })), c.applied.changes[0]?.patch ?? special[0]!.file);
  }
  for (const n of aff.notConfigured) c.progress.say(`${n.file}: ${n.message}; nothing in the running kernel changes`, true);
  for (const note of aff.notes) c.progress.say(note);
  for (const h of c.headers) {
    const n = aff.includers[h] ?? 0;
    c.progress.say(`${h}: included by ${n} object(s) of this kernel's configuration${aff.includesCached ? '' : ` (include index built in ${(aff.ms.includes / 1000).toFixed(1)} s)`}`);
  }
  // Only the headers and sources the configuration compiles decide layouts that matter.
  refuseLayoutChanges(c.applied, [...c.headers.filter((h) => (aff.includers[h] ?? 0) > 0), ...c.patchedC.filter((p) => configured.has(p.replace(/\.c$/, '.o')))]);
  const list = new Set(aff.objects);
  if (c.headers.length > 0) {
    // Objects made from generated sources are not in the include index; kbuild's records of earlier builds name their headers.
    for (const u of await objectsIncluding(c.tree, c.headers)) if (aff.conf.objects.has(u)) list.add(u);
  }
  if (list.size === 0) {
    const what = [
      ...aff.notConfigured.map((n) => `${n.file} (${n.option ?? 'not configured'})`),
      ...c.headers.filter((h) => (aff.includers[h] ?? 0) === 0).map((h) => `${h} (no configured object includes it)`),
    ];
    throw new KelpError(`changes nothing this kernel's configuration builds: ${what.join(', ')}`, c.applied.changes[0]?.patch, ExitCode.NoChange);
  }
  return [...list].sort();
}
