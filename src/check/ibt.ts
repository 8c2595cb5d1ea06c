/**
 * `ibt.endbr`: under IBT (CONFIG_X86_KERNEL_IBT) an indirect call must land
 * on an ENDBR64. A livepatch that takes the address of a target function
 * (a relocation to its start, other than the operand of a direct call or
 * jump: objtool's rule) through `.klp.sym` gets that function's address in
 * the running kernel, and there its ENDBR may be gone: the kernel sealed it
 * at boot (`.ibt_endbr_seal`), or the compiler never emitted one. Calling
 * through the pointer then faults with "Missing ENDBR" (#CP). The facts come
 * from --kernel (vmlinux: its seal list and text, named by --symbols) and
 * from the target's module files (--modules); see
 * src/symbols/branch-targets.ts. Exports resolved by the loader are never
 * sealed (their `__ksymtab` entries reach them) and are not checked.
 *
 * The tables objtool itself skips (they name code without branching to it)
 * are skipped here too.
 */
import { SHF_ALLOC, SHF_EXECINSTR, SHN_LIVEPATCH, STT_FUNC, STT_NOTYPE } from '../../elf/constants.js';
import { describeRelocation } from '../../rela/x86_64.js';
import { instructionAt, instructionEnds, referenceKind } from '../../rela/insn.js';
import { readKernelElf } from '../target/kernel-image.js';
import { ENDBR64, moduleBranchTargets, vmlinuxBranchTargets, type BranchTargets } from '../symbols/branch-targets.js';
import { readMaybeCompressed } from '../util/decompress.js';
import type { CheckContext } from './context.js';
import { parseKlpSymName } from '../kmod/names.js';
import { at } from './problem.js';

/** Sections that reference code without branching to it (objtool's validate_ibt skips them). */
function notABranchSource(name: string): boolean {
  return (name.startsWith('.discard') && name !== '.discard.ibt_endbr_noseal') || name.startsWith('.debug')
    || ['.altinstructions', '.ibt_endbr_seal', '.orc_unwind_ip', '.parainstructions', '.retpoline_sites', '.return_sites', '.call_sites',
      '.smp_locks', '.static_call_sites', '_error_injection_whitelist', '_kprobe_blacklist', '__bug_table', '__ex_table', '__jump_table',
      '__mcount_loc', '.kcfi_traps'].includes(name) || name.includes('__patchable_function_entries');
}

/** True when one of the module's functions starts with ENDBR64. */
function compiledForIbt({ m }: CheckContext): boolean {
  return m.symbols.some((s) => {
    if (s.type !== STT_FUNC || !m.isDefinedInSection(s)) return false;
    const sec = m.section(s.shndx);
    const d = sec && (sec.sh_flags & SHF_EXECINSTR) !== 0 ? m.data(sec) : undefined;
    const v = Number(s.value);
    return d !== undefined && v + 4 <= d.length && d.subarray(v, v + 4).equals(ENDBR64);
  });
}

export function checkIndirectBranchTargets(ctx: CheckContext): void {
  const { m, target, p } = ctx;
  const facts = new Map<string, BranchTargets | null>();
  const factsOf = (object: string): BranchTargets | null => {
    if (facts.has(object)) return facts.get(object)!;
    let f: BranchTargets | null = null;
    if (object === 'vmlinux') {
      if (target.kernel !== undefined) f = vmlinuxBranchTargets(readKernelElf(target.kernel), target.kernel, target.vmlinux.index);
    } else {
      const file = target.moduleFiles?.get(object);
      if (file !== undefined) f = moduleBranchTargets(readMaybeCompressed(file), file);
    }
    facts.set(object, f);
    return f;
  };
  // IBT: the kdir's configuration says it; else the module (compiled with ENDBRs) and the image. A 6.1
  // image is never unpacked: its configuration, or its module's lack of ENDBRs, ends the rule first.
  const ibt = target.ibtConfigured ?? (!compiledForIbt(ctx) ? false : target.kernel !== undefined ? factsOf('vmlinux')!.sealing : true);
  if (ibt === false) return;
  const unknown = new Set<string>();
  const code = new Map<number, Uint32Array>();
  for (const { rel, target: sec } of m.relocationSections()) {
    if (!sec || (sec.sh_flags & SHF_ALLOC) === 0 || notABranchSource(m.name(sec))) continue;
    const rels = m.relocations(rel);
    if (!rels) continue;
    const text = (sec.sh_flags & SHF_EXECINSTR) !== 0 ? m.data(sec) : undefined;
    for (const r of rels) {
      const sym = m.symbols[r.sym];
      if (!sym || sym.shndx !== SHN_LIVEPATCH || (sym.type !== STT_FUNC && sym.type !== STT_NOTYPE)) continue;
      const k = parseKlpSymName(sym.name);
      if (!k) continue; // klp-sym.name's problem
      // The place referenced: S + A for data; S + A + (end of instruction - field) for PC-relative code.
      let adjust = 0n;
      if (text !== undefined) {
        let ends = code.get(sec.index);
        if (!ends) code.set(sec.index, (ends = instructionEnds(text)));
        const i = instructionAt(ends, Number(r.offset));
        if (i >= 0) {
          // A call or jump needs no ENDBR; a load or store of what is there takes no address.
          if (referenceKind(text, i === 0 ? 0 : ends[i - 1], Number(r.offset)) !== 'address') continue;
          if (describeRelocation(r.type)?.pcRelative === true) adjust = BigInt(ends[i]) - r.offset;
        }
      }
      if (r.addend + adjust !== 0n) continue;
      const f = factsOf(k.object);
      if (f === null) {
        unknown.add(k.object);
        continue;
      }
      const state = f.state(k.name, k.pos);
      if (state === undefined || state === 'endbr') continue;
      const why = state === 'sealed'
        ? `the kernel seals its ENDBR64 when ${k.object === 'vmlinux' ? 'it boots' : `${k.object} loads`} (${f.source}: .ibt_endbr_seal lists it)`
        : `it has no ENDBR64 (${f.source}: the compiler left it out)`;
      p.add('ibt.endbr', at(m.name(sec), r.offset), `takes the address of ${k.object}'s ${k.name} (${sym.name}), but ${why}: an indirect call to it faults with "Missing ENDBR" (#CP) under IBT`);
    }
  }
  if (unknown.size > 0) {
    const want = [...unknown].map((o) => (o === 'vmlinux' ? '--kernel (vmlinuz or vmlinux)' : `--modules with ${o}`));
    p.note(`ibt.endbr: the module takes the address of functions of ${[...unknown].join(', ')} under IBT; whether their ENDBR survives was not checked (give ${want.join(', ')})`);
  }
}
