/**
 * The klp_func rules of `kelp check`: each klp_object names vmlinux or a
 * module of the target, and each old_name names a function of its object at
 * old_sympos, with the livepatch core's rules for positions (as for .klp.sym
 * symbols). The tables are decoded by kmod/klp-func.ts.
 */
import { SHN_UNDEF } from '../../elf/constants.js';
import { readKlpTables } from '../kmod/klp-func.js';
import { KSYM_NAME_LEN, MODULE_NAME_LEN } from '../kmod/names.js';
import type { CheckContext } from './context.js';

export function checkKlpFuncs(ctx: CheckContext): void {
  const { m, target, p } = ctx;
  const tables = readKlpTables(m);
  const callsEnable = m.symbols.some((s) => s.name === 'klp_enable_patch' && s.shndx === SHN_UNDEF);
  if (tables.length === 0) {
    if (callsEnable) p.note('no klp_patch table could be decoded: the klp_func checks and the .klp.rela object check were skipped');
    return;
  }
  ctx.patchedObjects = new Set(tables.flatMap((t) => t.objects.map((o) => o.name)));
  for (const t of tables) {
    for (const o of t.objects) {
      if (o.name !== 'vmlinux' && (o.name.length >= MODULE_NAME_LEN || !/^[A-Za-z0-9_]+$/.test(o.name))) {
        p.add('klp-func.object', o.place, `klp_object name "${o.name}" is not a module name`);
        continue;
      }
      const table = target.objectSymbols(o.name);
      if (!table) {
        if (target.knowsModules) p.add('klp-func.object', o.place, `klp_object ${o.name}: the target has no module ${o.name}`);
        else p.note(`functions of module ${o.name} not checked (give its .ko or module tree with --modules)`);
        continue;
      }
      for (const f of o.funcs) {
        const what = `klp_func ${f.oldName}${f.oldSympos !== 0n ? `,${f.oldSympos}` : ''} of ${o.name}`;
        if (f.oldName.length >= KSYM_NAME_LEN) {
          p.add('klp-func.name', f.place, `${what}: old_name is longer than KSYM_NAME_LEN`);
          continue;
        }
        const found = table.named(f.oldName);
        if (found.length === 0) p.add('klp-func.missing', f.place, `${what}: ${o.name} has no symbol ${f.oldName}`);
        else if (f.oldSympos === 0n && found.length > 1) p.add('klp-func.ambiguous', f.place, `${what}: ${o.name} has ${found.length} symbols named ${f.oldName}; old_sympos 0 requires a unique name`);
        else if (f.oldSympos > BigInt(found.length)) p.add('klp-func.position', f.place, `${what}: ${o.name} has ${found.length} symbol(s) named ${f.oldName}, no position ${f.oldSympos}`);
        else {
          const s = found[f.oldSympos === 0n ? 0 : Number(f.oldSympos) - 1];
          if (s.kind !== 'func') p.add('klp-func.not-function', f.place, `${what}: ${f.oldName} in ${o.name} is not a function`);
        }
      }
    }
  }
}
