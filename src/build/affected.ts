/**
 * The build pass that decides which objects of a kernel tree a patch
 * affects: the configured objects of its .c files and every configured
 * object including a patched header (src/kernel/affected.ts), plus the
 * objects kbuild's .cmd files of earlier builds name (generated sources).
 * A patch that changes nothing the configuration builds ends here with
 * exit 3. (Struct layout changes are refused once the objects are built:
 * layout.ts.)
 */
import { ExitCode, KelpError } from '../errors.js';
import { affectedObjects } from '../kernel/affected.js';
import { adviceFor } from '../diff/refusal-kinds.js';
import { RefusalError } from './refusals.js';
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

/** The objects to build for an in-tree patch, sorted, and the make target of each (the object's path unless another directory's Makefile builds it). */
export async function affectedInTree(c: AffectedInput): Promise<{ objects: string[]; makeTarget: (o: string) => string }> {
  const aff = await affectedObjects(c.tree, c.patchedC, c.headers, c.kernelCache);
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
  return { objects: [...list].sort(), makeTarget: (o) => aff.conf.objects.get(o)?.make ?? o };
}
