/**
 * ElfFile, the tolerant zero-copy ELF64 reader, for kelp dump, kelp check and
 * symbol tables (diff uses CompactElf, link and the writer ElfObject; see
 * headers.ts). `ElfFile.parse` checks the file header and the section and
 * program header tables against the file (headers.ts); section contents,
 * symbols, relocations, notes and groups are read through views that check
 * every offset, size and index before they touch the buffer, so a damaged
 * part of a file fails alone and the rest can still be shown.
 */
import {
  PHDR_SIZE, SHT_NOBITS, SHT_NULL, SHT_STRTAB, SHT_SYMTAB, SHT_DYNSYM,
  SHT_SYMTAB_SHNDX, SHT_REL, SHT_RELA, SHT_GROUP, SYM_SIZE, REL_SIZE, RELA_SIZE,
} from './constants.js';
import { ElfFormatError } from './errors.js';
import { forEachSectionHeader, readHeader, readSectionTable, type ElfHeader, type ReadOptions, type UnreadableSectionTable } from './headers.js';
import { ByteSource } from './source.js';
import { StringTable } from './strings.js';
import { SymbolTable } from './symbols.js';
import { RelocationTable } from './relocs.js';
import { readGroup, type SectionGroup } from './groups.js';
import { readNotes, type Note } from './notes.js';

export type { ElfHeader } from './headers.js';

export interface SectionHeader {
  readonly index: number;
  readonly sh_name: number;
  readonly sh_type: number;
  readonly sh_flags: number;
  readonly sh_addr: bigint;
  readonly sh_offset: number;
  readonly sh_size: number;
  readonly sh_link: number;
  readonly sh_info: number;
  readonly sh_addralign: number;
  readonly sh_entsize: number;
  /** File offset of this header. */
  readonly headerOffset: number;
}

export interface ProgramHeader {
  readonly index: number;
  readonly p_type: number;
  readonly p_flags: number;
  readonly p_offset: bigint;
  readonly p_vaddr: bigint;
  readonly p_paddr: bigint;
  readonly p_filesz: bigint;
  readonly p_memsz: bigint;
  readonly p_align: bigint;
}

export class ElfFile {
  readonly header: ElfHeader;
  /** Section headers, index 0 included. */
  readonly sections: readonly SectionHeader[];
  readonly segments: readonly ProgramHeader[];
  /** The number of sections and the string table index, with extended numbering resolved. */
  readonly shnum: number;
  readonly shstrndx: number;
  readonly phnum: number;
  /** Parsed with `readelf`: forgive what readelf forgives. */
  private readonly readelf: boolean;
  /** Parsed with `readelf`: the size of a section name table outside the file (there are then no names). */
  readonly unreadableNames: number | undefined;
  /**
   * Parsed with `readelf`: the program headers could not be read (there are then no segments); the error
   * readelf gives each time it tries (an empty string where it gives none).
   */
  readonly unreadableSegments: string | undefined;
  /** Parsed with `readelf`: e_shentsize is above a header's size (the headers were read 64 bytes apart, as readelf reads them). */
  readonly largeSectionEntries: boolean;
  /** Parsed with `readelf`: why the section header table could not be read (there are then no sections). */
  readonly unreadableSections: UnreadableSectionTable | undefined;
  /** The file's bytes (from an on-demand source, only what was asked for). */
  readonly buf: Buffer;
  private readonly names: StringTable | undefined;
  private readonly symtabs = new Map<number, SymbolTable>();
  private readonly strtabs = new Map<number, StringTable>();

  private constructor(src: ByteSource, readonly file: string, opts: ReadOptions) {
    this.buf = src.buf;
    const h = readHeader(src, file, opts);
    this.header = h;
    const t = readSectionTable(src, file, h, opts);
    this.shnum = t.shnum;
    this.shstrndx = t.shstrndx;
    this.phnum = t.phnum;
    this.unreadableSections = t.unreadable;
    this.largeSectionEntries = t.largeEntries === true;
    const sections: SectionHeader[] = new Array(t.unreadable ? 0 : t.shnum);
    if (!t.unreadable) forEachSectionHeader(src, file, t, (x) => { sections[x.index] = { ...x }; }, true);
    this.sections = sections;
    const why = opts.readelf ? unreadableProgramHeaders(src.buf.length, h, t.phnum) : undefined;
    this.unreadableSegments = why;
    this.segments = why === undefined ? readProgramHeaders(src, file, h, t.phnum) : [];
    this.readelf = opts.readelf === true;
    if (t.shstrndx !== 0 && !t.unreadable) {
      const s = this.sections[t.shstrndx];
      if (this.readelf) {
        // readelf reads the names wherever the header says, whatever the section's type; none when that is outside the file.
        if (s.sh_size !== 0 && this.inFile(s)) {
          src.need(s.sh_offset, s.sh_size);
          this.names = new StringTable(this.buf, s.sh_offset, s.sh_size);
        } else if (s.sh_size !== 0) {
          this.unreadableNames = s.sh_size;
        }
      } else {
        if (s.sh_type !== SHT_NOBITS) src.need(s.sh_offset, s.sh_size);
        this.names = s.sh_type === SHT_NOBITS ? undefined : this.stringTableAt(s, 'section name string table');
      }
    }
  }

  /**
   * Parses an ELF64 little-endian file; `file` names it in errors. From a
   * source read on demand, only the headers, both header tables and the
   * section name table are read; the caller asks the source for the rest.
   * `opts.readelf`: forgive what readelf forgives (kelp dump).
   */
  static parse(input: Buffer | ByteSource, file: string, opts: ReadOptions = {}): ElfFile {
    return new ElfFile(input instanceof ByteSource ? input : ByteSource.whole(input, file), file, opts);
  }

  /**
   * readelf's answer to a symbol, relocation or group section with the wrong
   * sh_entsize: the dump reports it and goes on with the size the type needs.
   */
  useEntrySize(s: SectionHeader, entsize: number): void {
    if (this.sections[s.index] !== s || this.symtabs.size > 0) throw new Error('useEntrySize: before any table is read, on this file\'s own header');
    (s as { sh_entsize: number }).sh_entsize = entsize;
  }

  /** Whether section names are available (a name table was read). */
  get hasSectionNames(): boolean {
    return this.names !== undefined;
  }

  /** The name of a section, or undefined when its sh_name is outside the name table. */
  sectionNameOrUndefined(s: SectionHeader): string | undefined {
    if (!this.names) return s.sh_name === 0 ? '' : undefined;
    return this.names.tryGet(s.sh_name);
  }

  /** The name of a section; a bad sh_name is an error. */
  sectionName(s: SectionHeader): string {
    const n = this.sectionNameOrUndefined(s);
    if (n === undefined) throw new ElfFormatError(this.file, `section header ${s.index}`, `sh_name 0x${s.sh_name.toString(16)} is outside the section name table`, s.headerOffset);
    return n;
  }

  /** The section header at `index`, checked. */
  section(index: number, what = 'section index'): SectionHeader {
    if (!Number.isInteger(index) || index < 0 || index >= this.sections.length) {
      throw new ElfFormatError(this.file, what, `${index} is not below the section count ${this.sections.length}`);
    }
    return this.sections[index];
  }

  /** True when the section's bytes lie within the file (NOBITS sections have none). */
  hasValidData(s: SectionHeader): boolean {
    if (s.sh_type === SHT_NOBITS || s.sh_type === SHT_NULL) return true;
    return s.sh_offset <= this.buf.length && s.sh_size <= this.buf.length - s.sh_offset;
  }

  /** The section's bytes as a view into the file (empty for NOBITS). */
  sectionData(s: SectionHeader): Buffer {
    if (s.sh_type === SHT_NOBITS || s.sh_type === SHT_NULL) return this.buf.subarray(0, 0);
    if (!this.hasValidData(s)) {
      throw new ElfFormatError(this.file, `section ${s.index}`, `contents (offset 0x${s.sh_offset.toString(16)}, size 0x${s.sh_size.toString(16)}) extend past the end of the file`, s.headerOffset);
    }
    return this.buf.subarray(s.sh_offset, s.sh_offset + s.sh_size);
  }

  /** A string table view of section `index` (checked to be a STRTAB within the file). */
  stringTable(index: number, what = 'string table'): StringTable {
    const hit = this.strtabs.get(index);
    if (hit) return hit;
    const t = this.stringTableAt(this.section(index, what), what);
    this.strtabs.set(index, t);
    return t;
  }

  /** Whether the header's offset and size lie within the file (whatever its type). */
  private inFile(s: SectionHeader): boolean {
    return s.sh_offset <= this.buf.length && s.sh_size <= this.buf.length - s.sh_offset;
  }

  private stringTableAt(s: SectionHeader, what: string): StringTable {
    if (this.readelf) {
      // readelf takes the bytes as strings whatever the section's type.
      if (!this.inFile(s)) throw new ElfFormatError(this.file, `${what} (section ${s.index})`, 'extends past the end of the file', s.headerOffset);
      return new StringTable(this.buf, s.sh_offset, s.sh_size);
    }
    if (s.sh_type !== SHT_STRTAB) throw new ElfFormatError(this.file, `${what} (section ${s.index})`, `has type ${s.sh_type}, not SHT_STRTAB`, s.headerOffset);
    this.sectionData(s);
    return new StringTable(this.buf, s.sh_offset, s.sh_size);
  }

  /** The symbol table in section `index` (SHT_SYMTAB or SHT_DYNSYM), with its strings and SHT_SYMTAB_SHNDX companion. */
  symbolTable(index: number): SymbolTable {
    const hit = this.symtabs.get(index);
    if (hit) return hit;
    const s = this.section(index, 'symbol table index');
    if (s.sh_type !== SHT_SYMTAB && s.sh_type !== SHT_DYNSYM) {
      throw new ElfFormatError(this.file, `section ${index}`, 'is not a symbol table', s.headerOffset);
    }
    if (s.sh_entsize !== SYM_SIZE) throw new ElfFormatError(this.file, `symbol table (section ${index})`, `sh_entsize is ${s.sh_entsize}, expected ${SYM_SIZE}`, s.headerOffset);
    this.sectionData(s);
    if (s.sh_link === index && !this.readelf) throw new ElfFormatError(this.file, `symbol table (section ${index})`, 'sh_link points at itself', s.headerOffset);
    const strings = this.stringTable(s.sh_link, `string table of symbol table ${index}`);
    let shndx: Buffer | undefined;
    for (const x of this.sections) {
      if (x.sh_type === SHT_SYMTAB_SHNDX && x.sh_link === index) {
        shndx = this.sectionData(x);
        break;
      }
    }
    const t = new SymbolTable(this.buf, this.file, s, strings, shndx);
    this.symtabs.set(index, t);
    return t;
  }

  /** The first section of the given type, if any. */
  findSectionByType(type: number): SectionHeader | undefined {
    return this.sections.find((s) => s.sh_type === type);
  }

  /** The first section with the given name, if any. */
  findSectionByName(name: string): SectionHeader | undefined {
    return this.sections.find((s) => this.sectionNameOrUndefined(s) === name);
  }

  /** The relocation entries of a SHT_REL or SHT_RELA section. */
  relocations(s: SectionHeader): RelocationTable {
    const rela = s.sh_type === SHT_RELA;
    if (!rela && s.sh_type !== SHT_REL) throw new ElfFormatError(this.file, `section ${s.index}`, 'is not a relocation section', s.headerOffset);
    const want = rela ? RELA_SIZE : REL_SIZE;
    if (s.sh_entsize !== want) throw new ElfFormatError(this.file, `relocation section ${s.index}`, `sh_entsize is ${s.sh_entsize}, expected ${want}`, s.headerOffset);
    return new RelocationTable(this.sectionData(s), s, rela);
  }

  /** The members of a SHT_GROUP section. */
  group(s: SectionHeader): SectionGroup {
    if (s.sh_type !== SHT_GROUP) throw new ElfFormatError(this.file, `section ${s.index}`, 'is not a section group', s.headerOffset);
    return readGroup(this.sectionData(s), this.file, s, this.shnum);
  }

  /** The notes in a region of the file (a SHT_NOTE section or a PT_NOTE segment). */
  notes(offset: number, size: number, align: number, what: string): Note[] {
    if (offset > this.buf.length || size > this.buf.length - offset) {
      throw new ElfFormatError(this.file, what, 'extends past the end of the file', offset);
    }
    return readNotes(this.buf.subarray(offset, offset + size), this.file, what, offset, align);
  }
}

/** Why readelf cannot read the program headers, if it cannot (readelf's get_program_headers). */
function unreadableProgramHeaders(size: number, h: ElfHeader, phnum: number): string | undefined {
  if (phnum === 0) return undefined;
  if (phnum * PHDR_SIZE >= size) return `Too many program headers - 0x${phnum.toString(16)} - the file is not that big\n`;
  if (h.e_phentsize === 0) return '';
  if (h.e_phentsize < PHDR_SIZE) return 'The e_phentsize field in the ELF header is less than the size of an ELF program header\n';
  if (h.e_phentsize === PHDR_SIZE && (h.e_phoff > size || phnum > (size - h.e_phoff) / PHDR_SIZE)) {
    return `Reading ${phnum * PHDR_SIZE} bytes extends past end of file for program headers\n`;
  }
  return undefined;
}

function readProgramHeaders(src: ByteSource, file: string, h: ElfHeader, phnum: number): ProgramHeader[] {
  if (phnum === 0) return [];
  const buf = src.buf;
  if (h.e_phentsize !== PHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `e_phentsize is ${h.e_phentsize}, expected ${PHDR_SIZE}`, 0x36);
  if (h.e_phoff > buf.length || phnum > (buf.length - h.e_phoff) / PHDR_SIZE) {
    throw new ElfFormatError(file, 'program header table', `${phnum} headers at 0x${h.e_phoff.toString(16)} do not fit in the file`, h.e_phoff);
  }
  src.need(h.e_phoff, phnum * PHDR_SIZE);
  const out: ProgramHeader[] = new Array(phnum);
  for (let i = 0; i < phnum; i++) {
    const o = h.e_phoff + i * PHDR_SIZE;
    out[i] = {
      index: i,
      p_type: buf.readUInt32LE(o),
      p_flags: buf.readUInt32LE(o + 0x04),
      p_offset: buf.readBigUInt64LE(o + 0x08),
      p_vaddr: buf.readBigUInt64LE(o + 0x10),
      p_paddr: buf.readBigUInt64LE(o + 0x18),
      p_filesz: buf.readBigUInt64LE(o + 0x20),
      p_memsz: buf.readBigUInt64LE(o + 0x28),
      p_align: buf.readBigUInt64LE(o + 0x30),
    };
  }
  return out;
}
