/**
 * ELF64 constants with their ELF spellings (System V gABI, the x86-64 psABI and
 * the Linux extensions kelp needs). Values are facts of the format.
 */

// e_ident
export const EI_NIDENT = 16;
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

// Sizes of the ELF64 structures.
export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const REL_SIZE = 16;
export const RELA_SIZE = 24;

// e_type
export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// e_machine (the ones kelp names itself; dump prints the rest through its table)
export const EM_NONE = 0;
export const EM_386 = 3;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

// Special section indices
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_LOPROC = 0xff00;
export const SHN_HIPROC = 0xff1f;
export const SHN_LOOS = 0xff20;
export const SHN_LIVEPATCH = 0xff20;
export const SHN_HIOS = 0xff3f;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;
export const SHN_HIRESERVE = 0xffff;

// sh_type
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_SHLIB = 10;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_RELR = 19;
export const SHT_LOOS = 0x60000000;
export const SHT_GNU_ATTRIBUTES = 0x6ffffff5;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_LIBLIST = 0x6ffffff7;
export const SHT_CHECKSUM = 0x6ffffff8;
export const SHT_GNU_verdef = 0x6ffffffd;
export const SHT_GNU_verneed = 0x6ffffffe;
export const SHT_GNU_versym = 0x6fffffff;
export const SHT_LOPROC = 0x70000000;
export const SHT_X86_64_UNWIND = 0x70000001;
export const SHT_HIPROC = 0x7fffffff;
export const SHT_LOUSER = 0x80000000;
export const SHT_HIUSER = 0xffffffff;

// sh_flags
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHF_INFO_LINK = 0x40;
export const SHF_LINK_ORDER = 0x80;
export const SHF_OS_NONCONFORMING = 0x100;
export const SHF_GROUP = 0x200;
export const SHF_TLS = 0x400;
export const SHF_COMPRESSED = 0x800;
export const SHF_MASKOS = 0x0ff00000;
/** Linux: a relocation section the livepatch core applies (module-elf-format). */
export const SHF_RELA_LIVEPATCH = 0x00100000;
export const SHF_GNU_RETAIN = 0x00200000;
export const SHF_MASKPROC = 0xf0000000;
export const SHF_X86_64_LARGE = 0x10000000;
export const SHF_EXCLUDE = 0x80000000;

// Section group flags
export const GRP_COMDAT = 0x1;
/** The size of one SHT_GROUP entry (a 32-bit word). */
export const GRP_ENTRY_SIZE = 4;

// Symbol binding, type, visibility
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

export const ELF64_ST_BIND = (info: number): number => info >> 4;
export const ELF64_ST_TYPE = (info: number): number => info & 0xf;
export const ELF64_ST_INFO = (bind: number, type: number): number => ((bind << 4) | (type & 0xf)) & 0xff;
export const ELF64_ST_VISIBILITY = (other: number): number => other & 0x3;

// Program header types and flags
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;
export const PF_X = 0x1;
export const PF_W = 0x2;
export const PF_R = 0x4;

// x86-64 relocation types (psABI)
export const R_X86_64_NONE = 0;
export const R_X86_64_64 = 1;
export const R_X86_64_PC32 = 2;
export const R_X86_64_GOT32 = 3;
export const R_X86_64_PLT32 = 4;
export const R_X86_64_COPY = 5;
export const R_X86_64_GLOB_DAT = 6;
export const R_X86_64_JUMP_SLOT = 7;
export const R_X86_64_RELATIVE = 8;
export const R_X86_64_GOTPCREL = 9;
export const R_X86_64_32 = 10;
export const R_X86_64_32S = 11;
export const R_X86_64_16 = 12;
export const R_X86_64_PC16 = 13;
export const R_X86_64_8 = 14;
export const R_X86_64_PC8 = 15;
export const R_X86_64_DTPMOD64 = 16;
export const R_X86_64_DTPOFF64 = 17;
export const R_X86_64_TPOFF64 = 18;
export const R_X86_64_TLSGD = 19;
export const R_X86_64_TLSLD = 20;
export const R_X86_64_DTPOFF32 = 21;
export const R_X86_64_GOTTPOFF = 22;
export const R_X86_64_TPOFF32 = 23;
export const R_X86_64_PC64 = 24;
export const R_X86_64_GOTOFF64 = 25;
export const R_X86_64_GOTPC32 = 26;
export const R_X86_64_GOT64 = 27;
export const R_X86_64_GOTPCREL64 = 28;
export const R_X86_64_GOTPC64 = 29;
export const R_X86_64_GOTPLT64 = 30;
export const R_X86_64_PLTOFF64 = 31;
export const R_X86_64_SIZE32 = 32;
export const R_X86_64_SIZE64 = 33;
export const R_X86_64_GOTPC32_TLSDESC = 34;
export const R_X86_64_TLSDESC_CALL = 35;
export const R_X86_64_TLSDESC = 36;
export const R_X86_64_IRELATIVE = 37;
export const R_X86_64_RELATIVE64 = 38;
export const R_X86_64_GOTPCRELX = 41;
export const R_X86_64_REX_GOTPCRELX = 42;

// Note types kelp names (dump has the full tables)
export const NT_GNU_ABI_TAG = 1;
export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_PROPERTY_TYPE_0 = 5;
