/**
 * readelf -t/--section-details (and -N, the same in 2.40): the section
 * header table with full names on their own line, flags spelled out, and
 * the compression header of SHF_COMPRESSED sections.
 */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { ELFOSABI_FREEBSD, ELFOSABI_GNU, ELFOSABI_NONE, DumpUnsupportedError, sectionTypeName } from './names.js';
import { hex, padEnd, padStart } from './format.js';
import { sectionTableIntro } from './section-headers.js';
import { checkListedSection } from './section-checks.js';

const SHF_COMPRESSED = 0x800;
const SHF_MASKOS = 0x0ff00000;
const SHF_MASKPROC = 0xf0000000;
const SHF_GNU_RETAIN = 0x200000;
const SHF_GNU_MBIND = 0x01000000;
const SHF_ORDERED = 0x40000000;
const EM_386 = 3;
const EM_IAMCU = 6;
/** x86 and SPARC name SHF_ORDERED. */
const ORDERED_MACHINES = new Set([EM_386, EM_IAMCU, 62, 180, 181, 11, 18, 43, 2]);
const EM_IA_64 = 50;
const EM_ARM = 40;
const EM_PPC = 20;

const GENERIC: Record<number, string> = {
  0x1: 'WRITE', 0x2: 'ALLOC', 0x4: 'EXEC', 0x10: 'MERGE', 0x20: 'STRINGS', 0x40: 'INFO LINK', 0x80: 'LINK ORDER',
  0x100: 'OS NONCONF', 0x200: 'GROUP', 0x400: 'TLS', 0x80000000: 'EXCLUDE', 0x800: 'COMPRESSED',
};

/** readelf's get_elf_section_flags in detail mode: `[flags]: NAME, NAME, OS (..), PROC (..), UNKNOWN (..)`. */
export function sectionFlagNames(ctx: DumpContext, sh_flags: number): string {
  const { machine, osabi } = ctx;
  if ((machine === EM_IA_64 || machine === EM_ARM || machine === EM_PPC) && ((sh_flags & ~0xfff) & ~0x80000000) !== 0) {
    throw new DumpUnsupportedError(ctx.file, `section flags of machine ${machine}`);
  }
  const names: string[] = [];
  let os = 0;
  let proc = 0;
  let unknown = 0;
  let flags = sh_flags >>> 0;
  while (flags !== 0) {
    const flag = (flags & -flags) >>> 0;
    flags = (flags & ~flag) >>> 0;
    let name = GENERIC[flag];
    if (name === undefined) {
      if (flag === SHF_ORDERED && ORDERED_MACHINES.has(machine)) name = 'ORDERED';
      if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD) && flag === SHF_GNU_RETAIN) name = 'GNU_RETAIN';
      if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD || osabi === ELFOSABI_NONE) && flag === SHF_GNU_MBIND) name = 'GNU_MBIND';
    }
    if (name !== undefined) names.push(name);
    else if (flag & SHF_MASKOS) os |= flag;
    else if ((flag & SHF_MASKPROC) >>> 0) proc = (proc | flag) >>> 0;
    else unknown |= flag;
  }
  if (os) names.push(`OS (${hex(os, 16)})`);
  if (proc) names.push(`PROC (${hex(proc, 16)})`);
  if (unknown) names.push(`UNKNOWN (${hex(unknown, 16)})`);
  return `[${hex(sh_flags >>> 0, 16)}]: ${names.join(', ')}`;
}

/** The `ZLIB, size, align` line of a compressed section. */
function compressionLine(ctx: DumpContext, s: SectionHeader): string {
  const buf = ctx.elf.buf;
  if (s.sh_offset + 24 > buf.length) throw new DumpUnsupportedError(ctx.file, `a compression header of section ${s.index} past the end of the file`);
  ctx.need(s.sh_offset, 24);
  const type = buf.readUInt32LE(s.sh_offset);
  const size = buf.readBigUInt64LE(s.sh_offset + 8);
  const align = buf.readBigUInt64LE(s.sh_offset + 16);
  const kind = type === 1 ? 'ZLIB' : type === 2 ? 'ZSTD' : `[<unknown>: 0x${type.toString(16)}]`;
  return `       ${kind}, ${hex(size, 16)}, ${align}\n`;
}

export function printSectionDetails(ctx: DumpContext, withFileHeader: boolean): void {
  const { elf, out, wide, machine, osabi, file } = ctx;
  if (!sectionTableIntro(ctx, withFileHeader)) return;
  if (wide) out.w('  [Nr] Name\n       Type            Address          Off    Size   ES   Lk Inf Al\n');
  else out.w('  [Nr] Name\n       Type              Address          Offset            Link\n       Size              EntSize          Info              Align\n');
  out.w('       Flags\n');
  for (const s of elf.sections) {
    checkListedSection(ctx, s);
    const type = sectionTypeName(s.sh_type, machine, osabi, file);
    let text = `  [${padStart(String(s.index), 2)}] ${ctx.sectionName(s)}\n       ${wide ? padEnd(type, 15) : padEnd(type, 15).slice(0, 15)} `;
    if (wide) {
      text += `${hex(s.sh_addr, 16)} ${hex(s.sh_offset, 6)} ${hex(s.sh_size, 6)} ${hex(s.sh_entsize, 2)}  ${padStart(String(s.sh_link), 2)} ${padStart(String(s.sh_info), 3)} ${padStart(String(s.sh_addralign), 2)}\n`;
    } else {
      text += ` ${hex(s.sh_addr, 16)}  ${hex(s.sh_offset, 16)}  ${s.sh_link}\n       ${hex(s.sh_size, 16)} ${hex(s.sh_entsize, 16)}  ${padEnd(String(s.sh_info), 16)}  ${s.sh_addralign}\n`;
    }
    text += `       ${sectionFlagNames(ctx, s.sh_flags)}\n`;
    if ((s.sh_flags & SHF_COMPRESSED) !== 0) text += compressionLine(ctx, s);
    out.w(text);
  }
}
