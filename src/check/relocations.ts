/**
 * Relocations, as x86-64's apply_relocate_add computes them (rela/x86_64.ts
 * holds the semantics). The module loader applies every SHT_RELA section
 * whose target is loaded, except the SHF_RELA_LIVEPATCH ones, which the
 * livepatch core applies through the same function later. Each entry needs a
 * type the function knows, a field inside its section, zero bytes under it
 * ("existing value is nonzero" otherwise) and a value that fits the field.
 *
 * The address model for the overflow check:
 *  - P, the relocated field, lies somewhere in the module area [lo, hi)
 *    (rela/module-area.ts: MODULES_VADDR..MODULES_END from the kernel configuration);
 *    the loader gives no guarantee where, so a relocation passes only when it
 *    fits for both the nearest and the farthest placement;
 *  - S is the System.map address for a vmlinux symbol (a .klp.sym.vmlinux
 *    symbol at its position, or an exported symbol), exact; the System.map of
 *    `kelp target fetch` comes from a nokaslr boot, where the kernel text sits
 *    lowest (0xffffffff81000000), so it is the farthest from the modules that
 *    KASLR can make it;
 *  - S for a symbol of this or another module is anywhere in the module area;
 *    st_value for SHN_ABS and for a livepatch symbol the loader itself would
 *    resolve (it keeps its st_value); 0 for relocations without a symbol;
 *  - A is r_addend. Per-CPU symbols of the module are not checked (the loader
 *    gives them per-CPU addresses).
 * The value range for a PC-relative type is [S.lo + A - P.hi, S.hi + A - P.lo],
 * for an absolute one [S.lo + A, S.hi + A]; both ends must fit.
 */
import { modinfoValue } from '../kmod/modinfo.js';
import { isGplCompatible } from './modinfo.js';
import { SHF_ALLOC, SHF_RELA_LIVEPATCH, SHN_ABS, SHN_LIVEPATCH, SHN_UNDEF, SHT_NOBITS, SHT_REL, SHT_RELA, STB_WEAK } from '../../elf/constants.js';
import { computeRelocation, describeRelocation, relocationName } from '../../rela/x86_64.js';
import type { AddressRange, CheckContext } from './context.js';
import type { ModRela } from '../kmod/image.js';
import { KLP_RELA_PREFIX } from '../kmod/names.js';
import { at, hex } from './problem.js';

const signedHex = (v: bigint): string => {
  const s = BigInt.asIntN(64, v);
  return s < 0n ? `-0x${(-s).toString(16)}` : `0x${s.toString(16)}`;
};

function symbolRange(ctx: CheckContext, r: ModRela, livepatchSection: boolean): AddressRange | undefined {
  const { m, target } = ctx;
  const area = { lo: target.area.lo, hi: target.area.hi - 1n };
  if (r.sym === 0) return { lo: 0n, hi: 0n };
  const sym = m.symbols[r.sym];
  if (!sym) return undefined;
  if (sym.shndx === SHN_LIVEPATCH) {
    if (livepatchSection) return ctx.klpAddress.get(sym.index);
    return { lo: sym.value, hi: sym.value };
  }
  if (sym.shndx === SHN_ABS) return { lo: sym.value, hi: sym.value };
  if (sym.shndx === SHN_UNDEF) {
    const e = target.symvers?.get(sym.name);
    if (!e) return sym.bind === STB_WEAK ? { lo: 0n, hi: 0n } : undefined;
    // A GPL-only export is not found for a module without a GPL-compatible license; a weak reference then stays 0.
    if (sym.bind === STB_WEAK && e.type.endsWith('_GPL') && !isGplCompatible(modinfoValue(m.modinfo(), 'license'))) return { lo: 0n, hi: 0n };
    if (e.module !== 'vmlinux') return area;
    const a = target.vmlinuxAddress(sym.name);
    return a === undefined ? undefined : { lo: a, hi: a };
  }
  if (!m.isDefinedInSection(sym)) return undefined;
  if (m.name(sym.shndx) === '.data..percpu') return undefined;
  return area;
}

export function checkRelocations(ctx: CheckContext): void {
  const { m, target, p } = ctx;
  const P = { lo: target.area.lo, hi: target.area.hi - 1n };
  for (const { rel, target: applied } of m.relocationSections()) {
    if (!applied || (applied.sh_flags & SHF_ALLOC) === 0) continue;
    const relName = m.name(rel);
    const appliedName = m.name(applied);
    // A .klp.rela.* section without the flag is reported by klp-rela.flags; its
    // relocations are still computed as the livepatch core would.
    const livepatch = (rel.sh_flags & SHF_RELA_LIVEPATCH) !== 0 || relName.startsWith(KLP_RELA_PREFIX);
    if (rel.sh_type === SHT_REL) {
      p.add('relocation.rel', `section ${relName}`, 'SHT_REL relocations: the x86-64 module loader only applies SHT_RELA and refuses the module');
      continue;
    }
    if (rel.sh_type !== SHT_RELA) continue;
    const rels = m.relocations(rel, p);
    if (!rels) continue;
    const data = applied.sh_type === SHT_NOBITS ? undefined : m.data(applied);
    const size = BigInt(applied.sh_size);
    for (const r of rels) {
      const where = at(appliedName, r.offset);
      const d = describeRelocation(r.type);
      if (!d) {
        p.add('relocation.type', where, `${relocationName(r.type)} (type ${r.type}) in ${relName}: not a type the x86-64 module loader applies ("Unknown rela relocation")`);
        continue;
      }
      if (d.size === 0) continue;
      if (r.sym >= m.symbols.length) {
        p.add('relocation.symbol', where, `${relName} entry ${r.index} names symbol ${r.sym}, past the symbol table (${m.symbols.length})`);
        continue;
      }
      if (r.offset < 0n || r.offset + BigInt(d.size) > size) {
        p.add('relocation.bounds', where, `${d.name} in ${relName} writes ${d.size} bytes outside ${appliedName} (size 0x${size.toString(16)})`);
        continue;
      }
      if (data) {
        const o = Number(r.offset);
        for (let i = o; i < o + d.size; i++) {
          if (data[i] !== 0) {
            p.add('relocation.nonzero', where, `${d.name} in ${relName}: the bytes under it are not zero; the loader refuses it ("existing value is nonzero")`);
            break;
          }
        }
      }
      const S = symbolRange(ctx, r, livepatch);
      if (!S) continue;
      const near = computeRelocation(r.type, S.lo, r.addend, P.hi);
      const far = computeRelocation(r.type, S.hi, r.addend, P.lo);
      const bad = [near, far].find((c) => c.overflow || c.kernelRefuses);
      if (!bad) continue;
      const sym = r.sym === 0 ? 'no symbol' : m.symbols[r.sym].name;
      const Sdesc = S.lo === S.hi ? `S = ${hex(S.lo)}` : `S in [${hex(S.lo)}, ${hex(S.hi)}]`;
      const range = d.pcRelative
        ? `S + A - P spans [${signedHex(near.value)}, ${signedHex(far.value)}] for P in the module area [${hex(target.area.lo)}, ${hex(target.area.hi)})`
        : `S + A = ${signedHex(bad.value)}`;
      const consequence = bad.kernelRefuses ? 'the loader refuses the module ("overflow in relocation")' : 'the loader writes it truncated, so the code would reach the wrong address';
      p.add('relocation.overflow', where, `${d.name} against ${sym}${r.addend !== 0n ? ` ${r.addend < 0n ? '-' : '+'} 0x${(r.addend < 0n ? -r.addend : r.addend).toString(16)}` : ''} in ${relName}: ${Sdesc}, ${range}; it does not fit in ${d.size * 8} bits ${d.signed ? 'signed' : 'unsigned'}: ${consequence}`);
    }
  }
}
