/**
 * The diff model's relocations, copied once per object into typed arrays
 * grouped by the section they apply to ([relStart[s], relStart[s+1])) and
 * sorted by offset. Types and addends start as 8- and 32-bit arrays and are
 * widened when a value does not fit; addends that do not fit 53 bits are
 * kept exactly in bigAddends.
 */
import type { CompactElf } from '../../elf/compact.js';
import { SHT_RELA } from '../../elf/constants.js';
import { ElfFormatError } from '../../elf/errors.js';
import { C_UNREAD } from './sections.js';

const TWO32 = 0x100000000;

export interface RelocTable {
  relStart: Int32Array;
  relOff: Uint32Array;
  relType: Uint8Array | Uint32Array;
  relSym: Int32Array;
  relAdd: Int32Array | Float64Array;
  /** Exact addends that do not fit 53 bits (by relocation index), until rewritten. */
  bigAddends: Map<number, bigint>;
}

/** Relocation counts per section (index nsec included, 0), for the sections whose relocations are read. */
export function countRelocations(e: CompactElf, secRela: Int32Array, secClass: Uint16Array): Int32Array {
  const nsec = e.shnum;
  const relCount = new Int32Array(nsec + 1);
  for (let s = 1; s < nsec; s++) {
    const r = secRela[s];
    if (r !== 0 && (secClass[s] & C_UNREAD) === 0) relCount[s] = e.relocationSectionCount(r);
  }
  return relCount;
}

/** Reads the relocations counted by countRelocations, in chunks of the relocation sections. */
export function loadRelocations(e: CompactElf, file: string, secRela: Int32Array, relCount: Int32Array): RelocTable {
  const nsec = e.shnum;
  const relStart = new Int32Array(nsec + 1);
  for (let s = 1; s <= nsec; s++) relStart[s] = relStart[s - 1] + relCount[s - 1];
  const nrel = relStart[nsec];
  const t: RelocTable = {
    relStart,
    relOff: new Uint32Array(nrel),
    relType: new Uint8Array(nrel),
    relSym: new Int32Array(nrel),
    relAdd: new Int32Array(nrel),
    bigAddends: new Map<number, bigint>(),
  };
  const relOff = t.relOff;
  const relSym = t.relSym;
  const CHUNK = 4096;
  for (let s = 1; s < nsec; s++) {
    const n = relCount[s];
    if (n === 0) continue;
    const r = secRela[s];
    const rela = e.type(r) === SHT_RELA;
    const stride = rela ? 24 : 16;
    const at = relStart[s];
    let sorted = true;
    for (let k0 = 0; k0 < n; k0 += CHUNK) {
      const m = Math.min(CHUNK, n - k0);
      const b = e.readRegion(e.offset(r) + k0 * stride, m * stride);
      for (let q = 0; q < m; q++) {
        const o = q * stride;
        const j = at + k0 + q;
        const off = b.readUInt32LE(o + 4) * TWO32 + b.readUInt32LE(o);
        if (off >= TWO32) throw new ElfFormatError(file, `relocation section ${r} (${e.name(r)})`, `entry ${k0 + q} has offset 0x${off.toString(16)}, past 4 GiB`);
        relOff[j] = off;
        const type = b.readUInt32LE(o + 8);
        if (type > 0xff && t.relType instanceof Uint8Array) t.relType = Uint32Array.from(t.relType);
        t.relType[j] = type;
        const si = b.readUInt32LE(o + 12);
        e.checkRelocationSymbol(r, k0 + q, si);
        relSym[j] = si;
        if (rela) {
          const hi = b.readInt32LE(o + 20);
          setAddend(t, j, hi * TWO32 + b.readUInt32LE(o + 16));
          if (hi > 0x1fffff || hi < -0x200000) t.bigAddends.set(j, b.readBigInt64LE(o + 16));
        }
        if (j > at && relOff[j] < relOff[j - 1]) sorted = false;
      }
    }
    if (!sorted) sortRelocs(t, at, at + n);
  }
  return t;
}

/** Sets relocation `j`'s addend, widening the addend array to 64-bit floats when `a` does not fit 32 bits. */
export function setAddend(t: RelocTable, j: number, a: number): void {
  if ((a | 0) !== a && t.relAdd instanceof Int32Array) t.relAdd = Float64Array.from(t.relAdd);
  t.relAdd[j] = a;
}

/** Sorts relocations [a, b) by offset, then index. */
function sortRelocs(t: RelocTable, a: number, b: number): void {
  const idx = Array.from({ length: b - a }, (_, k) => a + k).sort((x, y) => t.relOff[x] - t.relOff[y] || x - y);
  const off = idx.map((j) => t.relOff[j]);
  const type = idx.map((j) => t.relType[j]);
  const sym = idx.map((j) => t.relSym[j]);
  const add = idx.map((j) => t.relAdd[j]);
  const big = new Map<number, bigint>();
  idx.forEach((j, k) => { const v = t.bigAddends.get(j); if (v !== undefined) big.set(a + k, v); });
  for (let j = a; j < b; j++) t.bigAddends.delete(j);
  for (const [j, v] of big) t.bigAddends.set(j, v);
  t.relOff.set(off, a);
  t.relType.set(type, a);
  t.relSym.set(sym, a);
  t.relAdd.set(add, a);
}
