/**
 * readelf -R/--relocated-dump: a section's bytes with the relocations of a
 * relocatable object applied, as readelf's apply_relocations does for
 * x86-64. It applies only the absolute and PC-relative data relocations
 * debug sections use (R_X86_64_64, R_X86_64_32, R_X86_64_PC32,
 * R_X86_64_PC64; R_X86_64_NONE is skipped); every other type is left as it
 * is, with a warning each time the unapplied type changes within the run.
 */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { symbolTypeName } from './names.js';

const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_DYNSYM = 11;
const SHT_REL = 9;
const ET_REL = 1;
const STT_SECTION = 3;
const STT_COMMON = 5;
const MASK64 = 0xffffffffffffffffn;

/** The size a relocation type patches and whether it is PC-relative (undefined: readelf cannot apply it). */
function relocKind(type: number): { size: number; pcrel: boolean } | undefined {
  switch (type) {
    case 1: return { size: 8, pcrel: false }; // R_X86_64_64
    case 2: return { size: 4, pcrel: true }; // R_X86_64_PC32
    case 10: return { size: 4, pcrel: false }; // R_X86_64_32
    case 24: return { size: 8, pcrel: true }; // R_X86_64_PC64
    default: return undefined;
  }
}

/** A copy of `data` (section `s`'s bytes) with the relocations against `s` applied. */
export function applyRelocations(ctx: DumpContext, s: SectionHeader, data: Buffer): Buffer {
  const { elf, session } = ctx;
  if (elf.header.e_type !== ET_REL) return data;
  const out = Buffer.from(data);
  const shnum = elf.sections.length;
  for (const rs of elf.sections) {
    if ((rs.sh_type !== SHT_RELA && rs.sh_type !== SHT_REL) || rs.sh_info >= shnum || rs.sh_info !== s.index || rs.sh_size === 0 || rs.sh_link >= shnum) continue;
    const symsec = elf.sections[rs.sh_link];
    if (symsec.sh_type !== SHT_SYMTAB && symsec.sh_type !== SHT_DYNSYM) continue;
    ctx.needSection(rs);
    ctx.needSymtab(rs.sh_link);
    const relocs = elf.relocations(rs);
    const syms = elf.symbolTable(rs.sh_link);
    const isRela = rs.sh_type === SHT_RELA;
    for (let i = 0; i < relocs.count; i++) {
      const type = relocs.type(i);
      if (type === 0) continue; // R_X86_64_NONE
      const kind = relocKind(type);
      if (kind === undefined) {
        if (type !== session.lastUnappliedReloc) session.warn(`unable to apply unsupported reloc type ${type} to section ${ctx.sectionName(s)}\n`);
        session.lastUnappliedReloc = type;
        continue;
      }
      const off = relocs.offset(i);
      if (off > BigInt(out.length) || off + BigInt(kind.size) > BigInt(out.length)) {
        session.warn(`skipping invalid relocation offset 0x${off.toString(16)} in section ${ctx.sectionName(s)}\n`);
        continue;
      }
      const symIndex = relocs.symbol(i);
      if (symIndex >= syms.count) {
        session.warn(`skipping invalid relocation symbol index 0x${symIndex.toString(16)} in section ${ctx.sectionName(s)}\n`);
        continue;
      }
      const stType = syms.type(symIndex);
      if (symIndex !== 0 && stType !== STT_COMMON && stType > STT_SECTION) {
        const typeName = symbolTypeName(stType, ctx.machine, ctx.osabi, ctx.file);
        session.warn(`skipping unexpected symbol type ${typeName} in section ${ctx.sectionName(rs)} relocation ${i}\n`);
        continue;
      }
      const at = Number(off);
      let addend = isRela ? relocs.addend(i) : 0n;
      if (!isRela) addend += kind.size === 8 ? out.readBigUInt64LE(at) : BigInt(out.readUInt32LE(at));
      let v = addend + syms.value(symIndex);
      if (kind.pcrel) v -= off;
      v &= MASK64;
      if (kind.size === 8) out.writeBigUInt64LE(v, at);
      else out.writeUInt32LE(Number(v & 0xffffffffn), at);
    }
  }
  return out;
}
