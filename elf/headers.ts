/**
 * The one parser of the ELF64 file header and section header table, shared
 * by every model in elf/ and by kelp dump:
 *
 *  - ElfFile (reader.ts): tolerant, header objects; for dump, check and symbols;
 *  - CompactElf (compact.ts): struct-of-arrays, validated eagerly, read on
 *    demand; for diff, which walks every section of large objects;
 *  - ElfObject (model.ts): editable, built from an ElfFile; for link and the writer.
 *
 * It reads through a ByteSource (source.ts), asking it for exactly the bytes
 * it parses, and reports a malformed header or table the same way for all
 * (one ElfFormatError naming the structure and file offset).
 */
import {
  EHDR_SIZE, EI_ABIVERSION, EI_CLASS, EI_DATA, EI_NIDENT, EI_OSABI, EI_VERSION,
  ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, SHDR_SIZE, SHN_XINDEX,
} from './constants.js';
import { ElfFormatError } from './errors.js';
import type { ByteSource } from './source.js';

const PN_XNUM = 0xffff;
const TWO32 = 0x100000000;

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
  /** e_phoff and e_shoff exactly (with `readelf`, an offset beyond 53 bits reads as one past any file above). */
  readonly e_phoffRaw: bigint;
  readonly e_shoffRaw: bigint;
}

/** An unsigned 64-bit field as a number, refusing values that do not fit 53 bits exactly. */
export function u64(buf: Buffer, off: number, file: string, what: string, at = off): number {
  const hi = buf.readUInt32LE(off + 4);
  if (hi > 0x1fffff) throw new ElfFormatError(file, what, `value 0x${buf.readBigUInt64LE(off).toString(16)} is too large`, at);
  return hi * TWO32 + buf.readUInt32LE(off);
}

/** The ELF64 little-endian file header (only ELF64 LSB files are accepted). */
export function readHeader(src: ByteSource, file: string, opts: ReadOptions = {}): ElfHeader {
  src.need(0, EHDR_SIZE);
  const buf = src.buf;
  if (buf.length < 4 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    throw new ElfFormatError(file, 'file', 'not an ELF file');
  }
  if (buf.length < EI_NIDENT + 2) throw new ElfFormatError(file, 'ELF header', 'file is truncated', 0);
  if (buf[EI_CLASS] === ELFCLASS32) throw new ElfFormatError(file, 'ELF header', '32-bit ELF (ELFCLASS32) is not supported');
  if (buf[EI_CLASS] !== ELFCLASS64) throw new ElfFormatError(file, 'ELF header', `unknown ELF class ${buf[EI_CLASS]}`, EI_CLASS);
  if (buf[EI_DATA] === ELFDATA2MSB) throw new ElfFormatError(file, 'ELF header', 'big-endian ELF (ELFDATA2MSB) is not supported');
  if (buf[EI_DATA] !== ELFDATA2LSB) throw new ElfFormatError(file, 'ELF header', `unknown data encoding ${buf[EI_DATA]}`, EI_DATA);
  if (buf.length < EHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `file is truncated (${buf.length} bytes, the header needs ${EHDR_SIZE})`, 0);
  // No file is 2^53 bytes long: for readelf such an offset is only past the end.
  const offset = (at: number, name: string): number => (opts.readelf && buf.readUInt32LE(at + 4) > 0x1fffff ? Number.MAX_SAFE_INTEGER : u64(buf, at, file, `ELF header (${name})`));
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
    e_phoff: offset(0x20, 'e_phoff'),
    e_shoff: offset(0x28, 'e_shoff'),
    e_flags: buf.readUInt32LE(0x30),
    e_ehsize: buf.readUInt16LE(0x34),
    e_phentsize: buf.readUInt16LE(0x36),
    e_phnum: buf.readUInt16LE(0x38),
    e_shentsize: buf.readUInt16LE(0x3a),
    e_shnum: buf.readUInt16LE(0x3c),
    e_shstrndx: buf.readUInt16LE(0x3e),
    e_phoffRaw: buf.readBigUInt64LE(0x20),
    e_shoffRaw: buf.readBigUInt64LE(0x28),
  };
}

/** Where the section header table is and how many entries it has, extended numbering resolved. */
export interface SectionTable {
  /** File offset of the table (0: none). */
  readonly shoff: number;
  /** The number of sections (section 0 included). */
  readonly shnum: number;
  /** The section name string table's index (0: none). */
  readonly shstrndx: number;
  /** The number of program headers. */
  readonly phnum: number;
  /** Read with `readelf`: why the table cannot be read (it then has no sections). */
  readonly unreadable?: UnreadableSectionTable;
  /** Read with `readelf`: e_shentsize is above a header's size (readelf warns, and reads headers 64 bytes apart all the same). */
  readonly largeEntries?: boolean;
}

/**
 * A section header table readelf cannot load: it goes on without sections
 * after `message` (readelf's error, or none where it is silent). `warning`:
 * the message is a warning. `first`: section 0, when that alone could be
 * read (its extended numbering fields still count).
 */
export interface UnreadableSectionTable {
  readonly message?: string;
  readonly warning?: boolean;
  readonly first?: { readonly sh_size: number; readonly sh_link: number; readonly sh_info: number };
}

/** How forgiving the reader is. */
export interface ReadOptions {
  /** Read what readelf reads: a section name table index beyond the sections means no names (kelp dump). */
  readonly readelf?: boolean;
}

/**
 * The section header table's place and counts: a count of 0 with a table is
 * in section 0's sh_size, SHN_XINDEX's string table index in its sh_link and
 * PN_XNUM's program header count in its sh_info. The table must fit the file.
 */
export function readSectionTable(src: ByteSource, file: string, h: ElfHeader, opts: ReadOptions = {}): SectionTable {
  const buf = src.buf;
  let shnum = h.e_shnum;
  let shstrndx = h.e_shstrndx;
  let phnum = h.e_phnum;
  const shoff = h.e_shoff;
  // readelf first reads section 0 alone (for extended numbering), quietly; then the whole table.
  const fits = (n: number): boolean => shoff <= buf.length && n <= (buf.length - shoff) / SHDR_SIZE;
  let first: UnreadableSectionTable['first'];
  if (shoff !== 0 && h.e_shentsize >= SHDR_SIZE && fits(1)) {
    const s0 = src.peek(shoff, SHDR_SIZE);
    // readelf keeps the count in 32 bits.
    first = { sh_size: s0.readUInt32LE(0x20), sh_link: s0.readUInt32LE(0x28), sh_info: s0.readUInt32LE(0x2c) };
  }
  if (opts.readelf) {
    if (first !== undefined) {
      if (shnum === 0) shnum = first.sh_size;
      if (shstrndx === SHN_XINDEX) shstrndx = first.sh_link;
      if (phnum === PN_XNUM && first.sh_info !== 0) phnum = first.sh_info;
      if (shstrndx >= shnum) shstrndx = 0;
    }
    const largeEntries = h.e_shentsize > SHDR_SIZE && shnum !== 0 && shoff !== 0;
    const unreadable = (why: Omit<UnreadableSectionTable, 'first'>): SectionTable => ({ shoff, shnum, shstrndx: first ? shstrndx : 0, phnum, unreadable: { ...why, first }, largeEntries });
    if (shnum === 0) {
      if (shoff !== 0) return unreadable({ message: 'possibly corrupt ELF file header - it has a non-zero section header offset, but no section headers\n', warning: true });
      return { shoff, shnum: 0, shstrndx: 0, phnum };
    }
    if (h.e_shentsize === 0 || shoff === 0) return unreadable({});
    if (h.e_shentsize < SHDR_SIZE) return unreadable({ message: 'The e_shentsize field in the ELF header is less than the size of an ELF section header\n' });
    // The table is read as e_shentsize * count bytes.
    const bytes = BigInt(shnum) * BigInt(h.e_shentsize);
    if (BigInt(shoff) > BigInt(buf.length) || bytes > BigInt(buf.length - Math.min(shoff, buf.length))) {
      return unreadable({ message: `Reading ${bytes} bytes extends past end of file for section headers\n` });
    }
    if (largeEntries) return { shoff, shnum, shstrndx, phnum, largeEntries };
  }
  if (shoff !== 0) {
    if (h.e_shentsize !== SHDR_SIZE) throw new ElfFormatError(file, 'ELF header', `e_shentsize is ${h.e_shentsize}, expected ${SHDR_SIZE}`, 0x3a);
    if (!fits(1)) throw new ElfFormatError(file, 'section header table', 'starts past the end of the file', shoff);
    const s0 = src.peek(shoff, SHDR_SIZE);
    if (!opts.readelf) {
      if (shnum === 0) shnum = u64(s0, 0x20, file, 'section header 0 (sh_size)', shoff + 0x20);
      if (shstrndx === SHN_XINDEX) shstrndx = s0.readUInt32LE(0x28);
      if (phnum === PN_XNUM) phnum = s0.readUInt32LE(0x2c);
    }
    if (!fits(shnum)) {
      throw new ElfFormatError(file, 'section header table', `${shnum} headers do not fit in the file`, shoff);
    }
  } else {
    if (shnum !== 0) throw new ElfFormatError(file, 'ELF header', `e_shnum is ${shnum} but e_shoff is 0`, 0x3c);
    shstrndx = 0;
  }
  if (shstrndx !== 0 && shstrndx >= shnum) {
    throw new ElfFormatError(file, 'ELF header', `section name table index ${shstrndx} is not below the section count ${shnum}`, 0x3e);
  }
  return { shoff, shnum, shstrndx, phnum };
}

/** One decoded section header; `forEachSectionHeader` reuses one object for all. */
export interface RawSectionHeader {
  index: number;
  sh_name: number;
  sh_type: number;
  sh_flags: number;
  sh_addr: bigint;
  sh_offset: number;
  sh_size: number;
  sh_link: number;
  sh_info: number;
  sh_addralign: number;
  sh_entsize: number;
  /** File offset of this header. */
  headerOffset: number;
}

/**
 * Decodes every section header in order and hands each to `visit` (the same
 * object each time: copy what you keep). Flags must fit 32 bits and offsets,
 * sizes, alignments and entry sizes 53. `keep`: read the table into the
 * source's buffer (dump shows it); otherwise it is only peeked at.
 */
export function forEachSectionHeader(src: ByteSource, file: string, t: SectionTable, visit: (h: RawSectionHeader) => void, keep = false): void {
  const CHUNK = 1024;
  const h: RawSectionHeader = {
    index: 0, sh_name: 0, sh_type: 0, sh_flags: 0, sh_addr: 0n, sh_offset: 0, sh_size: 0, sh_link: 0, sh_info: 0, sh_addralign: 0, sh_entsize: 0, headerOffset: 0,
  };
  if (keep) src.need(t.shoff, t.shnum * SHDR_SIZE);
  for (let i0 = 0; i0 < t.shnum; i0 += CHUNK) {
    const m = Math.min(CHUNK, t.shnum - i0);
    const b = src.peek(t.shoff + i0 * SHDR_SIZE, m * SHDR_SIZE);
    for (let q = 0; q < m; q++) {
      const i = i0 + q;
      const o = q * SHDR_SIZE;
      const at = t.shoff + i * SHDR_SIZE;
      const what = `section header ${i}`;
      if (b.readUInt32LE(o + 0x0c) !== 0) throw new ElfFormatError(file, what, `sh_flags 0x${b.readBigUInt64LE(o + 0x08).toString(16)} has bits above 32`, at + 0x08);
      h.index = i;
      h.sh_name = b.readUInt32LE(o);
      h.sh_type = b.readUInt32LE(o + 0x04);
      h.sh_flags = b.readUInt32LE(o + 0x08);
      h.sh_addr = b.readBigUInt64LE(o + 0x10);
      h.sh_offset = u64(b, o + 0x18, file, `${what} (sh_offset)`, at + 0x18);
      h.sh_size = u64(b, o + 0x20, file, `${what} (sh_size)`, at + 0x20);
      h.sh_link = b.readUInt32LE(o + 0x28);
      h.sh_info = b.readUInt32LE(o + 0x2c);
      h.sh_addralign = u64(b, o + 0x30, file, `${what} (sh_addralign)`, at + 0x30);
      h.sh_entsize = u64(b, o + 0x38, file, `${what} (sh_entsize)`, at + 0x38);
      h.headerOffset = at;
      visit(h);
    }
  }
}
