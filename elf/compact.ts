/**
 * A compact, zero-copy view of an ELF64 relocatable object for tools that
 * walk every section, symbol and relocation of large objects (the diff):
 * section headers, symbols and relocations are read by index straight from
 * the file buffer, nothing is materialized per entry. Validation matches
 * `ElfFile`/`ElfObject.read` (bounds, links, symbol and section indices), so
 * a malformed file fails here with the same kind of one-line error.
 *
 * `CompactElf.open` reads a file on demand: the buffer spans the whole file
 * but only the headers, the symbol and name tables, and the sections whose
 * contents are asked for (`data`, `ensure`) are read into it, so the pages
 * of sections never looked at (debug info, relocation tables copied
 * elsewhere through `readRegion`'s read-ahead window) are never touched.
 */
import {
  RELA_SIZE, REL_SIZE, SHDR_SIZE, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_DYNSYM, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA,
  SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, SHF_INFO_LINK, SYM_SIZE,
} from './constants.js';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ElfFormatError } from './errors.js';
import { readHeader, type ElfHeader } from './reader.js';

const TWO32 = 0x100000000;
const WINDOW = 64 * 1024;

export class CompactElf {
  readonly header: ElfHeader;
  /** Section count (section 0 included), extended numbering resolved. */
  readonly shnum: number;
  readonly shstrndx: number;
  /** The SHT_SYMTAB section (0 when none). */
  readonly symtab: number;
  /** Symbol count (symbol 0 included). */
  readonly nsym: number;
  private readonly shoff: number;
  private readonly symOff: number;
  private readonly strOff: number;
  private readonly strSize: number;
  private readonly namesOff: number;
  private readonly namesSize: number;
  private readonly xindex: Buffer | null;
  // Section header fields, by index (offsets and sizes in 32 bits, alignments and entry sizes in 8, widened to 64-bit floats when a value does not fit).
  private readonly shName: Uint32Array;
  private readonly shType: Uint32Array;
  private readonly shFlags: Uint32Array;
  private readonly shLink: Uint32Array;
  private readonly shInfo: Uint32Array;
  private shOffset: Uint32Array | Float64Array;
  private shSize: Uint32Array | Float64Array;
  private shAlign: Uint8Array | Float64Array;
  private shEntsize: Uint8Array | Float64Array;
  /** For a file read on demand: its descriptor, and which sections are in the buffer. */
  private fd: number | null;
  private loaded: Uint8Array | null = null;
  private window: Buffer | null = null;
  private windowAt = 0;
  private windowLen = 0;

  private constructor(readonly buf: Buffer, readonly file: string, fd: number | null = null) {
    this.fd = fd;
    this.fill(0, 64);
    this.header = readHeader(buf, file);
    const h = this.header;
    let shnum = h.e_shnum;
    let shstrndx = h.e_shstrndx;
    if (h.e_shoff !== 0) {
      if (h.e_shentsize !== SHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `e_shentsize is ${h.e_shentsize}, expected ${SHDR_SIZE}`, 0x3a);
      if (h.e_shoff > buf.length || buf.length - h.e_shoff < SHDR_SIZE) throw new ElfFormatError(file, 'section header table', 'starts past the end of the file', h.e_shoff);
      this.fill(h.e_shoff, SHDR_SIZE);
      if (shnum === 0) shnum = this.u64(h.e_shoff + 0x20, 'section header 0 (sh_size)');
      if (shstrndx === SHN_XINDEX) shstrndx = buf.readUInt32LE(h.e_shoff + 0x28);
      if (shnum > (buf.length - h.e_shoff) / SHDR_SIZE) throw new ElfFormatError(file, 'section header table', `${shnum} headers do not fit in the file`, h.e_shoff);
    } else {
      if (shnum !== 0) throw new ElfFormatError(file, 'ELF header', `e_shnum is ${shnum} but e_shoff is 0`, 0x3c);
      shstrndx = 0;
    }
    if (shstrndx !== 0 && shstrndx >= shnum) throw new ElfFormatError(file, 'ELF header', `section name table index ${shstrndx} is not below the section count ${shnum}`, 0x3e);
    this.shoff = h.e_shoff;
    this.shnum = shnum;
    this.shstrndx = shstrndx;
    if (fd !== null) this.loaded = new Uint8Array(shnum);

    // Every header, read in chunks into typed arrays (the table itself is not kept):
    // flags in 32 bits, 64-bit fields exact, contents within the file, links valid.
    this.shName = new Uint32Array(shnum);
    this.shType = new Uint32Array(shnum);
    this.shFlags = new Uint32Array(shnum);
    this.shLink = new Uint32Array(shnum);
    this.shInfo = new Uint32Array(shnum);
    this.shOffset = new Uint32Array(shnum);
    this.shSize = new Uint32Array(shnum);
    this.shAlign = new Uint8Array(shnum);
    this.shEntsize = new Uint8Array(shnum);
    let symtab = 0;
    let xindex = 0;
    const CHUNK = 1024;
    const u64 = (b: Buffer, at: number, i: number, field: string): number => {
      const hi = b.readUInt32LE(at + 4);
      if (hi > 0x1fffff) throw new ElfFormatError(file, `section header ${i} (${field})`, `value 0x${b.readBigUInt64LE(at).toString(16)} is too large`, this.shoff + i * SHDR_SIZE);
      return hi * TWO32 + b.readUInt32LE(at);
    };
    for (let i0 = 0; i0 < shnum; i0 += CHUNK) {
      const m = Math.min(CHUNK, shnum - i0);
      const b = this.readRegion(this.shoff + i0 * SHDR_SIZE, m * SHDR_SIZE);
      for (let q = 0; q < m; q++) {
        const i = i0 + q;
        const o = q * SHDR_SIZE;
        const at = this.shoff + i * SHDR_SIZE;
        if (b.readUInt32LE(o + 0x0c) !== 0) throw new ElfFormatError(file, `section header ${i}`, `sh_flags 0x${b.readBigUInt64LE(o + 0x08).toString(16)} has bits above 32`, at + 0x08);
        const off = u64(b, o + 0x18, i, 'sh_offset');
        const size = u64(b, o + 0x20, i, 'sh_size');
        const align = u64(b, o + 0x30, i, 'sh_addralign');
        const entsize = u64(b, o + 0x38, i, 'sh_entsize');
        const type = b.readUInt32LE(o + 4);
        if (i > 0 && type !== SHT_NOBITS && type !== SHT_NULL && (off > buf.length || size > buf.length - off)) {
          throw new ElfFormatError(file, `section ${i}`, `contents (offset 0x${off.toString(16)}, size 0x${size.toString(16)}) extend past the end of the file`, at);
        }
        const link = b.readUInt32LE(o + 0x28);
        const info = b.readUInt32LE(o + 0x2c);
        const flags = b.readUInt32LE(o + 8);
        this.shName[i] = b.readUInt32LE(o);
        this.shType[i] = type;
        this.shFlags[i] = flags;
        this.shLink[i] = link;
        this.shInfo[i] = info;
        this.setWide(i, off, size, align, entsize);
        if (i === 0) continue;
        if (link !== 0 && link >= shnum) throw new ElfFormatError(file, `section ${i}`, `sh_link ${link} is not a valid section`, at);
        if ((type === SHT_RELA || type === SHT_REL || (flags & SHF_INFO_LINK) !== 0) && info !== 0 && info >= shnum) {
          throw new ElfFormatError(file, `section ${i}`, `sh_info ${info} is not a valid section`, at);
        }
        if (type === SHT_SYMTAB && symtab === 0) symtab = i;
      }
    }
    if (shstrndx !== 0) {
      if (this.type(shstrndx) === SHT_NOBITS) {
        this.namesOff = 0;
        this.namesSize = 0;
      } else {
        if (this.type(shstrndx) !== SHT_STRTAB) throw new ElfFormatError(file, `section name string table (section ${shstrndx})`, `has type ${this.type(shstrndx)}, not SHT_STRTAB`, this.headerOffset(shstrndx));
        this.namesOff = this.offset(shstrndx);
        this.namesSize = this.size(shstrndx);
        this.ensure(shstrndx);
      }
    } else {
      this.namesOff = 0;
      this.namesSize = 0;
    }
    this.symtab = symtab;
    if (symtab !== 0) {
      if (this.entsize(symtab) !== SYM_SIZE) throw new ElfFormatError(file, `symbol table (section ${symtab})`, `sh_entsize is ${this.entsize(symtab)}, expected ${SYM_SIZE}`, this.headerOffset(symtab));
      const strndx = this.link(symtab);
      if (strndx === symtab) throw new ElfFormatError(file, `symbol table (section ${symtab})`, 'sh_link points at itself', this.headerOffset(symtab));
      if (this.type(strndx) !== SHT_STRTAB) throw new ElfFormatError(file, `string table of symbol table ${symtab} (section ${strndx})`, `has type ${this.type(strndx)}, not SHT_STRTAB`, this.headerOffset(strndx));
      this.symOff = this.offset(symtab);
      this.nsym = Math.floor(this.size(symtab) / SYM_SIZE);
      this.strOff = this.offset(strndx);
      this.strSize = this.size(strndx);
      this.ensure(symtab);
      this.ensure(strndx);
      for (let i = 1; i < shnum; i++) if (this.type(i) === SHT_SYMTAB_SHNDX && this.link(i) === symtab) { xindex = i; break; }
    } else {
      this.symOff = 0;
      this.nsym = 0;
      this.strOff = 0;
      this.strSize = 0;
    }
    if (xindex) this.ensure(xindex);
    this.xindex = xindex ? this.data(xindex) : null;
    // Symbols: names inside the string table, section indices valid.
    for (let i = 1; i < this.nsym; i++) {
      const so = this.symOff + i * SYM_SIZE;
      const name = buf.readUInt32LE(so);
      if (name >= this.strSize && name !== 0) throw new ElfFormatError(file, `symbol ${i} (section ${symtab})`, `st_name 0x${name.toString(16)} is outside the string table`, so);
      if (!this.symSpecial(i)) {
        const idx = this.symShndx(i);
        if (idx === 0 || idx >= shnum) throw new ElfFormatError(file, `symbol ${i} (${this.symName(i)})`, `section index ${idx} is not a valid section`);
      }
    }
  }

  private setWide(i: number, off: number, size: number, align: number, entsize: number): void {
    if ((off > 0xffffffff || size > 0xffffffff) && this.shOffset instanceof Uint32Array) {
      this.shOffset = Float64Array.from(this.shOffset);
      this.shSize = Float64Array.from(this.shSize);
    }
    if (align > 0xff && this.shAlign instanceof Uint8Array) this.shAlign = Float64Array.from(this.shAlign);
    if (entsize > 0xff && this.shEntsize instanceof Uint8Array) this.shEntsize = Float64Array.from(this.shEntsize);
    this.shOffset[i] = off;
    this.shSize[i] = size;
    this.shAlign[i] = align;
    this.shEntsize[i] = entsize;
  }

  /** A view of a file read whole. */
  static parse(buf: Buffer, file: string): CompactElf {
    return new CompactElf(buf, file);
  }

  /** Opens a file to read on demand; `close` it when done. */
  static open(file: string): CompactElf {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      // Not zero-filled and not pooled: pages never read into stay untouched.
      return new CompactElf(Buffer.allocUnsafeSlow(size), file, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Closes the file of `open` (contents already read stay available). */
  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
      this.window = null;
    }
  }

  /** Reads [off, off+len) of the file into the buffer (clamped to the file). */
  private fill(off: number, len: number): void {
    if (this.fd === null) return;
    const end = Math.min(this.buf.length, off + len);
    let at = off;
    while (at < end) {
      const n = readSync(this.fd, this.buf, at, end - at, at);
      if (n <= 0) throw new ElfFormatError(this.file, 'file', `short read at offset 0x${at.toString(16)}`);
      at += n;
    }
  }

  /** Makes sure section `i`'s contents are in the buffer. */
  ensure(i: number): void {
    if (this.loaded === null || this.loaded[i]) return;
    this.loaded[i] = 1;
    const t = this.type(i);
    if (t === SHT_NOBITS || t === SHT_NULL) return;
    this.fill(this.offset(i), this.size(i));
  }

  /** True when section `i`'s contents are in the buffer (always for a file read whole). */
  isLoaded(i: number): boolean {
    return this.loaded === null || this.loaded[i] === 1;
  }

  /**
   * Bytes [off, off+len) of the file: a view of the buffer for a file read
   * whole; for a file read on demand, a view of a 64 KiB read-ahead window
   * (sequential reads of neighbouring regions share one system call) that
   * stays valid until the next `readRegion`.
   */
  readRegion(off: number, len: number): Buffer {
    if (this.fd === null) return this.buf.subarray(off, off + len);
    const w = this.window;
    if (w && off >= this.windowAt && off + len <= this.windowAt + this.windowLen) return w.subarray(off - this.windowAt, off - this.windowAt + len);
    const size = Math.max(WINDOW, len);
    const buf = w && w.length >= size ? w : Buffer.allocUnsafeSlow(size);
    const want = Math.min(size, this.buf.length - off);
    let at = 0;
    while (at < want) {
      const n = readSync(this.fd, buf, at, want - at, off + at);
      if (n <= 0) break;
      at += n;
    }
    if (at < len) throw new ElfFormatError(this.file, 'file', `short read at offset 0x${(off + at).toString(16)}`);
    this.window = buf;
    this.windowAt = off;
    this.windowLen = at;
    return buf.subarray(0, len);
  }


  /** An unsigned 64-bit field that must fit 53 bits; `what` names it in the error (a string, or the section index and field). */
  private u64(off: number, what: string | number, field = ''): number {
    const hi = this.buf.readUInt32LE(off + 4);
    if (hi > 0x1fffff) {
      const name = typeof what === 'number' ? `section header ${what} (${field})` : what;
      throw new ElfFormatError(this.file, name, `value 0x${this.buf.readBigUInt64LE(off).toString(16)} is too large`, off);
    }
    return hi * TWO32 + this.buf.readUInt32LE(off);
  }

  // Section headers, by index.
  headerOffset(i: number): number { return this.shoff + i * SHDR_SIZE; }
  type(i: number): number { return this.shType[i]; }
  flags(i: number): number { return this.shFlags[i]; }
  offset(i: number): number { return this.shOffset[i]; }
  /** sh_size (also for SHT_NOBITS). */
  size(i: number): number { return this.shSize[i]; }
  link(i: number): number { return this.shLink[i]; }
  info(i: number): number { return this.shInfo[i]; }
  align(i: number): number { return this.shAlign[i]; }
  entsize(i: number): number { return this.shEntsize[i]; }
  /** File offset of the section's name (for byte comparisons); -1 when outside the name table. */
  nameStart(i: number): number {
    const n = this.shName[i];
    if (this.namesSize === 0) return n === 0 ? -2 : -1;
    return n < this.namesSize ? this.namesOff + n : -1;
  }
  /** File offset of the end (NUL) of a name starting at `start` in the section name table. */
  nameEnd(start: number): number {
    if (start < 0) return start;
    const end = this.namesOff + this.namesSize;
    const nul = this.buf.indexOf(0, start);
    return nul < 0 || nul > end ? end : nul;
  }
  name(i: number): string {
    const s = this.nameStart(i);
    if (s === -2) return '';
    if (s === -1) throw new ElfFormatError(this.file, `section header ${i}`, `sh_name 0x${this.shName[i].toString(16)} is outside the section name table`, this.headerOffset(i));
    return this.buf.toString('latin1', s, this.nameEnd(s));
  }
  /** The contents as a view (empty for NOBITS). */
  data(i: number): Buffer {
    const t = this.type(i);
    if (t === SHT_NOBITS || t === SHT_NULL) return this.buf.subarray(0, 0);
    this.ensure(i);
    const off = this.offset(i);
    return this.buf.subarray(off, off + this.size(i));
  }
  /** The contents' size in the file (0 for NOBITS). */
  fileSize(i: number): number {
    const t = this.type(i);
    return t === SHT_NOBITS || t === SHT_NULL ? 0 : this.size(i);
  }

  // Symbols, by index (1..nsym-1).
  private so(i: number): number { return this.symOff + i * SYM_SIZE; }
  symInfo(i: number): number { return this.buf[this.so(i) + 4]; }
  symBind(i: number): number { return this.buf[this.so(i) + 4] >> 4; }
  symType(i: number): number { return this.buf[this.so(i) + 4] & 0xf; }
  symOther(i: number): number { return this.buf[this.so(i) + 5]; }
  /** The raw 16-bit st_shndx. */
  symRawShndx(i: number): number { return this.buf.readUInt16LE(this.so(i) + 6); }
  /** True for SHN_UNDEF and the reserved indices other than SHN_XINDEX. */
  symSpecial(i: number): boolean { const r = this.symRawShndx(i); return r === SHN_UNDEF || (r >= SHN_LORESERVE && r !== SHN_XINDEX); }
  /** The defining section (SHN_XINDEX resolved); the raw value for special indices. */
  symShndx(i: number): number {
    const r = this.symRawShndx(i);
    if (r !== SHN_XINDEX) return r;
    if (!this.xindex || (i + 1) * 4 > this.xindex.length) throw new ElfFormatError(this.file, `symbol ${i} (section ${this.symtab})`, 'st_shndx is SHN_XINDEX but there is no SHT_SYMTAB_SHNDX entry for it');
    return this.xindex.readUInt32LE(i * 4);
  }
  /** st_value as a number (exact below 2^53). */
  symValue(i: number): number { const o = this.so(i) + 8; return this.buf.readUInt32LE(o + 4) * TWO32 + this.buf.readUInt32LE(o); }
  symValueExact(i: number): bigint { return this.buf.readBigUInt64LE(this.so(i) + 8); }
  symSize(i: number): number { const o = this.so(i) + 16; return this.buf.readUInt32LE(o + 4) * TWO32 + this.buf.readUInt32LE(o); }
  symSizeExact(i: number): bigint { return this.buf.readBigUInt64LE(this.so(i) + 16); }
  /** File offset of the symbol's name; its end is `symNameEnd`. */
  symNameStart(i: number): number { return this.strOff + this.buf.readUInt32LE(this.so(i)); }
  symNameEnd(start: number): number {
    const end = this.strOff + this.strSize;
    const nul = this.buf.indexOf(0, start);
    return nul < 0 || nul > end ? end : nul;
  }
  symName(i: number): string {
    if (i === 0 || this.strSize === 0) return '';
    const s = this.symNameStart(i);
    return this.buf.toString('latin1', s, this.symNameEnd(s));
  }

  /** Checks a relocation section's header (entry size, symbol table); returns its entry count. */
  relocationSectionCount(i: number): number {
    const t = this.type(i);
    const want = t === SHT_RELA ? RELA_SIZE : REL_SIZE;
    if (this.entsize(i) !== want) throw new ElfFormatError(this.file, `relocation section ${i}`, `sh_entsize is ${this.entsize(i)}, expected ${want}`, this.headerOffset(i));
    const link = this.link(i);
    if (link !== this.symtab && link !== 0 && this.type(link) !== SHT_DYNSYM) {
      throw new ElfFormatError(this.file, `relocation section ${i} (${this.name(i)})`, `sh_link ${link} is not a symbol table`, this.headerOffset(i));
    }
    return Math.floor(this.size(i) / want);
  }

  /** Checks the symbol index `si` of entry `k` of relocation section `i`. */
  checkRelocationSymbol(i: number, k: number, si: number): void {
    if (si === 0) return;
    const at = this.offset(i) + k * this.entsize(i);
    if (this.link(i) !== this.symtab) throw new ElfFormatError(this.file, `relocation section ${i} (${this.name(i)})`, `entry ${k} names symbol ${si} of a table kelp does not model`, at);
    if (si >= this.nsym) throw new ElfFormatError(this.file, `relocation section ${i} (${this.name(i)})`, `entry ${k} names symbol ${si}, past the symbol count ${this.nsym}`, at);
  }

  /** Checks a relocation section and every entry's symbol index; returns its entry count. */
  relocationCount(i: number): number {
    const n = this.relocationSectionCount(i);
    for (let k = 0; k < n; k++) this.checkRelocationSymbol(i, k, this.relSymbol(i, k));
    return n;
  }
  private relBase(sec: number, k: number): number { this.ensure(sec); return this.offset(sec) + k * (this.type(sec) === SHT_RELA ? RELA_SIZE : REL_SIZE); }
  /** r_offset as a number (exact below 2^53). */
  relOffset(sec: number, k: number): number { const o = this.relBase(sec, k); return this.buf.readUInt32LE(o + 4) * TWO32 + this.buf.readUInt32LE(o); }
  relType(sec: number, k: number): number { return this.buf.readUInt32LE(this.relBase(sec, k) + 8); }
  relSymbol(sec: number, k: number): number { return this.buf.readUInt32LE(this.relBase(sec, k) + 12); }
  /** r_addend as a number; `relAddendExact` when it may not fit 53 bits. */
  relAddend(sec: number, k: number): number {
    if (this.type(sec) !== SHT_RELA) return 0;
    const o = this.relBase(sec, k) + 16;
    return this.buf.readInt32LE(o + 4) * TWO32 + this.buf.readUInt32LE(o);
  }
  relAddendExact(sec: number, k: number): bigint { return this.type(sec) === SHT_RELA ? this.buf.readBigInt64LE(this.relBase(sec, k) + 16) : 0n; }
}
