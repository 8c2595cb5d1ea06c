/**
 * Small, deliberate edits of ELF64 headers for the dump tests: a section's
 * or segment's field set to a chosen value, sections found by name.
 */
const SHDR_FIELDS = {
  sh_name: [0x00, 4], sh_type: [0x04, 4], sh_flags: [0x08, 8], sh_addr: [0x10, 8], sh_offset: [0x18, 8], sh_size: [0x20, 8],
  sh_link: [0x28, 4], sh_info: [0x2c, 4], sh_addralign: [0x30, 8], sh_entsize: [0x38, 8],
} as const;
const PHDR_FIELDS = {
  p_type: [0x00, 4], p_flags: [0x04, 4], p_offset: [0x08, 8], p_vaddr: [0x10, 8], p_paddr: [0x18, 8], p_filesz: [0x20, 8], p_memsz: [0x28, 8], p_align: [0x30, 8],
} as const;

function put(buf: Buffer, at: number, width: number, value: number | bigint): void {
  if (width === 4) buf.writeUInt32LE(Number(value), at);
  else buf.writeBigUInt64LE(BigInt(value), at);
}

function shdrAt(buf: Buffer, index: number): number {
  return Number(buf.readBigUInt64LE(0x28)) + index * 64;
}

/** A section header field. */
export function shdr(buf: Buffer, index: number, field: keyof typeof SHDR_FIELDS): number {
  const [off, width] = SHDR_FIELDS[field];
  const at = shdrAt(buf, index) + off;
  return width === 4 ? buf.readUInt32LE(at) : Number(buf.readBigUInt64LE(at));
}

export function setShdr(buf: Buffer, index: number, field: keyof typeof SHDR_FIELDS, value: number | bigint): void {
  const [off, width] = SHDR_FIELDS[field];
  put(buf, shdrAt(buf, index) + off, width, value);
}

export function phdr(buf: Buffer, index: number, field: keyof typeof PHDR_FIELDS): bigint {
  const [off, width] = PHDR_FIELDS[field];
  const at = Number(buf.readBigUInt64LE(0x20)) + index * 56 + off;
  return width === 4 ? BigInt(buf.readUInt32LE(at)) : buf.readBigUInt64LE(at);
}

export function setPhdr(buf: Buffer, index: number, field: keyof typeof PHDR_FIELDS, value: number | bigint): void {
  const [off, width] = PHDR_FIELDS[field];
  put(buf, Number(buf.readBigUInt64LE(0x20)) + index * 56 + off, width, value);
}

/** The index of the first section named `name` (throws when there is none). */
export function sectionIndex(buf: Buffer, name: string): number {
  const shnum = buf.readUInt16LE(0x3c);
  const strtab = shdr(buf, buf.readUInt16LE(0x3e), 'sh_offset');
  for (let i = 0; i < shnum; i++) {
    const at = strtab + shdr(buf, i, 'sh_name');
    if (buf.toString('latin1', at, buf.indexOf(0, at)) === name) return i;
  }
  throw new Error(`no section ${name}`);
}

/** The index of the first program header of type `type`. */
export function segmentIndex(buf: Buffer, type: number): number {
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (phdr(buf, i, 'p_type') === BigInt(type)) return i;
  throw new Error(`no segment of type ${type}`);
}

/** A copy of `src` changed by `edit` (or the buffer `edit` returns, for edits that change the length). */
export function edited(src: Buffer, edit: (b: Buffer) => unknown): Buffer {
  const b = Buffer.from(src);
  const r = edit(b);
  return Buffer.isBuffer(r) ? r : b;
}
