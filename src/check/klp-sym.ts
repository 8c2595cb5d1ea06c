/**
 * `.klp.sym.<object>.<name>,<pos>` symbols (Documentation/livepatch/
 * module-elf-format.rst; kernel/livepatch/core.c resolves them): st_shndx
 * SHN_LIVEPATCH; a name the core's parser accepts (object at most 55
 * characters without '.', symbol at most 511 characters without ',', a
 * decimal position); a symbol that exists in that object; position 0 only for
 * a unique name, position N only when there are at least N same-named
 * symbols (counted in kallsyms order over every symbol of the object, not only
 * functions). Relocations against such symbols belong in .klp.rela sections:
 * the module loader itself would use their st_value (0).
 */
import { SHN_LIVEPATCH, SHF_ALLOC, SHF_RELA_LIVEPATCH } from '../../elf/constants.js';
import { KLP_RELA_PREFIX, KLP_SYM_PREFIX, parseKlpSymName } from '../kmod/names.js';
import type { CheckContext } from './context.js';
import { at } from './problem.js';


export function checkKlpSymbols(ctx: CheckContext): void {
  const { m, target, p } = ctx;
  for (const sym of m.symbols) {
    if (sym.index === 0) continue;
    const named = sym.name.startsWith(KLP_SYM_PREFIX);
    const isKlp = sym.shndx === SHN_LIVEPATCH;
    if (!named && !isKlp) continue;
    const place = `symbol ${sym.name}`;
    if (!isKlp) {
      p.add('klp-sym.shndx', place, `st_shndx is ${sym.shndx === 0 ? 'SHN_UNDEF' : `0x${sym.shndx.toString(16)}`}, not SHN_LIVEPATCH (0xff20): the module loader resolves it as an ordinary symbol`);
    }
    const k = parseKlpSymName(sym.name);
    if (!k) {
      p.add('klp-sym.name', place, 'not a livepatch symbol name the kernel can parse (.klp.sym.<object>.<symbol>,<position>)');
      continue;
    }
    if (!isKlp) continue;
    const table = target.objectSymbols(k.object);
    if (!table) {
      if (target.knowsModules) p.add('klp-sym.missing', place, `the target has no module ${k.object}`);
      else p.note(`symbols of module ${k.object} not checked (give its .ko or module tree with --modules)`);
      continue;
    }
    const found = table.named(k.name);
    if (found.length === 0) {
      p.add('klp-sym.missing', place, `${k.object} has no symbol ${k.name} (${table.table.source})`);
    } else if (k.pos === 0 && found.length > 1) {
      p.add('klp-sym.ambiguous', place, `${k.object} has ${found.length} symbols named ${k.name}; position 0 requires a unique name`);
    } else if (k.pos > found.length) {
      p.add('klp-sym.position', place, `${k.object} has ${found.length} symbol(s) named ${k.name}, no position ${k.pos}`);
    } else {
      const s = found[k.pos === 0 ? 0 : k.pos - 1];
      if (k.object === 'vmlinux' && s.address !== undefined) ctx.klpAddress.set(sym.index, { lo: s.address, hi: s.address });
      else if (k.object !== 'vmlinux') ctx.klpAddress.set(sym.index, { lo: target.area.lo, hi: target.area.hi - 1n });
    }
  }

  // Relocations against livepatch symbols: only from livepatch relocation sections,
  // and a module's section never against vmlinux (klp_resolve_symbols, 5.8+).
  for (const { rel, target: applied } of m.relocationSections()) {
    const rels = m.relocations(rel);
    if (!rels) continue;
    const relName = m.name(rel);
    const isKlpSection = (rel.sh_flags & SHF_RELA_LIVEPATCH) !== 0;
    const sectionObject = /^\.klp\.rela\.([^.]+)\./.exec(relName)?.[1];
    const appliedName = applied ? m.name(applied) : `[${rel.sh_info}]`;
    for (const r of rels) {
      const sym = m.symbols[r.sym];
      if (!sym || r.sym === 0) continue;
      const where = at(appliedName, r.offset);
      if (isKlpSection) {
        if (sym.shndx !== SHN_LIVEPATCH) {
          // A .klp.sym-named symbol with the wrong st_shndx is reported once, as klp-sym.shndx.
          if (sym.name.startsWith(KLP_SYM_PREFIX)) continue;
          p.add('klp-sym.not-livepatch', where, `${relName} relocates against ${sym.name}, which is not a SHN_LIVEPATCH symbol; the livepatch core refuses it`);
          continue;
        }
        const k = parseKlpSymName(sym.name);
        if (k && sectionObject !== undefined && sectionObject !== 'vmlinux' && k.object === 'vmlinux') {
          p.add('klp-sym.vmlinux-from-module', where, `${relName} references vmlinux symbol ${sym.name}; since Linux 5.8 a module's .klp.rela section may only reference that module's symbols (move it to .klp.rela.vmlinux.*)`);
        }
      } else if (sym.shndx === SHN_LIVEPATCH && isLoaded(applied) && !relName.startsWith(KLP_RELA_PREFIX)) {
        // (A .klp.rela.* section without the flag is reported once, as klp-rela.flags.)
        p.add('klp-sym.outside-klp-rela', where, `${relName} is an ordinary relocation section: the loader would apply it with ${sym.name} at address 0`);
      }
    }
  }
}

function isLoaded(s: { sh_flags: number } | undefined): boolean {
  return s !== undefined && (s.sh_flags & SHF_ALLOC) !== 0;
}
