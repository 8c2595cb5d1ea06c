/** Small edits of the ELF model that link needs: dropping a section with everything that hangs off it. */
import { ElfObject, Section } from '../../elf/model.js';

/**
 * Removes a section, the relocation sections that apply to it and the symbols
 * defined in it. Throws when anything else still refers to it or to those
 * symbols (a relocation elsewhere, a group, a sh_link).
 */
export function removeSection(obj: ElfObject, section: Section): void {
  const doomed = new Set<Section>([section]);
  for (const s of obj.sections) if (s.isRelocation && s.infoSection === section) doomed.add(s);
  const doomedSymbols = new Set(obj.symbols.filter((sym) => sym.section !== null && doomed.has(sym.section)));
  for (const s of obj.sections) {
    if (doomed.has(s)) continue;
    if (s.link && doomed.has(s.link)) throw new Error(`section ${s.name} links to ${s.link.name}`);
    if (s.infoSection && doomed.has(s.infoSection)) throw new Error(`section ${s.name} refers to ${s.infoSection.name}`);
    if (s.relocations) {
      for (const r of s.relocations) {
        if (r.symbol && doomedSymbols.has(r.symbol)) throw new Error(`a relocation in ${s.name} refers to symbol ${r.symbol.name} of section ${section.name}`);
      }
    }
    if (s.group) {
      const members = s.group.members.filter((m) => !doomed.has(m));
      s.group.members = members;
      if (s.group.signature && doomedSymbols.has(s.group.signature)) throw new Error(`group ${s.name} is signed by a symbol of ${section.name}`);
    }
  }
  obj.sections = obj.sections.filter((s) => !doomed.has(s));
  obj.symbols = obj.symbols.filter((sym) => !doomedSymbols.has(sym));
  obj.renumber();
}
