/**
 * The zero-copy ELF64 reader. `ElfFile.parse` checks the file header and the
 * section and program header tables against the buffer; section contents,
 * symbols, relocations, notes and groups are read through views that check
 * every offset, size and index before they touch the buffer.
 */
import {
  EHDR_SIZE, EI_CLASS, EI_DATA, EI_NIDENT, EI_OSABI, EI_ABIVERSION, EI_VERSION,
  ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, PHDR_SIZE, SHDR_SIZE,
  SHN_XINDEX, SHT_NOBITS, SHT_NULL, SHT_STRTAB, SHT_SYMTAB, SHT_DYNSYM,
  SHT_SYMTAB_SHNDX, SHT_REL, SHT_RELA, SHT_GROUP, SYM_SIZE, REL_SIZE, RELA_SIZE,
} from './constants.js';
import { ElfFormatError } from './errors.js';
import { StringTable } from './strings.js';
import { SymbolTable } from './symbols.js';
import { RelocationTable } from './relocs.js';
import { readGroup, type SectionGroup } from './groups.js';
import { readNotes, type Note } from './notes.js';

const PN_XNUM = 0xffff;

export interface ElfHeader {
  /** The 16 identification bytes. */
  readonly e_ident: Uint8Array;
  readonly ei_class: number;
  readonly ei_data: number;
  readonly ei_version: number;
  readonly ei_osabi: number;
  readonly ei_abiversion: number;
  readonly e_type: number;
  readonly e_machine: number;
  readonly e_version: number;
  readonly e_entry: bigint;
  readonly e_phoff: number;
  readonly e_shoff: number;
  readonly e_flags: number;
  readonly e_ehsize: number;
  readonly e_phentsize: number;
  /** The raw fields, as stored. */
  readonly e_phnum: number;
  readonly e_shentsize: number;
  readonly e_shnum: number;
  readonly e_shstrndx: number;
}

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

/** Reads an unsigned 64-bit field as a number, refusing values that do not fit exactly. */
function u64(buf: Buffer, off: number, file: string, what: string): number {
  const hi = buf.readUInt32LE(off + 4);
  if (hi > 0x1fffff) throw new ElfFormatError(file, what, `value 0x${buf.readBigUInt64LE(off).toString(16)} is too large`, off);
  return hi * 0x100000000 + buf.readUInt32LE(off);
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
  private readonly names: StringTable | undefined;
  private readonly symtabs = new Map<number, SymbolTable>();
  private readonly strtabs = new Map<number, StringTable>();

  private constructor(readonly buf: Buffer, readonly file: string) {
    this.header = readHeader(buf, file);
    const h = this.header;
    // Section header table, with extended numbering (count in section 0's sh_size,
    // string table index in its sh_link).
    let shnum = h.e_shnum;
    let shstrndx = h.e_shstrndx;
    let phnum = h.e_phnum;
    if (h.e_shoff !== 0) {
      if (h.e_shentsize !== SHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `e_shentsize is ${h.e_shentsize}, expected ${SHDR_SIZE}`, 0x3a);
      if (h.e_shoff > buf.length || buf.length - h.e_shoff < SHDR_SIZE) throw new ElfFormatError(file, 'section header table', 'starts past the end of the file', h.e_shoff);
      if (shnum === 0) shnum = u64(buf, h.e_shoff + 0x20, file, 'section header 0 (sh_size)');
      if (shstrndx === SHN_XINDEX) shstrndx = buf.readUInt32LE(h.e_shoff + 0x28);
      if (phnum === PN_XNUM) phnum = buf.readUInt32LE(h.e_shoff + 0x2c);
      if (shnum > (buf.length - h.e_shoff) / SHDR_SIZE) {
        throw new ElfFormatError(file, 'section header table', `${shnum} headers do not fit in the file`, h.e_shoff);
      }
    } else {
      if (shnum !== 0) throw new ElfFormatError(file, 'ELF header', `e_shnum is ${shnum} but e_shoff is 0`, 0x3c);
      shstrndx = 0;
    }
    if (shstrndx !== 0 && shstrndx >= shnum) {
      throw new ElfFormatError(file, 'ELF header', `section name table index ${shstrndx} is not below the section count ${shnum}`, 0x3e);
    }
    this.shnum = shnum;
    this.shstrndx = shstrndx;
    this.phnum = phnum;
    this.sections = readSectionHeaders(buf, file, h.e_shoff, shnum);
    this.segments = readProgramHeaders(buf, file, h, phnum);
    if (shstrndx !== 0) {
      const s = this.sections[shstrndx];
      this.names = s.sh_type === SHT_NOBITS ? undefined : this.stringTableAt(s, 'section name string table');
    }
  }

  /** Parses `buf` as an ELF64 little-endian file; `file` names it in errors. */
  static parse(buf: Buffer, file: string): ElfFile {
    return new ElfFile(buf, file);
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

  private stringTableAt(s: SectionHeader, what: string): StringTable {
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
    if (s.sh_link === index) throw new ElfFormatError(this.file, `symbol table (section ${index})`, 'sh_link points at itself', s.headerOffset);
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

export function readHeader(buf: Buffer, file: string): ElfHeader {
  if (buf.length < 4 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    throw new ElfFormatError(file, 'file', 'not an ELF file');
  }
  if (buf.length < EI_NIDENT + 2) throw new ElfFormatError(file, 'ELF header', 'file is truncated', 0);
  if (buf[EI_CLASS] === ELFCLASS32) throw new ElfFormatError(file, 'ELF header', '32-bit ELF (ELFCLASS32) is not supported');
  if (buf[EI_CLASS] !== ELFCLASS64) throw new ElfFormatError(file, 'ELF header', `unknown ELF class ${buf[EI_CLASS]}`, EI_CLASS);
  if (buf[EI_DATA] === ELFDATA2MSB) throw new ElfFormatError(file, 'ELF header', 'big-endian ELF (ELFDATA2MSB) is not supported');
  if (buf[EI_DATA] !== ELFDATA2LSB) throw new ElfFormatError(file, 'ELF header', `unknown data encoding ${buf[EI_DATA]}`, EI_DATA);
  if (buf.length < EHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `file is truncated (${buf.length} bytes, the header needs ${EHDR_SIZE})`, 0);
  const e_phoff = u64(buf, 0x20, file, 'ELF header (e_phoff)');
  const e_shoff = u64(buf, 0x28, file, 'ELF header (e_shoff)');
  const e_ehsize = buf.readUInt16LE(0x34);
  return {
    e_ident: buf.subarray(0, EI_NIDENT),
    ei_class: buf[EI_CLASS],
    ei_data: buf[EI_DATA],
    ei_version: buf[EI_VERSION],
    ei_osabi: buf[EI_OSABI],
    ei_abiversion: buf[EI_ABIVERSION],
    e_type: buf.readUInt16LE(0x10),
    e_machine: buf.readUInt16LE(0x12),
    e_version: buf.readUInt32LE(0x14),
    e_entry: buf.readBigUInt64LE(0x18),
    e_phoff,
    e_shoff,
    e_flags: buf.readUInt32LE(0x30),
    e_ehsize,
    e_phentsize: buf.readUInt16LE(0x36),
    e_phnum: buf.readUInt16LE(0x38),
    e_shentsize: buf.readUInt16LE(0x3a),
    e_shnum: buf.readUInt16LE(0x3c),
    e_shstrndx: buf.readUInt16LE(0x3e),
  };
}

function readSectionHeaders(buf: Buffer, file: string, shoff: number, shnum: number): SectionHeader[] {
  const out: SectionHeader[] = new Array(shnum);
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * SHDR_SIZE;
    const what = `section header ${i}`;
    if (buf.readUInt32LE(o + 0x0c) !== 0) throw new ElfFormatError(file, what, `sh_flags 0x${buf.readBigUInt64LE(o + 0x08).toString(16)} has bits above 32`, o + 0x08);
    out[i] = {
      index: i,
      sh_name: buf.readUInt32LE(o),
      sh_type: buf.readUInt32LE(o + 0x04),
      sh_flags: buf.readUInt32LE(o + 0x08),
      sh_addr: buf.readBigUInt64LE(o + 0x10),
      sh_offset: u64(buf, o + 0x18, file, `${what} (sh_offset)`),
      sh_size: u64(buf, o + 0x20, file, `${what} (sh_size)`),
      sh_link: buf.readUInt32LE(o + 0x28),
      sh_info: buf.readUInt32LE(o + 0x2c),
      sh_addralign: u64(buf, o + 0x30, file, `${what} (sh_addralign)`),
      sh_entsize: u64(buf, o + 0x38, file, `${what} (sh_entsize)`),
      headerOffset: o,
    };
  }
  return out;
}

function readProgramHeaders(buf: Buffer, file: string, h: ElfHeader, phnum: number): ProgramHeader[] {
  if (phnum === 0) return [];
  if (h.e_phentsize !== PHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `e_phentsize is ${h.e_phentsize}, expected ${PHDR_SIZE}`, 0x36);
  if (h.e_phoff > buf.length || phnum > (buf.length - h.e_phoff) / PHDR_SIZE) {
    throw new ElfFormatError(file, 'program header table', `${phnum} headers at 0x${h.e_phoff.toString(16)} do not fit in the file`, h.e_phoff);
  }
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
