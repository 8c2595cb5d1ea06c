/** readelf -S: the section header table, wide and narrow layouts. */
import type { DumpContext } from './context.js';
import { keyToFlags, sectionFlags, sectionTypeName } from './names.js';
import { fmtSymbol, hex, padEnd, padStart } from './format.js';
import { checkListedSection } from './section-checks.js';

/**
 * The lines before a section table (-S and -t alike): "no sections", or the
 * count and offset (when the file header was not printed) and the title.
 * False when there are no sections.
 */
export function sectionTableIntro(ctx: DumpContext, withFileHeader: boolean): boolean {
  const { elf, out } = ctx;
  const shnum = elf.sections.length;
  if (shnum === 0) {
    out.w('\nThere are no sections in this file.\n');
    return false;
  }
  if (!withFileHeader) {
    out.w(`There ${shnum === 1 ? 'is' : 'are'} ${shnum} section header${shnum === 1 ? '' : 's'}, starting at offset 0x${elf.header.e_shoff.toString(16)}:\n`);
  }
  out.w(shnum > 1 ? '\nSection Headers:\n' : '\nSection Header:\n');
  return true;
}

export function printSectionHeaders(ctx: DumpContext, withFileHeader: boolean): void {
  const { elf, out, wide, machine, osabi, file } = ctx;
  if (!sectionTableIntro(ctx, withFileHeader)) return;
  if (wide) out.w('  [Nr] Name              Type            Address          Off    Size   ES Flg Lk Inf Al\n');
  else out.w('  [Nr] Name              Type             Address           Offset\n       Size              EntSize          Flags  Link  Info  Align\n');
  for (const s of elf.sections) {
    checkListedSection(ctx, s);
    const name = fmtSymbol(-17, ctx.rawSectionName(s), wide, ctx.utf8, ctx.symStyle);
    const type = sectionTypeName(s.sh_type, machine, osabi, file);
    const flags = padStart(sectionFlags(s.sh_flags, machine, osabi, file), 3);
    const nr = padStart(String(s.index), 2);
    if (wide) {
      out.w(`  [${nr}] ${name} ${padEnd(type, 15)} ${hex(s.sh_addr, 16)} ${hex(s.sh_offset, 6)} ${hex(s.sh_size, 6)} ${hex(s.sh_entsize, 2)} ${flags} ${padStart(String(s.sh_link), 2)} ${padStart(String(s.sh_info), 3)} ${padStart(String(s.sh_addralign), 2)}\n`);
    } else {
      out.w(`  [${nr}] ${name} ${padEnd(type, 15).slice(0, 15)}  ${hex(s.sh_addr, 16)}  ${hex(s.sh_offset, 8)}\n`
        + `       ${hex(s.sh_size, 16)}  ${hex(s.sh_entsize, 16)} ${flags}      ${padStart(String(s.sh_link), 2)}   ${padStart(String(s.sh_info), 3)}     ${s.sh_addralign}\n`);
    }
  }
  out.w(keyToFlags(machine, osabi));
}
