/**
 * `.klp.rela.<object>.<section>` sections (Documentation/livepatch/
 * module-elf-format.rst): the livepatch core, not the module loader, applies
 * every section flagged SHF_RELA_LIVEPATCH once <object> is loaded, picking
 * the object from the name. So: a name the core can parse, SHT_RELA,
 * SHF_ALLOC (the entries must stay in memory after load: a module patched
 * later is relocated then) and SHF_RELA_LIVEPATCH, sh_info naming a loaded
 * section of the module, sh_link the symbol table, an object that exists on
 * the target, and an object the patch has a klp_object for (the core applies
 * an object's sections only while patching that object).
 */
import { SHF_ALLOC, SHF_RELA_LIVEPATCH, SHT_RELA } from '../../elf/constants.js';
import { KLP_RELA_PREFIX, parseKlpRelaName } from '../kmod/names.js';
import type { CheckContext } from './context.js';

const MODULE_NAME = /^[A-Za-z0-9_]{1,55}$/;

export function checkKlpRelaSections(ctx: CheckContext): void {
  const { m, target, p } = ctx;
  for (const s of m.sections) {
    if (s.index === 0) continue;
    const name = m.name(s);
    const flagged = (s.sh_flags & SHF_RELA_LIVEPATCH) !== 0;
    if (!name.startsWith(KLP_RELA_PREFIX) && !flagged) continue;
    const place = `section ${name}`;
    const parsed = parseKlpRelaName(name);
    if (!parsed) {
      p.add('klp-rela.name', place, 'not a livepatch relocation section name the kernel can parse (.klp.rela.<object>.<section>, object at most 55 characters without \'.\')');
    }
    if (s.sh_type !== SHT_RELA) p.add('klp-rela.type', place, `sh_type is ${s.sh_type}, not SHT_RELA (4)`);
    const missing: string[] = [];
    if ((s.sh_flags & SHF_ALLOC) === 0) missing.push('SHF_ALLOC');
    if ((s.sh_flags & SHF_RELA_LIVEPATCH) === 0) missing.push('SHF_RELA_LIVEPATCH');
    if (missing.length > 0) {
      const why = (s.sh_flags & SHF_RELA_LIVEPATCH) === 0
        ? 'the module loader applies it at load time, against unresolved livepatch symbols, and the livepatch core ignores it'
        : 'its entries are not kept in memory, so relocating an object loaded later reads freed memory';
      p.add('klp-rela.flags', place, `sh_flags 0x${s.sh_flags.toString(16)} lacks ${missing.join(' and ')}: ${why}`);
    }
    const applied = m.section(s.sh_info);
    if (!applied) {
      p.add('klp-rela.info', place, `sh_info ${s.sh_info} names no section (the module has ${m.sections.length})`);
    } else if ((applied.sh_flags & SHF_ALLOC) === 0) {
      p.add('klp-rela.info', place, `sh_info names ${m.name(applied)}, which is not loaded (no SHF_ALLOC)`);
    } else if (parsed && parsed.section !== m.name(applied)) {
      p.note(`${name} applies to ${m.name(applied)}, not to the section its name ends with (${parsed.section})`);
    }
    if (!m.symtab || s.sh_link !== m.symtab.index) {
      p.add('klp-rela.link', place, `sh_link ${s.sh_link} is not the symbol table${m.symtab ? ` (section ${m.symtab.index})` : ''}`);
    }
    if (!parsed) continue;
    const { object } = parsed;
    if (object !== 'vmlinux') {
      if (!MODULE_NAME.test(object)) {
        p.add('klp-rela.object', place, `${object} is not a module name (letters, digits and '_'; the kernel spells '-' as '_')`);
        continue;
      }
      if (target.knowsModules && !target.hasModule(object)) {
        p.add('klp-rela.object', place, `the target has no module ${object}`);
        continue;
      }
    }
    if (ctx.patchedObjects && !ctx.patchedObjects.has(object)) {
      p.add('klp-rela.unpatched-object', place, `the patch has no klp_object for ${object}, so the livepatch core never applies this section`);
    }
  }
}
