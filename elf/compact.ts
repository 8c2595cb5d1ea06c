/**
 * CompactElf, a struct-of-arrays view of an ELF64 relocatable object, for
 * the diff, which walks every section, symbol and relocation of large
 * objects (dump and check use ElfFile, link and the writer ElfObject; see
 * headers.ts): section headers sit in typed arrays, symbols and relocations
 * are read by index straight from the file's bytes, nothing is materialized
 * per entry. The header and section table are parsed by headers.ts, as for
 * ElfFile; the rest is validated eagerly with ElfObject.read's checks and
 * messages (bounds, links, symbol and section indices), so a malformed file
 * fails here with the same one-line error.
 *
 * `CompactElf.open` reads a file on demand (ByteSource): only the headers,
 * the symbol and name tables, and the sections whose contents are asked for
 * (`data`, `ensure`) are read, so the pages of sections never looked at
 * (debug info, relocation tables copied elsewhere through `readRegion`) are
 * never touched.
 */
import {
  RELA_SIZE, REL_SIZE, SHDR_SIZE, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_DYNSYM, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA,
  SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, SHF_INFO_LINK, SYM_SIZE,
} from './constants.js';
import { ElfFormatError } from './errors.js';
import { forEachSectionHeader, readHeader, readSectionTable, type ElfHeader } from './headers.js';
import { ByteSource } from './source.js';

const TWO32 = 0x100000000;

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
  /** The file's bytes (read whole, or on demand). */
  private readonly src: ByteSource;
  readonly buf: Buffer;
  /** For a file read on demand: which sections' contents are in the buffer. */
  private readonly loaded: Uint8Array | null;

  private constructor(src: ByteSource, readonly file: string) {
    this.src = src;
    const buf = src.buf;
    this.buf = buf;
    this.header = readHeader(src, file);
    const { shoff, shnum, shstrndx } = readSectionTable(src, file, this.header);
    this.shoff = shoff;
    this.shnum = shnum;
    this.shstrndx = shstrndx;
    this.loaded = src.onDemand ? new Uint8Array(shnum) : null;

    // Every header into typed arrays (the table itself is not kept): contents within the file.
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
    forEachSectionHeader(src, file, { shoff, shnum, shstrndx, phnum: 0 }, (h) => {
      const i = h.index;
      const type = h.sh_type;
      const off = h.sh_offset;
      const size = h.sh_size;
      if (i > 0 && type !== SHT_NOBITS && type !== SHT_NULL && (off > buf.length || size > buf.length - off)) {
        throw new ElfFormatError(file, `section ${i}`, `contents (offset 0x${off.toString(16)}, size 0x${size.toString(16)}) extend past the end of the file`, h.headerOffset);
      }
      this.shName[i] = h.sh_name;
      this.shType[i] = type;
      this.shFlags[i] = h.sh_flags;
      this.shLink[i] = h.sh_link;
      this.shInfo[i] = h.sh_info;
      this.setWide(i, off, size, h.sh_addralign, h.sh_entsize);
      if (type === SHT_SYMTAB && symtab === 0 && i > 0) symtab = i;
    });
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
    // Names within the name table; links and infos name valid sections (the messages name the section).
    for (let i = 1; i < shnum; i++) {
      if (this.nameStart(i) === -1) this.name(i);
      const link = this.shLink[i];
      const info = this.shInfo[i];
      const type = this.shType[i];
      if (link !== 0 && link >= shnum) throw new ElfFormatError(file, `section ${i} (${this.name(i)})`, `sh_link ${link} is not a valid section`, this.headerOffset(i));
      if ((type === SHT_RELA || type === SHT_REL || (this.shFlags[i] & SHF_INFO_LINK) !== 0) && info !== 0 && info >= shnum) {
        throw new ElfFormatError(file, `section ${i} (${this.name(i)})`, `sh_info ${info} is not a valid section`, this.headerOffset(i));
      }
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
    return new CompactElf(ByteSource.whole(buf, file), file);
  }

  /** Opens a file to read on demand; `close` it when done. */
  static open(file: string): CompactElf {
    const src = ByteSource.open(file);
    try {
      return new CompactElf(src, file);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  /** Closes the file of `open` (contents already read stay available). */
  close(): void {
    this.src.close();
  }

  /** Makes sure section `i`'s contents are in the buffer. */
  ensure(i: number): void {
    if (this.loaded === null || this.loaded[i]) return;
    this.loaded[i] = 1;
    const t = this.type(i);
    if (t === SHT_NOBITS || t === SHT_NULL) return;
    this.src.need(this.offset(i), this.size(i));
  }

  /** True when section `i`'s contents are in the buffer (always for a file read whole). */
  isLoaded(i: number): boolean {
    return this.loaded === null || this.loaded[i] === 1;
  }

  /**
   * Bytes [off, off+len) of the file: a view of the buffer for a file read
   * whole; for a file read on demand, a view of a read-ahead window that
   * stays valid until the next `readRegion` (ByteSource.peek).
   */
  readRegion(off: number, len: number): Buffer {
    return this.src.peek(off, len);
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
    if (!this.xindex) throw new ElfFormatError(this.file, `symbol ${i} (section ${this.symtab})`, 'st_shndx is SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section', this.so(i));
    if ((i + 1) * 4 > this.xindex.length) throw new ElfFormatError(this.file, `symbol ${i} (section ${this.symtab})`, 'SHT_SYMTAB_SHNDX section is too short for this symbol');
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
