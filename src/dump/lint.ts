/**
 * readelf -L/--lint: warnings about what is probably a mistake. readelf 2.40
 * checks the section headers: a section other than SHT_NOBITS (and the null
 * section) with a size of zero.
 */
import type { DumpContext } from './context.js';

const SHT_NOBITS = 8;

export function lintSections(ctx: DumpContext): void {
  for (const s of ctx.elf.sections) {
    if (s.index === 0 || s.sh_type === SHT_NOBITS || s.sh_size !== 0) continue;
    ctx.session.warn(`Section '${ctx.sectionName(s)}': has a size of zero - is this intended ?\n`);
  }
}
