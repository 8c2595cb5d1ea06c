/**
 * Canonical relocations: a reference to `section + offset` where a named
 * function or object covers the target becomes a reference to that symbol
 * (`sym + (offset - value)`), so that the two spellings compare equal and the
 * output can reach the target by name. PC-relative references in code are
 * resolved with the instruction's length.
 */
import type { Kelf } from './model.js';
import { pcAdjust } from './x86.js';

export function canonicalise(k: Kelf): void {
  for (let sec = 1; sec < k.nsec; sec++) {
    const end = k.relStart[sec + 1];
    for (let j = k.relStart[sec]; j < end; j++) {
      const sym = k.relSym[j];
      if (sym === 0 || !k.isSection(sym)) continue;
      const target = k.symSec[sym];
      if (target === 0 || k.isStrings(target) || k.symCount(target) === 0) continue;
      const named = coveringSymbol(k, sec, j, target);
      if (named) k.rewrite(j, named, k.relAdd[j] - k.value(named));
    }
  }
}

function coveringSymbol(k: Kelf, sec: number, j: number, target: number): number {
  // One symbol spanning the whole section: no need to decode.
  if (k.symCount(target) === 1) {
    const only = k.secSyms[k.secSymStart[target]];
    if (k.value(only) === 0 && k.size(only) === k.secSize(target)) return only;
  }
  return k.symbolAt(target, k.relAdd[j] + pcAdjust(k, sec, j));
}
