/**
 * The diff model's per-section arrays computed once when an object is read:
 * each section's class (sections.ts, from its name) and the relocation
 * section applying to it; and the check that section groups name a symbol.
 */
import type { CompactElf } from '../../elf/compact.js';
import { SHT_GROUP, SHT_REL, SHT_RELA } from '../../elf/constants.js';
import { ElfFormatError } from '../../elf/errors.js';
import { startsWith } from './name-bytes.js';
import { sectionClass } from './sections.js';

export interface SectionIndex {
  /** sections.ts class bits, from the name. */
  secClass: Uint16Array;
  /** The relocation section applying to a section. */
  secRela: Int32Array;
}

export function indexSections(e: CompactElf): SectionIndex {
  const nsec = e.shnum;
  const secClass = new Uint16Array(nsec);
  const secRela = new Int32Array(nsec);
  for (let s = 1; s < nsec; s++) {
    secClass[s] = plainSection(e, s) ? 0 : sectionClass(e.name(s));
    const t = e.type(s);
    if ((t === SHT_RELA || t === SHT_REL) && e.info(s) !== 0) secRela[e.info(s)] = s;
  }
  return { secClass, secRela };
}

/** A group section's signature must be a symbol (as ElfObject.read checks). */
export function checkGroups(e: CompactElf, file: string): void {
  for (let s = 1; s < e.shnum; s++) {
    if (e.type(s) !== SHT_GROUP) continue;
    const sig = e.info(s);
    if (e.link(s) !== e.symtab) throw new ElfFormatError(file, `section group ${s} (${e.name(s)})`, 'sh_link is not the symbol table', e.headerOffset(s));
    if (sig === 0 || sig >= e.nsym) throw new ElfFormatError(file, `section group ${s} (${e.name(s)})`, `signature symbol ${sig} is not a valid symbol`, e.headerOffset(s));
  }
}

/**
 * True for the bulk of a `-ffunction-sections -fdata-sections` object,
 * decided on the name's bytes without making a string: `.text.*` (but
 * not `.text.startup*`/`.text.exit*`), `.bss.*`, `.rodata.*` and
 * relocation sections, whose class is 0.
 */
function plainSection(e: CompactElf, s: number): boolean {
  const t = e.type(s);
  if (t === SHT_RELA || t === SHT_REL) return true;
  const a = e.nameStart(s);
  if (a < 0) return false;
  const b = e.buf;
  if (startsWith(b, a, '.text.')) return !startsWith(b, a, '.text.startup') && !startsWith(b, a, '.text.exit');
  return startsWith(b, a, '.bss.') || startsWith(b, a, '.rodata.');
}
