/**
 * The names readelf 2.40 prints for ELF field values: file types, OS/ABI,
 * machines, section and segment types, symbol types, bindings and
 * visibilities, section indices, section flags (x86-64 relocation types: rela/x86_64.ts).
 * Machine-specific values are named for x86-64 (and its L1OM/K1OM siblings);
 * for other machines kelp refuses them rather than print something readelf
 * would print differently.
 */
import { KelpError } from '../errors.js';
import { MACHINE_NAMES } from './machines.js';

export const EM_X86_64 = 62;
const EM_L1OM = 180;
const EM_K1OM = 181;
const EM_ARM = 40;
const EM_PPC = 20;
const EM_IA_64 = 50;

export const ELFOSABI_NONE = 0;
export const ELFOSABI_GNU = 3;
export const ELFOSABI_SOLARIS = 6;
export const ELFOSABI_FREEBSD = 9;

/** A value kelp cannot name the way readelf would (another machine's processor-specific value). */
export class DumpUnsupportedError extends KelpError {
  constructor(file: string, what: string) {
    super(`${what} is not supported by kelp dump`, file);
  }
}

/** True for the machines whose processor-specific values kelp names (x86-64 and its relatives). */
export function isX86_64(machine: number): boolean {
  return machine === EM_X86_64 || machine === EM_L1OM || machine === EM_K1OM;
}

export function machineName(machine: number): string {
  return MACHINE_NAMES.get(machine) ?? `<unknown>: 0x${machine.toString(16)}`;
}

const OSABI_NAMES: readonly string[] = [
  'UNIX - System V', 'UNIX - HP-UX', 'UNIX - NetBSD', 'UNIX - GNU', '', '', 'UNIX - Solaris', 'UNIX - AIX',
  'UNIX - IRIX', 'UNIX - FreeBSD', 'UNIX - TRU64', 'Novell - Modesto', 'UNIX - OpenBSD', 'VMS - OpenVMS',
  'HP - Non-Stop Kernel', 'AROS', 'FenixOS', 'Nuxi CloudABI', 'Stratus Technologies OpenVOS',
];

/** OS/ABI names; values of 64 and above are machine-specific for a few machines. */
export function osabiName(osabi: number, machine: number, file: string): string {
  const n = OSABI_NAMES[osabi];
  if (n) return n;
  if (osabi >= 64) {
    // ARM, TI C6000, MSP430 and AMDGPU give some of these values names.
    if (machine === EM_ARM || machine === 140 || machine === 105 || machine === 224) {
      throw new DumpUnsupportedError(file, `OS/ABI ${osabi} on machine ${machine}`);
    }
  }
  return `<unknown: ${osabi.toString(16)}>`;
}

/** The file type, with the PIE distinction readelf draws for ET_DYN. */
export function fileTypeName(e_type: number, isPie: boolean): string {
  switch (e_type) {
    case 0: return 'NONE (None)';
    case 1: return 'REL (Relocatable file)';
    case 2: return 'EXEC (Executable file)';
    case 3: return isPie ? 'DYN (Position-Independent Executable file)' : 'DYN (Shared object file)';
    case 4: return 'CORE (Core file)';
    default:
      if (e_type >= 0xff00) return `Processor Specific: (${e_type.toString(16)})`;
      if (e_type >= 0xfe00) return `OS Specific: (${e_type.toString(16)})`;
      return `<unknown>: ${e_type.toString(16)}`;
  }
}

const SECTION_TYPES = new Map<number, string>([
  [0, 'NULL'], [1, 'PROGBITS'], [2, 'SYMTAB'], [3, 'STRTAB'], [4, 'RELA'], [5, 'HASH'], [6, 'DYNAMIC'],
  [7, 'NOTE'], [8, 'NOBITS'], [9, 'REL'], [10, 'SHLIB'], [11, 'DYNSYM'], [14, 'INIT_ARRAY'],
  [15, 'FINI_ARRAY'], [16, 'PREINIT_ARRAY'], [17, 'GROUP'], [18, 'SYMTAB SECTION INDICES'], [19, 'RELR'],
  [0x6fff4700, 'GNU_INCREMENTAL_INPUTS'], [0x6ffffff0, 'VERSYM'], [0x6ffffff5, 'GNU_ATTRIBUTES'],
  [0x6ffffff6, 'GNU_HASH'], [0x6ffffff7, 'GNU_LIBLIST'], [0x6ffffffc, 'VERDEF'], [0x6ffffffd, 'VERDEF'],
  [0x6ffffffe, 'VERNEED'], [0x6fffffff, 'VERSYM'],
]);

export function sectionTypeName(sh_type: number, machine: number, osabi: number, file: string): string {
  const n = SECTION_TYPES.get(sh_type);
  if (n !== undefined) return n;
  if (sh_type >= 0x60000000 && sh_type <= 0x6fffffff) {
    if (osabi === ELFOSABI_SOLARIS || machine === EM_IA_64) throw new DumpUnsupportedError(file, `section type 0x${sh_type.toString(16)}`);
    return `LOOS+${altHex(sh_type - 0x60000000)}`;
  }
  if (sh_type >= 0x70000000 && sh_type <= 0x7fffffff) {
    if (!isX86_64(machine)) throw new DumpUnsupportedError(file, `processor-specific section type 0x${sh_type.toString(16)} for machine ${machine}`);
    if (sh_type === 0x70000001) return 'X86_64_UNWIND';
    if (sh_type === 0x7fffffff) return 'FILTER';
    return `LOPROC+${altHex(sh_type - 0x70000000)}`;
  }
  if (sh_type >= 0x80000000) return `LOUSER+${altHex(sh_type - 0x80000000)}`;
  return `${sh_type.toString(16).padStart(8, '0')}: <unknown>`;
}

const SEGMENT_TYPES = new Map<number, string>([
  [0, 'NULL'], [1, 'LOAD'], [2, 'DYNAMIC'], [3, 'INTERP'], [4, 'NOTE'], [5, 'SHLIB'], [6, 'PHDR'], [7, 'TLS'],
  [0x6474e550, 'GNU_EH_FRAME'], [0x6474e551, 'GNU_STACK'], [0x6474e552, 'GNU_RELRO'], [0x6474e553, 'GNU_PROPERTY'],
  [0x6474e554, 'GNU_SFRAME'], [0x65a3dbe6, 'OPENBSD_RANDOM'], [0x65a3dbe7, 'OPENBSD_WXNEED'], [0x65a41be6, 'OPENBSD_BOOTDATA'],
]);

export function segmentTypeName(p_type: number, machine: number, osabi: number, file: string): string {
  const n = SEGMENT_TYPES.get(p_type);
  if (n !== undefined) return n;
  if (p_type >= 0x70000000 && p_type <= 0x7fffffff) {
    if (!isX86_64(machine)) throw new DumpUnsupportedError(file, `processor-specific segment type 0x${p_type.toString(16)} for machine ${machine}`);
    return `LOPROC+${altHex(p_type - 0x70000000)}`;
  }
  if (p_type >= 0x60000000 && p_type <= 0x6fffffff) {
    if (osabi === ELFOSABI_SOLARIS || machine === EM_IA_64 || osabi === 1 /* HP-UX */) {
      throw new DumpUnsupportedError(file, `segment type 0x${p_type.toString(16)}`);
    }
    return `LOOS+${altHex(p_type - 0x60000000)}`;
  }
  return `<unknown>: ${p_type.toString(16)}`;
}

const SYMBOL_TYPES = ['NOTYPE', 'OBJECT', 'FUNC', 'SECTION', 'FILE', 'COMMON', 'TLS'];

export function symbolTypeName(type: number, machine: number, osabi: number, file: string): string {
  if (type < SYMBOL_TYPES.length) return SYMBOL_TYPES[type];
  if (type === 8) return 'RELC';
  if (type === 9) return 'SRELC';
  if (type >= 13) {
    if (!isX86_64(machine)) throw new DumpUnsupportedError(file, `processor-specific symbol type ${type} for machine ${machine}`);
    return `<processor specific>: ${type}`;
  }
  if (type >= 10) {
    if (type === 10 && (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD)) return 'IFUNC';
    return `<OS specific>: ${type}`;
  }
  return `<unknown>: ${type}`;
}

export function symbolBindName(bind: number, machine: number, osabi: number, file: string): string {
  switch (bind) {
    case 0: return 'LOCAL';
    case 1: return 'GLOBAL';
    case 2: return 'WEAK';
    default:
      if (bind >= 13) {
        if (!isX86_64(machine)) throw new DumpUnsupportedError(file, `processor-specific symbol binding ${bind} for machine ${machine}`);
        return `<processor specific>: ${bind}`;
      }
      if (bind >= 10) {
        if (bind === 10 && (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD)) return 'UNIQUE';
        return `<OS specific>: ${bind}`;
      }
      return `<unknown>: ${bind}`;
  }
}

export const VISIBILITY = ['DEFAULT', 'INTERNAL', 'HIDDEN', 'PROTECTED'];

/**
 * A symbol's section index the way readelf holds it: a raw reserved st_shndx
 * (SHN_ABS, SHN_LIVEPATCH, ...) moves up to 0xffffffxx, while an index read
 * from SHT_SYMTAB_SHNDX stays as it is, so section 0xff20 of a big object is a
 * section and st_shndx 0xff20 is SHN_LIVEPATCH.
 */
export function internalSectionIndex(raw: number, extended: () => number, hasExtended: boolean): number {
  if (raw === 0xffff) return hasExtended ? extended() : 0xffffffff;
  return raw >= 0xff00 ? raw + 0xffff0000 : raw;
}

/** The Ndx column of readelf -s, from the internal index. `shnum` is the section count. */
export function sectionIndexName(ndx: number, shnum: number, machine: number, file: string): string {
  switch (ndx) {
    case 0: return 'UND';
    case 0xfffffff1: return 'ABS';
    case 0xfffffff2: return 'COM';
    default:
      if (ndx >= 0xffffff00 && ndx <= 0xffffff1f) {
        if (!isX86_64(machine)) throw new DumpUnsupportedError(file, `processor-specific section index 0x${hex4(ndx)} for machine ${machine}`);
        if (ndx === 0xffffff02) return 'LARGE_COM';
        return `PRC[0x${hex4(ndx)}]`;
      }
      if (ndx >= 0xffffff20 && ndx <= 0xffffff3f) return `OS [0x${hex4(ndx)}]`;
      if (ndx >= 0xffffff00) return `RSV[0x${hex4(ndx)}]`;
      if (shnum !== 0 && ndx >= shnum) return `bad section index[${padNum(ndx | 0, 3)}]`;
      return padNum(ndx, 3);
  }
}

function hex4(v: number): string {
  return (v & 0xffff).toString(16).padStart(4, '0');
}

function padNum(v: number, w: number): string {
  const s = String(v);
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

export function altHex(v: number): string {
  return v === 0 ? '0' : `0x${v.toString(16)}`;
}

const SHF_MASKOS = 0x0ff00000;
const SHF_MASKPROC = 0xf0000000;
const SHF_GNU_RETAIN = 0x00200000;
const SHF_GNU_MBIND = 0x01000000;
const FLAG_LETTERS: Record<number, string> = {
  0x1: 'W', 0x2: 'A', 0x4: 'X', 0x10: 'M', 0x20: 'S', 0x40: 'I', 0x80: 'L', 0x100: 'O', 0x200: 'G', 0x400: 'T',
  0x800: 'C', 0x80000000: 'E',
};

const flagCache = new Map<string, string>();

/** The Flags column of readelf -S (letters in bit order). */
export function sectionFlags(sh_flags: number, machine: number, osabi: number, file: string): string {
  if (sh_flags === 0) return '';
  const key = `${sh_flags}/${machine}/${osabi}`;
  const hit = flagCache.get(key);
  if (hit !== undefined) return hit;
  let flags = sh_flags >>> 0;
  let out = '';
  while (flags !== 0) {
    const flag = (flags & -flags) >>> 0;
    flags = (flags & ~flag) >>> 0;
    const letter = FLAG_LETTERS[flag];
    if (letter !== undefined) {
      out += letter;
      continue;
    }
    if (isX86_64(machine) && flag === 0x10000000) out += 'l';
    else if (machine === EM_ARM || machine === EM_PPC) throw new DumpUnsupportedError(file, `section flags of machine ${machine}`);
    else if (flag & SHF_MASKOS) {
      if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD) && flag === SHF_GNU_RETAIN) out += 'R';
      else if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD || osabi === ELFOSABI_NONE) && flag === SHF_GNU_MBIND) out += 'D';
      else {
        out += 'o';
        flags = (flags & ~SHF_MASKOS) >>> 0;
      }
    } else if (flag & SHF_MASKPROC) {
      if (!isX86_64(machine)) throw new DumpUnsupportedError(file, `processor-specific section flags of machine ${machine}`);
      out += 'p';
      flags = (flags & ~SHF_MASKPROC) >>> 0;
    } else out += 'x';
  }
  if (flagCache.size < 4096) flagCache.set(key, out);
  return out;
}

/** The "Key to Flags" legend printed after the section headers. */
export function keyToFlags(machine: number, osabi: number): string {
  let s = 'Key to Flags:\n'
    + '  W (write), A (alloc), X (execute), M (merge), S (strings), I (info),\n'
    + '  L (link order), O (extra OS processing required), G (group), T (TLS),\n'
    + '  C (compressed), x (unknown), o (OS specific), E (exclude),\n  ';
  if (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD) s += 'R (retain), ';
  if (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD || osabi === ELFOSABI_NONE) s += 'D (mbind), ';
  if (isX86_64(machine)) s += 'l (large), ';
  else if (machine === EM_ARM) s += 'y (purecode), ';
  else if (machine === EM_PPC) s += 'v (VLE), ';
  return s + 'p (processor specific)\n';
}

