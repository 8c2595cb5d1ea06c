/**
 * Ordinary undefined symbols (SHN_UNDEF): the module loader resolves each
 * against the exports of vmlinux and the loaded modules and refuses the module
 * with "Unknown symbol" when one is missing (a weak reference may stay
 * unresolved). A GPL-only export resolves only for a GPL-compatible license
 * (otherwise it is not found: refused, unless weak), and a namespaced export
 * only when .modinfo imports the namespace (refused even when weak).
 */
import { SHN_UNDEF, STB_WEAK, STT_SECTION, STT_FILE } from '../../elf/constants.js';
import { modinfoValue } from '../kmod/modinfo.js';
import type { CheckContext } from './context.js';
import type { ModSymbol, ModuleImage } from '../kmod/image.js';
import { isGplCompatible } from './modinfo.js';
import { KLP_SYM_PREFIX } from '../kmod/names.js';

/** The undefined symbols the module loader resolves from exports (not the livepatch core's .klp.sym ones). */
export function loaderUndefinedSymbols(m: ModuleImage): ModSymbol[] {
  return m.symbols.filter((s) => s.index !== 0 && s.shndx === SHN_UNDEF && s.name !== ''
    && s.type !== STT_SECTION && s.type !== STT_FILE && !s.name.startsWith(KLP_SYM_PREFIX));
}

export function checkUndefinedSymbols(ctx: CheckContext): void {
  const { m, target, p } = ctx;
  const info = m.modinfo();
  const license = modinfoValue(info, 'license');
  const imports = new Set(info.filter((e) => e.key === 'import_ns').map((e) => e.value));
  const undefinedSymbols = loaderUndefinedSymbols(m);
  if (undefinedSymbols.length === 0) return;
  if (!target.symvers) {
    p.note(`${undefinedSymbols.length} undefined symbol(s) not checked against the exports (give --symvers or --kdir)`);
    return;
  }
  for (const s of undefinedSymbols) {
    const e = target.symvers.get(s.name);
    const place = `symbol ${s.name}`;
    if (!e) {
      if (s.bind !== STB_WEAK) p.add('undefined.unexported', place, `undefined and exported by neither vmlinux nor a module: the loader refuses the module ("Unknown symbol ${s.name}")`);
      continue;
    }
    // The loader does not find a GPL-only export for such a module; a weak reference then stays unresolved (0) instead.
    if (e.type.endsWith('_GPL') && !isGplCompatible(license) && s.bind !== STB_WEAK) {
      p.add('undefined.gpl-only', place, `${e.type} in ${e.module}, and the module's license (${license ?? 'none'}) is not GPL-compatible`);
    }
    if (e.namespace !== '' && !imports.has(e.namespace)) {
      p.add('undefined.namespace', place, `exported in namespace ${e.namespace}, which .modinfo does not import (MODULE_IMPORT_NS)`);
    }
  }
}
