/**
 * The includers of a patched header whose preprocessed source the patch
 * leaves as it was: kbuild preprocesses each (`make dir/file.i`, the object's
 * own flags) before and after the patch, and the two texts are compared with
 * line markers and blank lines left out (the patched header keeps its
 * unchanged lines' numbers with #line directives, so __LINE__ and every token
 * compare as they are). A translation unit whose preprocessed text is the same
 * compiles to the same object, so it is neither built nor diffed: a header
 * fix that adds a device ID, a macro or a comment rebuilds only the objects
 * that use it, not every includer twice.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cmdFileOf } from './kbuild.js';
import type { TreeGuard } from './guard.js';
import type { Validated } from './validate.js';

/** One make run in the tree (objects.ts's, with its failure message). */
export type MakeInTree = (targets: string[], what: string) => Promise<void>;

/** A hash of a preprocessed text without its line markers (`# 12 "file" 2`), blank lines and trailing spaces. */
export function preprocessedDigest(text: string): string {
  const h = createHash('sha256');
  for (const line of text.split('\n')) {
    if (/^#\s*\d+\s+"/.test(line)) continue;
    const l = line.trimEnd();
    if (l.trim() === '') continue;
    h.update(l);
    h.update('\n');
  }
  return h.digest('hex');
}

/**
 * The objects of `candidates` (header includers, not objects of a patched
 * source) whose preprocessed source the patch does not change. The tree's
 * sources are as before the patch when it returns.
 */
export async function unchangedWhenPreprocessed(v: Validated, guard: TreeGuard, candidates: readonly string[], makeTarget: (o: string) => string, make: MakeInTree): Promise<Set<string>> {
  const units = candidates.filter((o) => existsSync(join(v.tree, o.replace(/\.o$/, '.c'))));
  if (units.length === 0) return new Set();
  const iOf = (o: string) => o.replace(/\.o$/, '.i');
  guard.protect(units.flatMap((o) => [iOf(o), cmdFileOf(iOf(o))]));
  const digests = async (state: string): Promise<Map<string, string>> => {
    for (const o of units) guard.write(iOf(o), null);
    await make(units.map((o) => iOf(makeTarget(o))), `${state} preprocessed includers`);
    return new Map(units.map((o) => [o, preprocessedDigest(readFileSync(join(v.tree, iOf(o)), 'latin1'))]));
  };
  const before = await digests('original');
  for (const [p, content] of v.compiled) guard.write(p, content);
  let after: Map<string, string>;
  try {
    after = await digests('patched');
  } finally {
    for (const p of v.compiled.keys()) guard.write(p, v.applied.before.get(p) ?? null);
  }
  return new Set(units.filter((o) => before.get(o) === after.get(o)));
}
