/**
 * readelf's sanity checks on the section header table, with its messages:
 * when the table is read (an sh_link, or an SHF_INFO_LINK sh_info, beyond
 * the section count), entry sizes of symbol, relocation and group sections
 * (a wrong one is reported and replaced by the right one for the rest of the
 * dump), -L's zero-sized sections, and, as each header is listed (-S, -t),
 * what sh_link and sh_info should point at and sizes beyond the file.
 */
import {
  ET_DYN, ET_EXEC, GRP_ENTRY_SIZE, REL_SIZE, RELA_SIZE, SHF_INFO_LINK, SHT_DYNAMIC, SHT_DYNSYM, SHT_FINI_ARRAY,
  SHT_GNU_HASH, SHT_GNU_LIBLIST, SHT_GNU_verdef, SHT_GNU_verneed, SHT_GNU_versym, SHT_GROUP, SHT_HASH,
  SHT_INIT_ARRAY, SHT_LOOS, SHT_NOBITS, SHT_NOTE, SHT_NULL, SHT_PREINIT_ARRAY, SHT_PROGBITS, SHT_REL, SHT_RELA,
  SHT_RELR, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, SYM_SIZE,
} from '../../elf/constants.js';
import type { SectionHeader } from '../../elf/reader.js';
import type { DumpContext } from './context.js';

const SHF_GNU_MBIND = 0x01000000;
const RELR_SIZE = 8;

/** The entry size readelf insists on for a section type, if it checks one. */
function expectedEntsize(type: number): number | undefined {
  switch (type) {
    case SHT_DYNSYM:
    case SHT_SYMTAB: return SYM_SIZE;
    case SHT_GROUP: return GRP_ENTRY_SIZE;
    case SHT_REL: return REL_SIZE;
    case SHT_RELA: return RELA_SIZE;
    case SHT_RELR: return RELR_SIZE;
    default: return undefined;
  }
}

/**
 * The checks readelf makes whenever it loads the section headers (whatever
 * is displayed): out-of-range links, entry sizes (corrected in `ctx.elf`),
 * and with -L, zero-sized sections that probably should not be.
 */
export function checkSectionHeaders(ctx: DumpContext): void {
  const { elf, session } = ctx;
  const num = elf.sections.length;
  if (elf.largeSectionEntries) session.warn('The e_shentsize field in the ELF header is larger than the size of an ELF section header\n');
  for (const s of elf.sections) {
    if (s.sh_link > num) session.warn(`Section ${s.index} has an out of range sh_link value of ${s.sh_link}\n`);
    if ((s.sh_flags & SHF_INFO_LINK) !== 0 && s.sh_info > num) session.warn(`Section ${s.index} has an out of range sh_info value of ${s.sh_info}\n`);
  }
  if (elf.unreadableNames !== undefined) session.error(`Reading ${elf.unreadableNames} bytes extends past end of file for string table\n`);
  for (const s of elf.sections) {
    const want = expectedEntsize(s.sh_type);
    if (want !== undefined && s.sh_entsize !== want) {
      session.error(`Section ${s.index} has invalid sh_entsize of ${s.sh_entsize.toString(16)}\n`);
      session.error(`(Using the expected size of ${want.toString(16)} for the rest of this dump)\n`);
      elf.useEntrySize(s, want);
    }
    if (!ctx.opts.lint || s.sh_size !== 0) continue;
    if (s.sh_type === SHT_REL || s.sh_type === SHT_RELA) {
      session.warn(`Section '${ctx.sectionName(s)}': zero-sized relocation section\n`);
    } else if (s.sh_type === SHT_NOTE || s.sh_type === SHT_PROGBITS) {
      session.warn(`Section '${ctx.sectionName(s)}': has a size of zero - is this intended ?\n`);
    }
  }
}

/** The checks readelf makes on one header as it lists it (-S, -t): what its sh_link and sh_info point at, its size. */
export function checkListedSection(ctx: DumpContext, s: SectionHeader): void {
  const { elf, session } = ctx;
  const num = elf.sections.length;
  const type = (i: number): number => elf.sections[i].sh_type;
  const linked = elf.header.e_type === ET_EXEC || elf.header.e_type === ET_DYN;
  const nr = String(s.index).padStart(2);
  // A dynamic relocation section whose entries all use symbol 0 need not name a symbol table.
  const linksSymtab = s.sh_type === SHT_REL || s.sh_type === SHT_RELA ? !(s.sh_link === 0 && linked) : true;
  switch (s.sh_type) {
    case SHT_REL:
    case SHT_RELA:
    case SHT_SYMTAB_SHNDX:
    case SHT_GROUP:
    case SHT_HASH:
    case SHT_GNU_HASH:
    case SHT_GNU_versym:
      if (linksSymtab && (s.sh_link === 0 || s.sh_link >= num || (type(s.sh_link) !== SHT_SYMTAB && type(s.sh_link) !== SHT_DYNSYM))) {
        session.warn(`[${nr}]: Link field (${s.sh_link}) should index a symtab section.\n`);
      }
      break;
    case SHT_DYNAMIC:
    case SHT_SYMTAB:
    case SHT_DYNSYM:
    case SHT_GNU_verneed:
    case SHT_GNU_verdef:
    case SHT_GNU_LIBLIST:
      if (s.sh_link === 0 || s.sh_link >= num || type(s.sh_link) !== SHT_STRTAB) {
        session.warn(`[${nr}]: Link field (${s.sh_link}) should index a string section.\n`);
      }
      break;
    case SHT_INIT_ARRAY:
    case SHT_FINI_ARRAY:
    case SHT_PREINIT_ARRAY:
      if (s.sh_link !== 0) session.warn(`[${nr}]: Unexpected value (${s.sh_link}) in link field.\n`);
      break;
    default:
      break;
  }
  switch (s.sh_type) {
    case SHT_REL:
    case SHT_RELA: {
      if (s.sh_info === 0 && linked) break;
      const t = s.sh_info === 0 || s.sh_info >= num ? undefined : type(s.sh_info);
      if (t === undefined || (t !== SHT_PROGBITS && t !== SHT_NOBITS && t !== SHT_NOTE && t !== SHT_INIT_ARRAY
        && t !== SHT_FINI_ARRAY && t !== SHT_PREINIT_ARRAY && t < SHT_LOOS)) {
        session.warn(`[${nr}]: Info field (${s.sh_info}) should index a relocatable section.\n`);
      }
      break;
    }
    case SHT_DYNAMIC:
    case SHT_HASH:
    case SHT_SYMTAB_SHNDX:
    case SHT_INIT_ARRAY:
    case SHT_FINI_ARRAY:
    case SHT_PREINIT_ARRAY:
      if (s.sh_info !== 0) session.warn(`[${nr}]: Unexpected value (${s.sh_info}) in info field.\n`);
      break;
    case SHT_GROUP:
    case SHT_SYMTAB:
    case SHT_DYNSYM:
      break;
    default:
      if (s.sh_type === SHT_NOBITS) break;
      if ((s.sh_flags & SHF_INFO_LINK) !== 0) {
        // readelf's format string for this one has no newline: the next message follows on the same line.
        if (s.sh_info < 1 || s.sh_info >= num) session.warn(`[${nr}]: Expected link to another section in info field`);
      } else if (s.sh_type < SHT_LOOS && (s.sh_flags & SHF_GNU_MBIND) === 0 && s.sh_info !== 0) {
        session.warn(`[${nr}]: Unexpected value (${s.sh_info}) in info field.\n`);
      }
      break;
  }
  if (s.sh_size > ctx.fileSize && s.sh_type !== SHT_NOBITS && s.sh_type !== SHT_NULL && s.sh_type < SHT_LOOS) {
    session.warn(`Size of section ${s.index} is larger than the entire file!\n`);
  }
}
