/**
 * The diff model's symbol index, built once when an object is read: each
 * symbol's section, the F_NAMED flag, the source file (first FILE symbol),
 * an open-addressing hash over the names' bytes in the string table (slots
 * hold the first symbol of each distinct name; nextSame chains the others in
 * index order), and per-section lists of named symbols sorted by (value,
 * index). No string is kept per symbol.
 */
import type { CompactElf } from '../../elf/compact.js';
import { STT_FILE, STT_SECTION } from '../../elf/constants.js';
import { F_NAMED } from './flags.js';
import { hashBytes, sameBytes } from './name-bytes.js';

export interface SymbolIndex {
  symSec: Int32Array;
  /** F_NAMED set; the other flags are the passes'. */
  symFlags: Uint8Array;
  sourceFile: string | null;
  /** Name hash: slots (size a power of two, mask = size - 1) and same-name chains. */
  slots: Int32Array;
  nextSame: Int32Array;
  mask: number;
  /** Function and data symbols defined in a section, sorted by (value, index): secSyms[secSymStart[s] .. secSymStart[s+1]). */
  secSymStart: Int32Array;
  secSyms: Int32Array;
}

export function indexSymbols(e: CompactElf): SymbolIndex {
  const buf = e.buf;
  const nsec = e.shnum;
  const nsym = e.nsym;
  const symSec = new Int32Array(nsym);
  const symFlags = new Uint8Array(nsym);
  let source: string | null = null;
  const perSec = new Int32Array(nsec + 1);
  let named = 0;
  for (let i = 1; i < nsym; i++) {
    const t = e.symType(i);
    if (t !== STT_FILE && t !== STT_SECTION) named++;
  }
  let size = 16;
  while (size < named * 1.5) size <<= 1;
  const slots = new Int32Array(size);
  const mask = size - 1;
  const nextSame = new Int32Array(nsym);
  const tail = new Int32Array(nsym);
  for (let i = 1; i < nsym; i++) {
    const sec = e.symSpecial(i) ? 0 : e.symShndx(i);
    symSec[i] = sec;
    const type = e.symType(i);
    if (type === STT_FILE) {
      if (source === null) source = e.symName(i);
      continue;
    }
    if (type === STT_SECTION) continue;
    const start = e.symNameStart(i);
    if (buf[start] === 0 || e.symNameEnd(start) === start) continue;
    symFlags[i] |= F_NAMED;
    if (sec !== 0) perSec[sec]++;
    // Insert into the name hash.
    const end = e.symNameEnd(start);
    let slot = hashBytes(buf, start, end) & mask;
    for (;;) {
      const first = slots[slot];
      if (first === 0) {
        slots[slot] = i;
        tail[i] = i;
        break;
      }
      const fs = e.symNameStart(first);
      if (sameBytes(buf, fs, e.symNameEnd(fs), buf, start, end)) {
        nextSame[tail[first]] = i;
        tail[first] = i;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }

  // Per-section symbol lists, sorted by value then index.
  const secSymStart = new Int32Array(nsec + 1);
  for (let s = 1; s <= nsec; s++) secSymStart[s] = secSymStart[s - 1] + perSec[s - 1];
  const secSyms = new Int32Array(secSymStart[nsec]);
  const fill = secSymStart.slice(0, nsec);
  for (let i = 1; i < nsym; i++) {
    const sec = symSec[i];
    if (sec !== 0 && (symFlags[i] & F_NAMED) !== 0) secSyms[fill[sec]++] = i;
  }
  for (let s = 1; s < nsec; s++) {
    const a = secSymStart[s];
    const b = secSymStart[s + 1];
    if (b - a < 2) continue;
    let sorted = true;
    for (let k = a + 1; k < b; k++) if (e.symValue(secSyms[k]) < e.symValue(secSyms[k - 1])) { sorted = false; break; }
    if (!sorted) {
      const list = Array.from(secSyms.subarray(a, b)).sort((x, y) => e.symValue(x) - e.symValue(y) || x - y);
      secSyms.set(list, a);
    }
  }
  return { symSec, symFlags, sourceFile: source, slots, nextSame, mask, secSymStart, secSyms };
}
