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
import { ElfFormatError } from '../../elf/errors.js';
import {
  SHF_ALLOC, SHF_EXECINSTR, SHF_STRINGS, SHF_WRITE, SHN_UNDEF, SHT_GROUP, SHT_NOBITS, SHT_REL, SHT_RELA,
  SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STB_LOCAL, STT_FILE, STT_FUNC, STT_OBJECT, STT_SECTION, STT_TLS,
} from '../../elf/constants.js';
import { C_UNREAD, sectionClass } from './sections.js';

/** Symbol and section status. */
export const SAME = 0;
export const CHANGED = 1;
export const NEW = 2;

/** Symbol flags. */
export const F_INCLUDE = 1;
export const F_IGNORED = 2;
export const F_FORCED = 4;
export const F_LINE_ONLY = 8;
/** Named: a symbol the correlation pass matches by name (not a section or file symbol, name not empty). */
export const F_NAMED = 16;
/** A changed function without __fentry__ that the patch replaces through its callers (they call its copy). */
export const F_VIA_CALLERS = 32;

const TWO32 = 0x100000000;

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
  readonly bigAddends = new Map<number, bigint>();

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
    const buf = e.buf;
    this.e = e;
    this.buf = buf;
    const nsec = e.shnum;
    const nsym = e.nsym;
    this.nsec = nsec;
    this.nsym = nsym;
    this.secTwin = new Int32Array(nsec);
    this.secRela = new Int32Array(nsec);
    this.secBundled = new Int32Array(nsec);
    this.secIgnored = new Uint8Array(nsec);
    this.secClass = new Uint16Array(nsec);
    this.symSec = new Int32Array(nsym);
    this.symTwin = new Int32Array(nsym);
    this.symStatus = new Uint8Array(nsym).fill(NEW);
    this.symFlags = new Uint8Array(nsym);

    // Sections: classes and relocation links.
    let nrel = 0;
    const relCount = new Int32Array(nsec + 1);
    for (let s = 1; s < nsec; s++) {
      this.secClass[s] = this.plainSection(s) ? 0 : sectionClass(e.name(s));
      const t = e.type(s);
      if ((t === SHT_RELA || t === SHT_REL) && e.info(s) !== 0) {
        const base = e.info(s);
        this.secRela[base] = s;
      }
    }
    for (let s = 1; s < nsec; s++) {
      const r = this.secRela[s];
      if (r !== 0 && (this.secClass[s] & C_UNREAD) === 0) {
        const n = e.relocationSectionCount(r);
        relCount[s] = n;
        nrel += n;
      }
    }
    // A group section's signature must be a symbol (as ElfObject.read checks).
    for (let s = 1; s < nsec; s++) {
      if (e.type(s) !== SHT_GROUP) continue;
      const sig = e.info(s);
      if (e.link(s) !== e.symtab) throw new ElfFormatError(file, `section group ${s} (${e.name(s)})`, 'sh_link is not the symbol table', e.headerOffset(s));
      if (sig === 0 || sig >= nsym) throw new ElfFormatError(file, `section group ${s} (${e.name(s)})`, `signature symbol ${sig} is not a valid symbol`, e.headerOffset(s));
    }

    // Symbols: sections, section symbols, names.
    let source: string | null = null;
    const perSec = new Int32Array(nsec + 1);
    let named = 0;
    for (let i = 1; i < nsym; i++) {
      const t = e.symType(i);
      if (t !== STT_FILE && t !== STT_SECTION) named++;
    }
    let size = 16;
    while (size < named * 1.5) size <<= 1;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.nextSame = new Int32Array(nsym);
    const tail = new Int32Array(nsym);
    for (let i = 1; i < nsym; i++) {
      const sec = e.symSpecial(i) ? 0 : e.symShndx(i);
      this.symSec[i] = sec;
      const type = e.symType(i);
      if (type === STT_FILE) {
        if (source === null) source = e.symName(i);
        continue;
      }
      if (type === STT_SECTION) continue;
      const start = e.symNameStart(i);
      if (buf[start] === 0 || e.symNameEnd(start) === start) continue;
      this.symFlags[i] |= F_NAMED;
      if (sec !== 0) perSec[sec]++;
      // Insert into the name hash.
      const end = e.symNameEnd(start);
      let slot = hashBytes(buf, start, end) & this.mask;
      for (;;) {
        const first = this.slots[slot];
        if (first === 0) {
          this.slots[slot] = i;
          tail[i] = i;
          break;
        }
        const fs = e.symNameStart(first);
        if (sameBytes(buf, fs, e.symNameEnd(fs), buf, start, end)) {
          this.nextSame[tail[first]] = i;
          tail[first] = i;
          break;
        }
        slot = (slot + 1) & this.mask;
      }
    }
    this.sourceFile = source;

    // Per-section symbol lists, sorted by value then index.
    this.secSymStart = new Int32Array(nsec + 1);
    for (let s = 1; s <= nsec; s++) this.secSymStart[s] = this.secSymStart[s - 1] + perSec[s - 1];
    this.secSyms = new Int32Array(this.secSymStart[nsec]);
    const fill = this.secSymStart.slice(0, nsec);
    for (let i = 1; i < nsym; i++) {
      const sec = this.symSec[i];
      if (sec !== 0 && (this.symFlags[i] & F_NAMED) !== 0) this.secSyms[fill[sec]++] = i;
    }
    for (let s = 1; s < nsec; s++) {
      const a = this.secSymStart[s];
      const b = this.secSymStart[s + 1];
      if (b - a < 2) continue;
      let sorted = true;
      for (let k = a + 1; k < b; k++) if (e.symValue(this.secSyms[k]) < e.symValue(this.secSyms[k - 1])) { sorted = false; break; }
      if (!sorted) {
        const list = Array.from(this.secSyms.subarray(a, b)).sort((x, y) => e.symValue(x) - e.symValue(y) || x - y);
        this.secSyms.set(list, a);
      }
    }

    // Relocations.
    this.relStart = new Int32Array(nsec + 1);
    for (let s = 1; s <= nsec; s++) this.relStart[s] = this.relStart[s - 1] + relCount[s - 1];
    this.relOff = new Uint32Array(nrel);
    this.relType = new Uint8Array(nrel);
    this.relSym = new Int32Array(nrel);
    this.relAdd = new Int32Array(nrel);
    const CHUNK = 4096;
    for (let s = 1; s < nsec; s++) {
      const n = relCount[s];
      if (n === 0) continue;
      const r = this.secRela[s];
      const rela = e.type(r) === SHT_RELA;
      const stride = rela ? 24 : 16;
      const at = this.relStart[s];
      let sorted = true;
      for (let k0 = 0; k0 < n; k0 += CHUNK) {
        const m = Math.min(CHUNK, n - k0);
        const b = e.readRegion(e.offset(r) + k0 * stride, m * stride);
        for (let q = 0; q < m; q++) {
          const o = q * stride;
          const j = at + k0 + q;
          const off = b.readUInt32LE(o + 4) * TWO32 + b.readUInt32LE(o);
          if (off >= TWO32) throw new ElfFormatError(file, `relocation section ${r} (${e.name(r)})`, `entry ${k0 + q} has offset 0x${off.toString(16)}, past 4 GiB`);
          this.relOff[j] = off;
          const type = b.readUInt32LE(o + 8);
          if (type > 0xff && this.relType instanceof Uint8Array) this.relType = Uint32Array.from(this.relType);
          this.relType[j] = type;
          const si = b.readUInt32LE(o + 12);
          e.checkRelocationSymbol(r, k0 + q, si);
          this.relSym[j] = si;
          if (rela) {
            const hi = b.readInt32LE(o + 20);
            this.setAddend(j, hi * TWO32 + b.readUInt32LE(o + 16));
            if (hi > 0x1fffff || hi < -0x200000) this.bigAddends.set(j, b.readBigInt64LE(o + 16));
          }
          if (j > at && this.relOff[j] < this.relOff[j - 1]) sorted = false;
        }
      }
      if (!sorted) this.sortRelocs(at, at + n);
    }
  }

  /**
   * True for the bulk of a `-ffunction-sections -fdata-sections` object,
   * decided on the name's bytes without making a string: `.text.*` (but
   * not `.text.startup*`/`.text.exit*`), `.bss.*`, `.rodata.*` and
   * relocation sections, whose class is 0.
   */
  private plainSection(s: number): boolean {
    const t = this.e.type(s);
    if (t === SHT_RELA || t === SHT_REL) return true;
    const a = this.e.nameStart(s);
    if (a < 0) return false;
    const b = this.buf;
    if (startsWith(b, a, '.text.')) return !startsWith(b, a, '.text.startup') && !startsWith(b, a, '.text.exit');
    return startsWith(b, a, '.bss.') || startsWith(b, a, '.rodata.');
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

  private setAddend(j: number, a: number): void {
    if ((a | 0) !== a && this.relAdd instanceof Int32Array) this.relAdd = Float64Array.from(this.relAdd);
    this.relAdd[j] = a;
  }

  /** Closes the file when it was opened on demand. */
  close(): void {
    this.e.close();
  }

  private sortRelocs(a: number, b: number): void {
    const idx = Array.from({ length: b - a }, (_, k) => a + k).sort((x, y) => this.relOff[x] - this.relOff[y] || x - y);
    const off = idx.map((j) => this.relOff[j]);
    const type = idx.map((j) => this.relType[j]);
    const sym = idx.map((j) => this.relSym[j]);
    const add = idx.map((j) => this.relAdd[j]);
    const big = new Map<number, bigint>();
    idx.forEach((j, k) => { const v = this.bigAddends.get(j); if (v !== undefined) big.set(a + k, v); });
    for (let j = a; j < b; j++) this.bigAddends.delete(j);
    for (const [j, v] of big) this.bigAddends.set(j, v);
    this.relOff.set(off, a);
    this.relType.set(type, a);
    this.relSym.set(sym, a);
    this.relAdd.set(add, a);
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
    this.setAddend(j, addend);
    this.bigAddends.delete(j);
  }

  /** `file: sym+0xoff` for messages. */
  where(sec: number, off: number): string {
    const s = this.symbolAt(sec, off);
    if (s) return `${this.file}: ${this.symName(s)}+0x${(off - this.value(s)).toString(16)}`;
    return `${this.file}: ${this.secName(sec)}+0x${off.toString(16)}`;
  }
}

/** True when the bytes at `at` start with `prefix` (ASCII). */
function startsWith(b: Buffer, at: number, prefix: string): boolean {
  if (at + prefix.length > b.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[at + k] !== prefix.charCodeAt(k)) return false;
  return true;
}

/** FNV-1a over bytes [s, e). */
export function hashBytes(b: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let k = s; k < e; k++) h = Math.imul(h ^ b[k], 0x01000193);
  return h >>> 0;
}

function hashString(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ (name.charCodeAt(k) & 0xff), 0x01000193);
  return h >>> 0;
}

export function sameBytes(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let k = 0; k < ae - as; k++) if (a[as + k] !== b[bs + k]) return false;
  return true;
}

/** The orig/patched pair the passes work on. */
export interface Pair {
  orig: Kelf;
  patched: Kelf;
}
