/**
 * A file whose section header table readelf cannot load (past the end of the
 * file, an entry size below a header's, no offset, no count): readelf says
 * why, then shows only what needs no sections. Without -D it drops symbols
 * and relocations; unwind information, versions, section dumps and
 * architecture notes always; -g reports that the headers are missing; notes
 * come from PT_NOTE segments and the dynamic section from its segment.
 */
import type { DumpContext } from './context.js';
import type { DumpOptions } from './options.js';

/** What readelf still does for such a file. */
export function optionsWithoutSections(o: DumpOptions): DumpOptions {
  const keepDynamic = o.useDynamic;
  return {
    ...o, sectionHeaders: false, sectionDetails: false, unwind: false, versionInfo: false, archSpecific: false,
    hexDumps: [], stringDumps: [], relocatedDumps: [], sectionRequests: [],
    syms: keepDynamic && o.syms, dynSyms: keepDynamic && o.dynSyms, relocs: keepDynamic && o.relocs,
  };
}

/**
 * readelf's messages where it fails to load the section headers, with what -S
 * or -t print first; `asked` are the options before optionsWithoutSections.
 * Returns whether section groups can still be shown ("no groups" when there are no sections).
 */
export function reportUnreadableSections(ctx: DumpContext, asked: DumpOptions): boolean {
  const { elf, session } = ctx;
  const why = elf.unreadableSections!;
  const count = elf.shnum;
  if (count !== 0 && asked.sectionHeaders && !asked.fileHeader) {
    ctx.out.w(`There ${count === 1 ? 'is' : 'are'} ${count} section header${count === 1 ? '' : 's'}, starting at offset ${elf.header.e_shoffRaw === 0n ? '0' : `0x${elf.header.e_shoffRaw.toString(16)}`}:\n`);
  }
  if (elf.largeSectionEntries) session.warn('The e_shentsize field in the ELF header is larger than the size of an ELF section header\n');
  if (why.message !== undefined) {
    if (why.warning) session.warn(why.message);
    else session.error(why.message);
  }
  if (count === 0) return true;
  if (asked.sectionGroups) session.error('Section headers are not available!\n');
  return false;
}
