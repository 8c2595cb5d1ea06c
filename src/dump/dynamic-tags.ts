/** Dynamic tags (DT_*) and the names readelf 2.40 gives them (its get_dynamic_type). */
import type { DumpContext } from './context.js';
import { DumpUnsupportedError, ELFOSABI_SOLARIS } from './names.js';

export const DT = {
  NULL: 0n, NEEDED: 1n, PLTRELSZ: 2n, PLTGOT: 3n, HASH: 4n, STRTAB: 5n, SYMTAB: 6n, RELA: 7n, RELASZ: 8n, RELAENT: 9n,
  STRSZ: 10n, SYMENT: 11n, INIT: 12n, FINI: 13n, SONAME: 14n, RPATH: 15n, SYMBOLIC: 16n, REL: 17n, RELSZ: 18n,
  RELENT: 19n, PLTREL: 20n, DEBUG: 21n, TEXTREL: 22n, JMPREL: 23n, BIND_NOW: 24n, INIT_ARRAY: 25n, FINI_ARRAY: 26n,
  INIT_ARRAYSZ: 27n, FINI_ARRAYSZ: 28n, RUNPATH: 29n, FLAGS: 30n, PREINIT_ARRAY: 32n, PREINIT_ARRAYSZ: 33n,
  SYMTAB_SHNDX: 34n, RELRSZ: 35n, RELR: 36n, RELRENT: 37n,
  GNU_FLAGS_1: 0x6ffffdf4n, GNU_PRELINKED: 0x6ffffdf5n, GNU_CONFLICTSZ: 0x6ffffdf6n, GNU_LIBLISTSZ: 0x6ffffdf7n,
  CHECKSUM: 0x6ffffdf8n, PLTPADSZ: 0x6ffffdf9n, MOVEENT: 0x6ffffdfan, MOVESZ: 0x6ffffdfbn, FEATURE: 0x6ffffdfcn,
  POSFLAG_1: 0x6ffffdfdn, SYMINSZ: 0x6ffffdfen, SYMINENT: 0x6ffffdffn,
  ADDRRNGLO: 0x6ffffe00n, GNU_HASH: 0x6ffffef5n, TLSDESC_PLT: 0x6ffffef6n, TLSDESC_GOT: 0x6ffffef7n,
  GNU_CONFLICT: 0x6ffffef8n, GNU_LIBLIST: 0x6ffffef9n, CONFIG: 0x6ffffefan, DEPAUDIT: 0x6ffffefbn, AUDIT: 0x6ffffefcn,
  PLTPAD: 0x6ffffefdn, MOVETAB: 0x6ffffefen, SYMINFO: 0x6ffffeffn,
  VERSYM: 0x6ffffff0n, RELACOUNT: 0x6ffffff9n, RELCOUNT: 0x6ffffffan, FLAGS_1: 0x6ffffffbn, VERDEF: 0x6ffffffcn,
  VERDEFNUM: 0x6ffffffdn, VERNEED: 0x6ffffffen, VERNEEDNUM: 0x6fffffffn,
  AUXILIARY: 0x7ffffffdn, USED: 0x7ffffffen, FILTER: 0x7fffffffn,
} as const;

const NAMES = new Map<bigint, string>(Object.entries(DT).map(([k, v]) => [v, k]));

const DT_LOOS = 0x6000000dn;
const DT_HIOS = 0x6ffff000n;
const DT_LOPROC = 0x70000000n;
const DT_HIPROC = 0x7fffffffn;
/** Machines with their own names for processor-specific tags. */
const PROC_NAMES = new Set([183 /* AArch64 */, 8, 10 /* MIPS */, 43 /* SPARCV9 */, 20, 21 /* PPC */, 50 /* IA-64 */,
  0x9026 /* Alpha */, 135 /* Score */, 140 /* TI C6000 */, 113 /* Nios II */, 243 /* RISC-V */]);

/** readelf's get_dynamic_type. */
export function dynamicTagName(ctx: DumpContext, tag: bigint): string {
  const n = NAMES.get(tag);
  if (n !== undefined) return n;
  const unsupported = () => new DumpUnsupportedError(ctx.file, `dynamic tag 0x${tag.toString(16)} of machine ${ctx.machine}`);
  if (tag >= DT_LOPROC && tag <= DT_HIPROC) {
    if (PROC_NAMES.has(ctx.machine) || ctx.osabi === ELFOSABI_SOLARIS) throw unsupported();
    return `Processor Specific: ${tag.toString(16)}`;
  }
  if ((tag >= DT_LOOS && tag <= DT_HIOS) || (ctx.machine === 15 && tag >= 0x60000000n && tag <= 0x6fffffffn)) {
    if (ctx.machine === 15 || ctx.machine === 50 || ctx.osabi === ELFOSABI_SOLARIS) throw unsupported();
    return `Operating System specific: ${tag.toString(16)}`;
  }
  return `<unknown>: ${tag.toString(16)}`;
}
