/**
 * The diff's view of one object, data-oriented: sections and symbols are
 * their file indices (0 = none), their ELF fields are read straight from the
 * file buffer (elf/compact.ts), and what the passes compute (twin in the
 * other object, status, inclusion, ...) lives in typed arrays indexed by
 * them. Relocations are copied once into per-object arrays, grouped by the
 * section they apply to and sorted by offset, in canonical form after the
 * canonicalise pass (symbol and addend rewritten in place). Names are looked
 * up through a hash table over the string table's bytes, so no string is
 * kept per symbol or section.
 */
import { CompactElf } from '../../elf/compact.js';
import {
  SHF_ALLOC, SHF_EXECINSTR, SHF_STRINGS, SHF_WRITE, SHN_UNDEF, SHT_GROUP, SHT_NOBITS, SHT_REL, SHT_RELA,
  SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STB_LOCAL, STT_FUNC, STT_OBJECT, STT_SECTION, STT_TLS,
} from '../../elf/constants.js';
import { F_NAMED, NEW } from './flags.js';
import { hashBytes, hashString, sameBytes, startsWith } from './name-bytes.js';
import { countRelocations, loadRelocations, setAddend } from './relocs.js';
import { checkGroups, indexSections } from './section-index.js';
import { indexSymbols } from './symbol-index.js';

export { CHANGED, F_FORCED, F_IGNORED, F_INCLUDE, F_LINE_ONLY, F_NAMED, F_TABLE_COPY, F_VIA_CALLERS, NEW, SAME } from './flags.js';
export { hashBytes, sameBytes } from './name-bytes.js';

export class Kelf {
  readonly e: CompactElf;
  readonly buf: Buffer;
  /** Section count, section 0 included. */
  readonly nsec: number;
  /** Symbol count, symbol 0 included. */
  readonly nsym: number;

  // Sections.
  readonly secTwin: Int32Array;
  /** The relocation section applying to a section. */
  readonly secRela: Int32Array;
  /** The one function or object a section holds (`-ffunction-sections`/`-fdata-sections`). */
  readonly secBundled: Int32Array;
  readonly secIgnored: Uint8Array;
  /** sections.ts class bits, from the name. */
  readonly secClass: Uint16Array;
  /** Function and data symbols defined in a section, sorted by (value, index): secSyms[secSymStart[s] .. secSymStart[s+1]). */
  readonly secSymStart: Int32Array;
  readonly secSyms: Int32Array;

  // Relocations, grouped by the section they apply to: [relStart[s], relStart[s+1]), sorted by offset.
  readonly relStart: Int32Array;
  readonly relOff: Uint32Array;
  /** Types and addends: 8- and 32-bit arrays, widened when a value does not fit. */
  relType: Uint8Array | Uint32Array;
  readonly relSym: Int32Array;
  relAdd: Int32Array | Float64Array;
  /** Exact addends that do not fit 53 bits (by relocation index), until rewritten. */
  readonly bigAddends: Map<number, bigint>;

  // Symbols.
  readonly symSec: Int32Array;
  readonly symTwin: Int32Array;
  readonly symStatus: Uint8Array;
  readonly symFlags: Uint8Array;
  /** Compiler-made child (`.cold`, fentry-less `.part.N`) -> parent, and parent -> children. */
  readonly parent = new Map<number, number>();
  readonly children = new Map<number, number[]>();
  /** Function -> its `__pfx_` padding symbol, and back. */
  readonly prefix = new Map<number, number>();
  readonly prefixOf = new Map<number, number>();
  /** Another name for the function or object that owns a section (same place, same size). */
  readonly aliasOf = new Map<number, number>();
  /** Why a function changed (for the report). */
  readonly reasons = new Map<number, string[]>();
  /** Instruction end offsets of text sections, decoded on demand. */
  readonly insnEnds = new Map<number, Uint32Array>();

  /** The first FILE symbol's name: the source file. */
  readonly sourceFile: string | null;

  // Name hash: slots hold the first symbol of each distinct name; nextSame chains the others in index order.
  private readonly slots: Int32Array;
  private readonly nextSame: Int32Array;
  private readonly mask: number;
  private secNames: Map<string, number[]> | null = null;

  /** `src`: the file read whole, or opened on demand (CompactElf.open; closed by `close`). */
  constructor(readonly file: string, src: Buffer | CompactElf) {
    const e = src instanceof CompactElf ? src : CompactElf.parse(src, file);
    this.e = e;
    this.buf = e.buf;
    const nsec = e.shnum;
    const nsym = e.nsym;
    this.nsec = nsec;
    this.nsym = nsym;
    this.secTwin = new Int32Array(nsec);
    this.secBundled = new Int32Array(nsec);
    this.secIgnored = new Uint8Array(nsec);
    this.symTwin = new Int32Array(nsym);
    this.symStatus = new Uint8Array(nsym).fill(NEW);

    // In this order, so that a bad file gets the same message as before: section classes and
    // relocation links, relocation counts, groups, symbols, then the relocations themselves.
    const secs = indexSections(e);
    this.secClass = secs.secClass;
    this.secRela = secs.secRela;
    const relCount = countRelocations(e, secs.secRela, secs.secClass);
    checkGroups(e, file);
    const syms = indexSymbols(e);
    this.symSec = syms.symSec;
    this.symFlags = syms.symFlags;
    this.sourceFile = syms.sourceFile;
    this.slots = syms.slots;
    this.nextSame = syms.nextSame;
    this.mask = syms.mask;
    this.secSymStart = syms.secSymStart;
    this.secSyms = syms.secSyms;
    const rel = loadRelocations(e, file, secs.secRela, relCount);
    this.relStart = rel.relStart;
    this.relOff = rel.relOff;
    this.relType = rel.relType;
    this.relSym = rel.relSym;
    this.relAdd = rel.relAdd;
    this.bigAddends = rel.bigAddends;
  }

  /** True when symbol `i`'s name starts with `prefix`. */
  symNameStartsWith(i: number, prefix: string): boolean {
    const a = this.e.symNameStart(i);
    return this.e.symNameEnd(a) - a >= prefix.length && startsWith(this.buf, a, prefix);
  }

  /** True when symbol `i`'s name contains byte `c`. */
  symNameHas(i: number, c: number): boolean {
    const a = this.e.symNameStart(i);
    const e = this.e.symNameEnd(a);
    for (let k = a; k < e; k++) if (this.buf[k] === c) return true;
    return false;
  }

  /** True when symbol `i`'s name holds a `.` followed by a digit, or starts with `__UNIQUE_ID_` (numbered-name candidates). */
  maybeNumbered(i: number): boolean {
    const a = this.e.symNameStart(i);
    const e = this.e.symNameEnd(a);
    const b = this.buf;
    for (let k = a; k + 1 < e; k++) if (b[k] === 0x2e && b[k + 1] >= 0x30 && b[k + 1] <= 0x39) return true;
    return startsWith(b, a, '__UNIQUE_ID_');
  }

  /** Closes the file when it was opened on demand. */
  close(): void {
    this.e.close();
  }

  // Section fields.
  /** For a relocation section: the section it applies to (0 otherwise). */
  secBase(s: number): number { return this.isRelocation(s) ? this.e.info(s) : 0; }
  secName(s: number): string { return this.e.name(s); }
  secSize(s: number): number { return this.e.size(s); }
  secType(s: number): number { return this.e.type(s); }
  secFlags(s: number): number { return this.e.flags(s); }
  /** The contents (a view; empty for NOBITS). */
  secData(s: number): Buffer { return this.e.data(s); }
  /** File offset of the contents (read into the buffer first). */
  secOffset(s: number): number {
    this.e.ensure(s);
    return this.e.offset(s);
  }
  isText(s: number): boolean { return (this.e.flags(s) & SHF_EXECINSTR) !== 0; }
  isStrings(s: number): boolean { return (this.e.flags(s) & SHF_STRINGS) !== 0; }
  isWritable(s: number): boolean { return (this.e.flags(s) & SHF_WRITE) !== 0; }
  isAlloc(s: number): boolean { return (this.e.flags(s) & SHF_ALLOC) !== 0; }
  isNobits(s: number): boolean { return this.e.type(s) === SHT_NOBITS; }
  isRelocation(s: number): boolean { const t = this.e.type(s); return t === SHT_RELA || t === SHT_REL; }
  /** Tables and groups: never compared or copied as such. */
  isStructural(s: number): boolean {
    const t = this.e.type(s);
    return t === SHT_SYMTAB || t === SHT_STRTAB || t === SHT_SYMTAB_SHNDX || t === SHT_GROUP || t === SHT_RELA || t === SHT_REL;
  }
  /**
   * The sections (not relocation sections) called `name`, in file order,
   * for names of sections that hold no bundled symbol (the only ones looked
   * up by name; built once, after the structure pass, without keeping a
   * string per section).
   */
  sectionsNamed(name: string): number[] {
    if (!this.secNames) {
      const m = new Map<string, number[]>();
      for (let s = 1; s < this.nsec; s++) {
        if (this.secBundled[s] !== 0 || this.isRelocation(s)) continue;
        const n = this.e.name(s);
        const l = m.get(n);
        if (l) l.push(s);
        else m.set(n, [s]);
      }
      // Bundled sections named like an unbundled one (rare): compare hashes of the bytes first.
      const hashes = new Set<number>();
      for (let s = 1; s < this.nsec; s++) {
        if (this.secBundled[s] !== 0 || this.isRelocation(s)) continue;
        const a = this.e.nameStart(s);
        if (a >= 0) hashes.add(hashBytes(this.buf, a, this.e.nameEnd(a)));
      }
      let extra = false;
      for (let s = 1; s < this.nsec; s++) {
        if (this.secBundled[s] === 0) continue;
        const a = this.e.nameStart(s);
        if (a < 0 || !hashes.has(hashBytes(this.buf, a, this.e.nameEnd(a)))) continue;
        const l = m.get(this.e.name(s));
        if (l) {
          l.push(s);
          extra = true;
        }
      }
      if (extra) for (const l of m.values()) l.sort((a, b) => a - b);
      this.secNames = m;
    }
    return this.secNames.get(name) ?? [];
  }

  // Symbol fields.
  symName(i: number): string { return this.e.symName(i); }
  value(i: number): number { return this.e.symValue(i); }
  size(i: number): number { return this.e.symSize(i); }
  symType(i: number): number { return this.e.symType(i); }
  bind(i: number): number { return this.e.symBind(i); }
  isFunc(i: number): boolean { return this.e.symType(i) === STT_FUNC; }
  isData(i: number): boolean { const t = this.e.symType(i); return t === STT_OBJECT || t === STT_TLS; }
  isSection(i: number): boolean { return this.e.symType(i) === STT_SECTION; }
  isLocal(i: number): boolean { return this.e.symBind(i) === STB_LOCAL; }
  isUndefined(i: number): boolean { return this.symSec[i] === 0 && this.e.symRawShndx(i) === SHN_UNDEF; }
  isNamed(i: number): boolean { return (this.symFlags[i] & F_NAMED) !== 0; }
  has(i: number, flag: number): boolean { return (this.symFlags[i] & flag) !== 0; }
  set(i: number, flag: number): void { this.symFlags[i] |= flag; }
  /** Adds a reason to a function's change record. */
  reason(i: number, why: string): void {
    const l = this.reasons.get(i);
    if (l) l.push(why);
    else this.reasons.set(i, [why]);
  }

  /** The named symbols called `name`, in index order. */
  named(name: string): number[] {
    const out: number[] = [];
    let slot = hashString(name) & this.mask;
    for (;;) {
      const first = this.slots[slot];
      if (first === 0) return out;
      if (this.nameIs(first, name)) {
        for (let i = first; i !== 0; i = this.nextSame[i]) out.push(i);
        return out;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** The named symbols with the same name as symbol `i` of `other`. */
  namedLike(other: Kelf, i: number): number[] {
    const out: number[] = [];
    const os = other.e.symNameStart(i);
    const oe = other.e.symNameEnd(os);
    let slot = hashBytes(other.buf, os, oe) & this.mask;
    for (;;) {
      const first = this.slots[slot];
      if (first === 0) return out;
      const fs = this.e.symNameStart(first);
      if (sameBytes(this.buf, fs, this.e.symNameEnd(fs), other.buf, os, oe)) {
        for (let j = first; j !== 0; j = this.nextSame[j]) out.push(j);
        return out;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** The named symbol called like `i` of `other` when there is exactly one (0 otherwise), without allocating. */
  uniqueLike(other: Kelf, i: number): number {
    const os = other.e.symNameStart(i);
    const oe = other.e.symNameEnd(os);
    let slot = hashBytes(other.buf, os, oe) & this.mask;
    for (;;) {
      const first = this.slots[slot];
      if (first === 0) return 0;
      const fs = this.e.symNameStart(first);
      if (sameBytes(this.buf, fs, this.e.symNameEnd(fs), other.buf, os, oe)) return this.nextSame[first] === 0 ? first : 0;
      slot = (slot + 1) & this.mask;
    }
  }

  /** True when symbol `i`'s name is `name`. */
  nameIs(i: number, name: string): boolean {
    const s = this.e.symNameStart(i);
    const end = this.e.symNameEnd(s);
    if (end - s !== name.length) return false;
    const b = this.buf;
    for (let k = 0; k < name.length; k++) if (b[s + k] !== name.charCodeAt(k)) return false;
    return true;
  }

  /** True when section `s`'s name ends with `.` + the name of symbol `i`, or is that name. */
  secNamedAfter(s: number, i: number): boolean {
    const ns = this.e.nameStart(s);
    if (ns < 0) return false;
    const ne = this.e.nameEnd(ns);
    const ys = this.e.symNameStart(i);
    const ye = this.e.symNameEnd(ys);
    const len = ye - ys;
    const b = this.buf;
    if (ne - ns < len) return false;
    for (let k = 0; k < len; k++) if (b[ne - len + k] !== b[ys + k]) return false;
    return ne - ns === len || b[ne - len - 1] === 0x2e;
  }

  /** The function or data symbol of `sec` covering `off`, by binary search (0 when none). */
  symbolAt(sec: number, off: number): number {
    const a = this.secSyms;
    const from = this.secSymStart[sec];
    let lo = from;
    let hi = this.secSymStart[sec + 1] - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.e.symValue(a[mid]) <= off) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Several symbols may start at the same place (aliases): prefer a sized one covering off.
    for (let k = best; k >= from && k > best - 4; k--) {
      const s = a[k];
      const v = this.e.symValue(s);
      const z = this.e.symSize(s);
      if (v <= off && (off < v + z || (z === 0 && off === v))) return s;
    }
    return 0;
  }

  /** The symbols of section `sec` (sorted by value). */
  symsOf(sec: number): Int32Array { return this.secSyms.subarray(this.secSymStart[sec], this.secSymStart[sec + 1]); }
  symCount(sec: number): number { return this.secSymStart[sec + 1] - this.secSymStart[sec]; }

  /** The first relocation of `sec` at or after offset `from`. */
  relFirst(sec: number, from: number): number {
    let lo = this.relStart[sec];
    let hi = this.relStart[sec + 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.relOff[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** Relocation indices of `sec` with offsets in [from, to): [first, end). */
  relRange(sec: number, from: number, to: number): [number, number] {
    const a = this.relFirst(sec, from);
    const limit = this.relStart[sec + 1];
    let b = a;
    while (b < limit && this.relOff[b] < to) b++;
    return [a, b];
  }
  relCount(sec: number): number { return this.relStart[sec + 1] - this.relStart[sec]; }
  /** The exact addend of relocation `j` (bigint). */
  addendExact(j: number): bigint {
    return this.bigAddends.get(j) ?? BigInt(this.relAdd[j]);
  }
  /** Rewrites relocation `j` to `sym + addend` (canonical form). */
  rewrite(j: number, sym: number, addend: number): void {
    this.relSym[j] = sym;
    setAddend(this, j, addend);
    this.bigAddends.delete(j);
  }

  /** `file: sym+0xoff` for messages. */
  where(sec: number, off: number): string {
    const s = this.symbolAt(sec, off);
    if (s) return `${this.file}: ${this.symName(s)}+0x${(off - this.value(s)).toString(16)}`;
    return `${this.file}: ${this.secName(sec)}+0x${off.toString(16)}`;
  }
}

/** The orig/patched pair the passes work on. */
export interface Pair {
  orig: Kelf;
  patched: Kelf;
}
