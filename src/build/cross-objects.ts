/**
 * Symbols across the objects of one livepatch: a function or variable with
 * external linkage that the patch adds to one object and another patched
 * object uses exists only in the livepatch module. The using object's diff
 * must leave the reference an ordinary undefined symbol (linking the module
 * resolves it), not look it up in the target as a `.klp.sym` symbol.
 */
import { readSymbolTable } from '../symbols/read.js';

export interface ObjectPair {
  orig: string;
  patched: string;
}

/** Global functions and data the patched object defines and the original did not. */
function newGlobals(pair: ObjectPair): Set<string> {
  const had = new Set(readSymbolTable(pair.orig).symbols.filter((s) => s.defined).map((s) => s.name));
  return new Set(readSymbolTable(pair.patched).symbols
    .filter((s) => s.defined && !s.local && (s.kind === 'func' || s.kind === 'object') && s.name !== '' && !had.has(s.name))
    .map((s) => s.name));
}

/**
 * For each object (same order), the names it leaves undefined that another
 * of the objects newly defines: what the livepatch provides to it.
 */
export function providedAcross(pairs: readonly ObjectPair[]): string[][] {
  if (pairs.length < 2) return pairs.map(() => []);
  const added = pairs.map(newGlobals);
  return pairs.map((p, i) => {
    const undefs = readSymbolTable(p.patched).symbols.filter((s) => !s.defined && s.name !== '').map((s) => s.name);
    return [...new Set(undefs.filter((n) => added.some((set, j) => j !== i && set.has(n))))].sort();
  });
}
