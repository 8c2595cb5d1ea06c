/**
 * A bounds-checked view of a symbol table (SHT_SYMTAB or SHT_DYNSYM) with
 * extended section indices (SHT_SYMTAB_SHNDX) resolved. Symbols are read by
 * index through accessors, so a 185k-entry table costs no objects.
 */
import { SHN_LORESERVE, SHN_XINDEX, SYM_SIZE } from './constants.js';
import { ElfFormatError } from './errors.js';
import type { SectionHeader } from './reader.js';
import type { StringTable } from './strings.js';

export class SymbolTable {
  readonly count: number;
  private readonly base: number;

  constructor(
    private readonly buf: Buffer,
    private readonly file: string,
    readonly section: SectionHeader,
    readonly strings: StringTable,
    /** The SHT_SYMTAB_SHNDX contents, when the object has one for this table. */
    private readonly shndxData: Buffer | undefined,
  ) {
    this.count = Math.floor(section.sh_size / SYM_SIZE);
    this.base = section.sh_offset;
  }

  private at(i: number): number {
    if (!(i >= 0 && i < this.count)) {
      throw new ElfFormatError(this.file, `symbol table (section ${this.section.index})`, `symbol index ${i} is not below the symbol count ${this.count}`);
    }
    return this.base + i * SYM_SIZE;
  }

  /** st_name: offset of the name in the string table. */
  nameOffset(i: number): number { return this.buf.readUInt32LE(this.at(i)); }
  /** st_info, st_other. */
  info(i: number): number { return this.buf[this.at(i) + 4]; }
  other(i: number): number { return this.buf[this.at(i) + 5]; }
  bind(i: number): number { return this.buf[this.at(i) + 4] >> 4; }
  type(i: number): number { return this.buf[this.at(i) + 4] & 0xf; }
  /** The raw 16-bit st_shndx field. */
  shndx(i: number): number { return this.buf.readUInt16LE(this.at(i) + 6); }
  value(i: number): bigint { return this.buf.readBigUInt64LE(this.at(i) + 8); }
  size(i: number): bigint { return this.buf.readBigUInt64LE(this.at(i) + 16); }

  /** The symbol's name, or undefined when st_name lies outside the string table. */
  nameOrUndefined(i: number): string | undefined {
    return this.strings.tryGet(this.nameOffset(i));
  }

  /** The symbol's name; a bad st_name is an error. */
  name(i: number): string {
    const off = this.nameOffset(i);
    const n = this.strings.tryGet(off);
    if (n === undefined) {
      throw new ElfFormatError(this.file, `symbol ${i} (section ${this.section.index})`, `st_name 0x${off.toString(16)} is outside the string table`, this.base + i * SYM_SIZE);
    }
    return n;
  }

  /**
   * The section index the symbol is defined in, with SHN_XINDEX resolved through
   * SHT_SYMTAB_SHNDX; for the reserved values (SHN_UNDEF, SHN_ABS, SHN_COMMON,
   * SHN_LIVEPATCH, ...) it returns the raw value: check `isSpecial` first.
   */
  sectionIndex(i: number): number {
    const raw = this.shndx(i);
    if (raw !== SHN_XINDEX) return raw;
    return this.extendedIndex(i);
  }

  /** True when st_shndx is SHN_UNDEF or a reserved value other than SHN_XINDEX. */
  isSpecial(i: number): boolean {
    const raw = this.shndx(i);
    return raw === 0 || (raw >= SHN_LORESERVE && raw !== SHN_XINDEX);
  }

  /** The SHT_SYMTAB_SHNDX entry of a symbol whose st_shndx is SHN_XINDEX. */
  extendedIndex(i: number): number {
    if (!this.shndxData) {
      throw new ElfFormatError(this.file, `symbol ${i} (section ${this.section.index})`, 'st_shndx is SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section', this.base + i * SYM_SIZE);
    }
    if ((i + 1) * 4 > this.shndxData.length) {
      throw new ElfFormatError(this.file, `symbol ${i} (section ${this.section.index})`, 'SHT_SYMTAB_SHNDX section is too short for this symbol');
    }
    return this.shndxData.readUInt32LE(i * 4);
  }

  /** True when an extended index table exists. */
  get hasExtendedIndices(): boolean { return this.shndxData !== undefined; }
}
