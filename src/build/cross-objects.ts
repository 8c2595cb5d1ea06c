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
 * For each object (same order): `provided`, the names it leaves undefined
 * that another of the objects newly defines (what the livepatch provides to
 * it); `usedElsewhere`, its own new globals that another object uses (the
 * object must be linked in for them even when no function of it changed).
 */
export function providedAcross(pairs: readonly ObjectPair[]): Array<{ provided: string[]; usedElsewhere: string[] }> {
  if (pairs.length < 2) return pairs.map(() => ({ provided: [], usedElsewhere: [] }));
  const added = pairs.map(newGlobals);
  const provided = pairs.map((p, i) => {
    const undefs = readSymbolTable(p.patched).symbols.filter((s) => !s.defined && s.name !== '').map((s) => s.name);
    return [...new Set(undefs.filter((n) => added.some((set, j) => j !== i && set.has(n))))].sort();
  });
  return pairs.map((_, i) => ({
    provided: provided[i],
    usedElsewhere: [...added[i]].filter((n) => provided.some((list, j) => j !== i && list.includes(n))).sort(),
  }));
}
