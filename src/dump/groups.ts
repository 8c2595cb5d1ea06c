/** readelf -g: section groups (COMDAT). */
import type { DumpContext } from './context.js';
import { DumpUnsupportedError, internalSectionIndex } from './names.js';
import { padStart } from './format.js';

const SHT_GROUP = 17;
const SHT_SYMTAB = 2;
const STT_SECTION = 3;

export function printSectionGroups(ctx: DumpContext): void {
  const { elf, out, file } = ctx;
  const shnum = elf.sections.length;
  const groups = elf.sections.filter((s) => s.sh_type === SHT_GROUP);
  // readelf 2.40 says the same for a file without section headers.
  if (groups.length === 0) {
    out.w('\nThere are no section groups in this file.\n');
    return;
  }
  const seen = new Uint8Array(shnum);
  for (const g of groups) {
    const bad = (why: string): never => { throw new DumpUnsupportedError(file, `section group ${g.index} with ${why}`); };
    if (g.sh_link >= shnum || elf.sections[g.sh_link].sh_type !== SHT_SYMTAB) bad('a bad sh_link');
    ctx.needSymtab(g.sh_link);
    ctx.needSection(g);
    const symtab = elf.symbolTable(g.sh_link);
    if (g.sh_info >= symtab.count) bad('a bad sh_info');
    let groupName: string;
    if (symtab.type(g.sh_info) === STT_SECTION) {
      const ndx = internalSectionIndex(symtab.shndx(g.sh_info), () => symtab.extendedIndex(g.sh_info), symtab.hasExtendedIndices);
      if (ndx === 0 || ndx >= shnum) bad('a bad signature section');
      groupName = ctx.rawSectionName(elf.sections[ndx]);
    } else {
      const n = symtab.nameOrUndefined(g.sh_info);
      groupName = n === undefined ? '<corrupt>' : n;
    }
    if (g.sh_entsize !== 4 || g.sh_size < 4) bad('an odd size or entry size');
    const data = elf.sectionData(g);
    const count = Math.floor(g.sh_size / 4) - 1;
    const flags = data.readUInt32LE(0);
    let flagText: string;
    if (flags === 0) flagText = '';
    else if (flags === 1) flagText = 'COMDAT ';
    else bad(`flags 0x${flags.toString(16)}`);
    const lines: string[] = [`\n${flagText!}group section [${padStart(String(g.index), 5)}] \`${ctx.sectionName(g)}' [${groupName}] contains ${count} sections:\n   [Index]    Name\n`];
    for (let j = 0; j < count; j++) {
      const m = data.readUInt32LE(4 + j * 4);
      if (m >= shnum) bad(`member ${m} past the last section`);
      if (seen[m]) bad(`section ${m} in more than one group`);
      seen[m] = 1;
      lines.push(`   [${padStart(String(m), 5)}]   ${ctx.sectionName(elf.sections[m])}\n`);
    }
    out.w(lines.join(''));
  }
}
