/**
 * Canonical relocations: a reference to `section + offset` where a named
 * function or object covers the target becomes a reference to that symbol
 * (`sym + (offset - value)`), so that the two spellings compare equal and the
 * output can reach the target by name. PC-relative references in code are
 * resolved with the instruction's length.
 */
import type { DRel, DSec, Kelf } from './model.js';
import { pcAdjust } from './x86.js';

export function canonicalise(k: Kelf): void {
  for (const sec of k.sections) {
    if (sec.relocs.length === 0) continue;
    for (const r of sec.relocs) {
      const sym = r.sym;
      if (!sym || !sym.isSection || !sym.sec) continue;
      const target = sym.sec;
      if (target.isStrings || target.syms.length === 0) continue;
      const named = coveringSymbol(sec, r, target);
      if (named) {
        r.addend -= BigInt(named.value);
        r.sym = named;
      }
    }
  }
}

function coveringSymbol(sec: DSec, r: DRel, target: DSec) {
  // One symbol spanning the whole section: no need to decode.
  if (target.syms.length === 1) {
    const only = target.syms[0];
    if (only.value === 0 && only.size === target.size) return only;
  }
  const t = Number(r.addend) + pcAdjust(sec, r);
  return target.symbolAt(t);
}

/** The offset in the target section a relocation points at (PC-relative adjusted). */
export function targetOffset(sec: DSec, r: DRel): number {
  const base = r.sym && !r.sym.isSection ? r.sym.value : 0;
  return base + Number(r.addend) + pcAdjust(sec, r);
}
