/** readelf -l: program headers and the section-to-segment mapping. */
import { PT_INTERP } from '../../elf/constants.js';
import type { DumpContext } from './context.js';
import type { ProgramHeader, SectionHeader } from '../../elf/reader.js';
import { fileTypeName, segmentTypeName } from './names.js';
import { hex, padEnd } from './format.js';
import { isPie } from './dynamic.js';
import { DumpUnsupportedError } from './names.js';

const PT_DYNAMIC = 2;

const PT_NOTE = 4;
const PT_PHDR = 6;
const PT_TLS = 7;
const PT_LOAD = 1;
const PT_GNU_EH_FRAME = 0x6474e550;
const PT_GNU_STACK = 0x6474e551;
const PT_GNU_RELRO = 0x6474e552;
const PT_GNU_SFRAME = 0x6474e554;
const SHF_ALLOC = 0x2;
const SHF_TLS = 0x400;
const SHT_NOBITS = 8;
const M64 = (1n << 64n) - 1n;

export function printProgramHeaders(ctx: DumpContext, withFileHeader: boolean): void {
  const { elf, out, wide } = ctx;
  const h = elf.header;
  const phnum = elf.segments.length;
  if (elf.unreadableSegments !== undefined) {
    // readelf names the file and the header count, then fails to read them (segment-checks.ts gives its error).
    if (!withFileHeader) {
      out.w(`\nElf file type is ${fileTypeName(h.e_type, false)}\nEntry point 0x${h.e_entry.toString(16)}\n`
        + `There ${elf.phnum === 1 ? 'is' : 'are'} ${elf.phnum} program header${elf.phnum === 1 ? '' : 's'}, starting at offset ${h.e_phoffRaw}\n`);
    }
    return;
  }
  if (phnum === 0) {
    // A program header offset without headers is only warned about (checkProgramHeaders).
    if (h.e_phoff === 0) out.w('\nThere are no program headers in this file.\n');
    return;
  }
  if (!withFileHeader) {
    out.w(`\nElf file type is ${fileTypeName(h.e_type, isPie(ctx))}\n`
      + `Entry point 0x${h.e_entry.toString(16)}\n`
      + `There ${phnum === 1 ? 'is' : 'are'} ${phnum} program header${phnum === 1 ? '' : 's'}, starting at offset ${h.e_phoffRaw}\n`);
  }
  out.w('\nProgram Headers:\n');
  if (wide) out.w('  Type           Offset   VirtAddr           PhysAddr           FileSiz  MemSiz   Flg Align\n');
  else out.w('  Type           Offset             VirtAddr           PhysAddr\n                 FileSiz            MemSiz              Flags  Align\n');
  for (const p of elf.segments) {
    const type = padEnd(segmentTypeName(p.p_type, ctx.machine, ctx.osabi, ctx.file), 14).slice(0, 14);
    const flg = `${p.p_flags & 4 ? 'R' : ' '}${p.p_flags & 2 ? 'W' : ' '}${p.p_flags & 1 ? 'E' : ' '}`;
    let line: string;
    if (wide) {
      line = `  ${type} 0x${hex(p.p_offset, 6)} 0x${hex(p.p_vaddr, 16)} 0x${hex(p.p_paddr, 16)} 0x${hex(p.p_filesz, 6)} 0x${hex(p.p_memsz, 6)} ${flg} ${p.p_align === 0n ? '0' : '0x' + p.p_align.toString(16)}`;
    } else {
      line = `  ${type} 0x${hex(p.p_offset, 16)} 0x${hex(p.p_vaddr, 16)} 0x${hex(p.p_paddr, 16)}\n`
        + `                 0x${hex(p.p_filesz, 16)} 0x${hex(p.p_memsz, 16)}  ${flg}    0x${p.p_align.toString(16)}`;
    }
    if (p.p_type === PT_INTERP) line += interpreter(ctx, p);
    out.w(line + '\n');
  }
  if (elf.sections.length > 0 && ctx.hasNames) {
    out.w('\n Section to Segment mapping:\n  Segment Sections...\n');
    for (const p of elf.segments) {
      let line = `   ${String(p.index).padStart(2, '0')}     `;
      for (let j = 1; j < elf.sections.length; j++) {
        const s = elf.sections[j];
        if (!tbssSpecial(s, p) && inSegment(s, p)) line += ctx.sectionName(s) + ' ';
      }
      out.w(line + '\n');
    }
  }
}

function interpreter(ctx: DumpContext, p: ProgramHeader): string {
  const buf = ctx.elf.buf;
  if (p.p_offset >= BigInt(buf.length)) throw new DumpUnsupportedError(ctx.file, 'a PT_INTERP segment past the end of the file');
  // readelf reads the name as one whitespace-delimited word (at most PATH_MAX - 1 bytes) and prints it up to its NUL.
  let i = Number(p.p_offset);
  ctx.need(i, 65536);
  while (i < buf.length && isSpace(buf[i])) i++;
  if (i >= buf.length) throw new DumpUnsupportedError(ctx.file, 'an unreadable PT_INTERP name');
  const start = i;
  while (i < buf.length && i - start < 4095 && !isSpace(buf[i]) && buf[i] !== 0) i++;
  return `\n      [Requesting program interpreter: ${buf.toString('latin1', start, i)}]`;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function tbssSpecial(s: SectionHeader, p: ProgramHeader): boolean {
  return (s.sh_flags & SHF_TLS) !== 0 && s.sh_type === SHT_NOBITS && p.p_type !== PT_TLS;
}

function sectionSize(s: SectionHeader, p: ProgramHeader): bigint {
  return (s.sh_flags & SHF_TLS) === 0 || s.sh_type !== SHT_NOBITS || p.p_type === PT_TLS ? BigInt(s.sh_size) : 0n;
}

/** Whether a section lies in a segment (the strict test, vma checked), in 64-bit unsigned arithmetic. */
function inSegment(s: SectionHeader, p: ProgramHeader): boolean {
  const tls = (s.sh_flags & SHF_TLS) !== 0;
  const alloc = (s.sh_flags & SHF_ALLOC) !== 0;
  const t = p.p_type;
  if (!((tls && (t === PT_TLS || t === PT_GNU_RELRO || t === PT_LOAD)) || (!tls && t !== PT_TLS && t !== PT_PHDR))) return false;
  if (!alloc && (t === PT_LOAD || t === PT_DYNAMIC || t === PT_GNU_EH_FRAME || t === PT_GNU_STACK || t === PT_GNU_RELRO
    || t === PT_GNU_SFRAME || (t >= 0x6474e555 && t <= 0x6474f554))) return false;
  const size = sectionSize(s, p);
  const off = BigInt(s.sh_offset);
  if (s.sh_type !== SHT_NOBITS) {
    if (!(off >= p.p_offset)) return false;
    if (!(((off - p.p_offset) & M64) <= ((p.p_filesz - 1n) & M64))) return false;
    if (!((((off - p.p_offset) & M64) + size & M64) <= p.p_filesz)) return false;
  }
  if (alloc) {
    const a = s.sh_addr;
    if (!(a >= p.p_vaddr)) return false;
    if (!(((a - p.p_vaddr) & M64) <= ((p.p_memsz - 1n) & M64))) return false;
    if (!(((((a - p.p_vaddr) & M64) + size) & M64) <= p.p_memsz)) return false;
  }
  if ((t === PT_DYNAMIC || t === PT_NOTE) && s.sh_size === 0 && p.p_memsz !== 0n) {
    const offOk = s.sh_type === SHT_NOBITS || (off > p.p_offset && ((off - p.p_offset) & M64) < p.p_filesz);
    const addrOk = !alloc || (s.sh_addr > p.p_vaddr && ((s.sh_addr - p.p_vaddr) & M64) < p.p_memsz);
    if (!(offOk && addrOk)) return false;
  }
  return true;
}

