/**
 * The two-pass ELF64 ET_REL writer. Pass one reserves: it orders the symbols
 * (locals first), numbers sections and symbols, decides on extended numbering,
 * builds the string tables and assigns every file offset, as GNU binutils lays
 * out a relocatable object. Pass two writes one buffer of exactly the reserved
 * length.
 */
import {
  EHDR_SIZE, ET_REL, RELA_SIZE, REL_SIZE, SHDR_SIZE, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
  SHT_GROUP, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX,
  SYM_SIZE, ELF64_ST_INFO,
} from './constants.js';
import { ElfWriteError } from './errors.js';
import { ElfObject, ElfSymbol, Section } from './model.js';
import { StringTableBuilder } from './strings.js';

export { ElfWriteError };

interface Plan {
  shnum: number;
  symtab: Section | null;
  strtab: Section | null;
  shndx: Section | null;
  shstrtab: Section;
  symStrings: StringTableBuilder;
  symNameIds: Int32Array;
  secStrings: StringTableBuilder;
  secNameIds: Int32Array;
  /** sh_offset and sh_size per section (index 0 unused). */
  offsets: Float64Array;
  sizes: Float64Array;
  shoff: number;
  total: number;
  firstGlobal: number;
}

/** Serialises an ET_REL model to a new buffer. Updates `index` fields and may add the .shstrtab/.symtab_shndx tables it needs. */
export function writeObject(obj: ElfObject): Buffer {
  const plan = reserve(obj);
  return emit(obj, plan);
}

function fail(obj: ElfObject, msg: string): never {
  throw new ElfWriteError(msg, obj.file);
}

function reserve(obj: ElfObject): Plan {
  if (obj.header.type !== ET_REL) fail(obj, 'the writer only writes relocatable (ET_REL) objects');

  // Symbols: locals first, in their order, then the rest in theirs.
  const locals: ElfSymbol[] = [];
  const globals: ElfSymbol[] = [];
  for (const s of obj.symbols) (s.isLocal ? locals : globals).push(s);
  obj.symbols = locals.concat(globals);

  // Tables the writer owns.
  if (obj.symbols.length > 0 && !obj.symtab) {
    const strtab = obj.addSection(new Section('.strtab', SHT_STRTAB));
    const symtab = new Section('.symtab', SHT_SYMTAB);
    symtab.align = 8;
    symtab.entsize = SYM_SIZE;
    symtab.link = strtab;
    obj.sections.splice(obj.sections.indexOf(strtab), 0, symtab);
    obj.symtab = symtab;
  }
  if (!obj.shstrtab) obj.shstrtab = obj.addSection(new Section('.shstrtab', SHT_STRTAB));
  const symtab = obj.symtab;
  const strtab = symtab ? symtab.link : null;
  if (symtab && (!strtab || strtab.type !== SHT_STRTAB)) fail(obj, 'the symbol table has no string table');

  // Extended numbering: a symbol in a section numbered SHN_LORESERVE or above needs SHT_SYMTAB_SHNDX.
  let shndx = obj.sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab) ?? null;
  obj.renumber();
  if (symtab && !shndx && obj.symbols.some((s) => s.section !== null && s.section.index >= SHN_LORESERVE)) {
    shndx = new Section('.symtab_shndx', SHT_SYMTAB_SHNDX);
    shndx.align = 4;
    shndx.entsize = 4;
    shndx.link = symtab;
    obj.sections.splice(obj.sections.indexOf(symtab) + 1, 0, shndx);
    obj.renumber();
  }
  const sections = obj.sections;
  const shnum = sections.length + 1;
  // Relocations and groups name the model's symbols, so they link to its symbol table.
  for (const s of sections) {
    if (s.isRelocation || s.type === SHT_GROUP) {
      if (!symtab) fail(obj, `section ${s.name} needs a symbol table but the object has none`);
      s.link = symtab;
    }
  }
  // After renumbering, a section or symbol belongs to the object iff the array holds it at its index.
  const inObject = (x: Section) => sections[x.index - 1] === x;
  const symbols = obj.symbols;
  const symbolInObject = (x: ElfSymbol) => symbols[x.index - 1] === x;
  for (const s of sections) {
    if (s.link && !inObject(s.link)) fail(obj, `section ${s.name}: sh_link names a section that is not in the object`);
    if (s.infoSection && !inObject(s.infoSection)) fail(obj, `section ${s.name}: sh_info names a section that is not in the object`);
  }
  for (const sym of symbols) {
    if (sym.section && !inObject(sym.section)) fail(obj, `symbol ${sym.name}: its section ${sym.section.name} is not in the object`);
  }

  // String tables.
  const secStrings = new StringTableBuilder();
  const secNameIds = new Int32Array(shnum);
  const symStrings = strtab === obj.shstrtab ? secStrings : new StringTableBuilder();
  const symNameIds = new Int32Array(obj.symbols.length + 1);
  for (let i = 0; i < obj.symbols.length; i++) symNameIds[i + 1] = symStrings.add(obj.symbols[i].name);
  for (const s of sections) secNameIds[s.index] = secStrings.add(s.name);
  const symStrSize = symStrings.finish();
  const secStrSize = symStrings === secStrings ? symStrSize : secStrings.finish();

  // Sizes.
  const sizes = new Float64Array(shnum);
  const nsyms = symtab ? obj.symbols.length + 1 : 0;
  for (const s of sections) {
    let size: number;
    if (s === symtab) size = nsyms * SYM_SIZE;
    else if (s === shndx) size = nsyms * 4;
    else if (s === obj.shstrtab) size = secStrSize;
    else if (s === strtab) size = symStrSize;
    else if (s.type === SHT_RELA || s.type === SHT_REL) {
      if (!s.relocations) fail(obj, `relocation section ${s.name} has no entries list`);
      for (const r of s.relocations) {
        if (r.symbol && !symbolInObject(r.symbol)) fail(obj, `relocation section ${s.name}: a relocation names symbol ${r.symbol.name}, which is not in the symbol table`);
      }
      size = s.relocations.length * (s.type === SHT_RELA ? RELA_SIZE : REL_SIZE);
    } else if (s.type === SHT_GROUP) {
      if (!s.group) fail(obj, `section group ${s.name} has no members list`);
      size = 4 * (1 + s.group.members.length);
    } else size = s.size;
    sizes[s.index] = size;
  }

  // Offsets, in the order binutils uses for relocatable output: ordinary sections in
  // index order, then the symbol table, its index table and its strings, then the
  // relocation sections in index order, then the section names, then the headers.
  const offsets = new Float64Array(shnum);
  let off = EHDR_SIZE;
  const place = (s: Section) => {
    off = alignUp(off, s.align);
    offsets[s.index] = off;
    if (s.type !== SHT_NOBITS) off += sizes[s.index];
  };
  const late = new Set<Section>([obj.shstrtab]);
  if (symtab) late.add(symtab);
  if (shndx) late.add(shndx);
  if (strtab) late.add(strtab);
  for (const s of sections) if (!late.has(s) && !s.isRelocation) place(s);
  if (symtab) place(symtab);
  if (shndx) place(shndx);
  if (strtab && strtab !== obj.shstrtab) place(strtab);
  for (const s of sections) if (s.isRelocation) place(s);
  place(obj.shstrtab);
  const shoff = alignUp(off, 8);
  const total = shoff + shnum * SHDR_SIZE;
  return {
    shnum, symtab, strtab, shndx, shstrtab: obj.shstrtab, symStrings, symNameIds, secStrings, secNameIds,
    offsets, sizes, shoff, total, firstGlobal: obj.symbols.findIndex((s) => !s.isLocal) + 1 || nsyms,
  };
}

function alignUp(off: number, align: number): number {
  if (align <= 1) return off;
  const r = off % align;
  return r === 0 ? off : off + align - r;
}

function emit(obj: ElfObject, p: Plan): Buffer {
  const out = Buffer.alloc(p.total);
  const h = obj.header;
  // File header.
  h.ident.copy(out, 0, 0, 16);
  out.writeUInt16LE(h.type, 0x10);
  out.writeUInt16LE(h.machine, 0x12);
  out.writeUInt32LE(h.version, 0x14);
  out.writeBigUInt64LE(h.entry, 0x18);
  out.writeBigUInt64LE(0n, 0x20);
  writeU64(out, p.shoff, 0x28);
  out.writeUInt32LE(h.flags, 0x30);
  out.writeUInt16LE(EHDR_SIZE, 0x34);
  out.writeUInt16LE(0, 0x36);
  out.writeUInt16LE(0, 0x38);
  out.writeUInt16LE(SHDR_SIZE, 0x3a);
  const shstrndx = p.shstrtab.index;
  out.writeUInt16LE(p.shnum >= SHN_LORESERVE ? 0 : p.shnum, 0x3c);
  out.writeUInt16LE(shstrndx >= SHN_LORESERVE ? SHN_XINDEX : shstrndx, 0x3e);

  // Section 0 carries the extended counts.
  const sh0 = p.shoff;
  if (p.shnum >= SHN_LORESERVE) writeU64(out, p.shnum, sh0 + 0x20);
  if (shstrndx >= SHN_LORESERVE) out.writeUInt32LE(shstrndx, sh0 + 0x28);

  for (const s of obj.sections) {
    const i = s.index;
    const off = p.offsets[i];
    let info = s.infoSection ? s.infoSection.index : s.infoRaw;
    if (s === p.symtab) {
      writeSymbols(obj, p, out, off);
      info = p.firstGlobal;
    } else if (s === p.shndx) {
      // written with the symbols
    } else if (s === p.shstrtab) {
      p.secStrings.data().copy(out, off);
    } else if (s === p.strtab) {
      p.symStrings.data().copy(out, off);
    } else if (s.relocations && (s.type === SHT_RELA || s.type === SHT_REL)) {
      writeRelocations(s, out, off);
    } else if (s.type === SHT_GROUP && s.group) {
      out.writeUInt32LE(s.group.flags, off);
      let o = off + 4;
      for (const m of s.group.members) {
        out.writeUInt32LE(m.index, o);
        o += 4;
      }
      info = s.group.signature ? s.group.signature.index : 0;
    } else if (s.type !== SHT_NOBITS && s.type !== SHT_NULL) {
      s.data.copy(out, off);
    }
    const ho = p.shoff + i * SHDR_SIZE;
    out.writeUInt32LE(p.secStrings.offsetOf(p.secNameIds[i]), ho);
    out.writeUInt32LE(s.type, ho + 0x04);
    out.writeUInt32LE(s.flags >>> 0, ho + 0x08);
    if (s.addr !== 0n) out.writeBigUInt64LE(s.addr, ho + 0x10);
    writeU64(out, off, ho + 0x18);
    writeU64(out, p.sizes[i], ho + 0x20);
    out.writeUInt32LE(s.link ? s.link.index : s.linkRaw, ho + 0x28);
    out.writeUInt32LE(info >>> 0, ho + 0x2c);
    writeU64(out, s.align, ho + 0x30);
    writeU64(out, s.entsize, ho + 0x38);
  }
  return out;
}

function writeSymbols(obj: ElfObject, p: Plan, out: Buffer, off: number): void {
  const shndxOff = p.shndx ? p.offsets[p.shndx.index] : -1;
  const syms = obj.symbols;
  for (let i = 0; i < syms.length; i++) {
    const s = syms[i];
    const o = off + (i + 1) * SYM_SIZE;
    out.writeUInt32LE(p.symStrings.offsetOf(p.symNameIds[i + 1]), o);
    out[o + 4] = ELF64_ST_INFO(s.bind, s.type);
    out[o + 5] = s.other;
    let shndx = s.section ? s.section.index : s.shndx;
    if (s.section && shndx >= SHN_LORESERVE) {
      if (shndxOff < 0) throw new ElfWriteError(`symbol ${s.name} needs an extended section index but there is no SHT_SYMTAB_SHNDX`, obj.file);
      out.writeUInt32LE(shndx, shndxOff + (i + 1) * 4);
      shndx = SHN_XINDEX;
    }
    out.writeUInt16LE(s.section || s.shndx !== SHN_UNDEF ? shndx : SHN_UNDEF, o + 6);
    if (s.value !== 0n) out.writeBigUInt64LE(BigInt.asUintN(64, s.value), o + 8);
    if (s.size !== 0n) out.writeBigUInt64LE(BigInt.asUintN(64, s.size), o + 16);
  }
}

function writeRelocations(s: Section, out: Buffer, off: number): void {
  const rela = s.type === SHT_RELA;
  const step = rela ? RELA_SIZE : REL_SIZE;
  let o = off;
  for (const r of s.relocations!) {
    out.writeBigUInt64LE(BigInt.asUintN(64, r.offset), o);
    out.writeUInt32LE(r.type >>> 0, o + 8);
    out.writeUInt32LE(r.symbol ? r.symbol.index : 0, o + 12);
    if (rela) out.writeBigInt64LE(BigInt.asIntN(64, r.addend), o + 16);
    o += step;
  }
}

/** Writes a non-negative safe integer as a little-endian u64. */
function writeU64(out: Buffer, v: number, off: number): void {
  out.writeUInt32LE(v % 0x100000000, off);
  out.writeUInt32LE(Math.floor(v / 0x100000000), off + 4);
}
