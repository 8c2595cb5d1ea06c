/**
 * The IBT rule (CONFIG_X86_KERNEL_IBT): code the patch adds may take the
 * address of a target function only if an indirect call to it lands on a
 * live ENDBR64. The kernel seals at boot every ENDBR nothing took the
 * address of (`.ibt_endbr_seal`, see src/symbols/branch-targets.ts), and gcc
 * never emits one for a static function whose address its object never
 * takes; a patch that newly takes such an address and calls through it
 * faults with "Missing ENDBR" (#CP). QEMU's emulation has no CET, so only
 * this rule stands between that patch and a fleet.
 *
 * What counts as taking an address: a relocation to the function's start
 * in data (special sections aside), or in code as an immediate or a LEA's
 * displacement; not the operand of a direct call or jump, nor a memory
 * operand (a load of a variable an undefined symbol names). When the patched object defines
 * the function, kelp makes it safe: the patch carries its own copy (with the
 * ENDBR the compiler gave it there, and objtool's run on the livepatch's
 * link keeps it, since the patch takes its address) and the reference goes
 * to the copy. Otherwise it refuses.
 */
import { KelpError } from '../errors.js';
import { readKernelElf } from '../target/kernel-image.js';
import { ENDBR64, moduleBranchTargets, vmlinuxBranchTargets, type BranchTargets } from '../symbols/branch-targets.js';
import { readSymbolTable } from '../symbols/read.js';
import { SymbolIndex } from '../symbols/table.js';
import { readMaybeCompressed } from '../util/decompress.js';
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import type { Inclusion, Resolution } from './include.js';
import { F_INCLUDE, type Kelf } from './model.js';
import { C_DROPPED, C_SPECIAL } from './sections.js';
import { endsWithRel32 } from '../../rela/insn.js';
import { isPcRelative } from '../../rela/x86_64.js';
import { codeReferenceKind, pcAdjust } from './x86.js';

/** The IBT facts of a diff: whether the target has IBT, and where each object's facts come from. */
export interface IbtFacts {
  /** The target kernel is built with IBT (decided on first need). */
  enabled: () => boolean;
  /** The facts of `vmlinux` or the target module; null when not given. */
  targets: (object: string) => BranchTargets | null;
  /** The option that would give the missing facts, for messages. */
  hint: string;
}

/**
 * The IBT facts for a diff: `kernel` is the target's vmlinux or bzImage,
 * `kernelMap` the System.map that names its addresses (for a vmlinux target,
 * `--symbols` does); a module target's own `.ko` (given as `--symbols`)
 * carries its facts. IBT is on when the image seals ENDBRs, or when either
 * object was compiled for IBT. Everything is read on first need: most
 * patches take no target function's address, and a 6.12 bzImage takes
 * seconds to unpack.
 */
export function readIbtFacts(opts: { kernel?: string; kernelMap?: string; symbols?: string }, orig: Kelf, patched: Kelf, target: string, symbols: SymbolIndex | null): IbtFacts {
  if (opts.kernel !== undefined && opts.kernelMap === undefined && target !== 'vmlinux') {
    throw new KelpError('--kernel needs --kernel-map (the System.map of that kernel) for a module target', opts.kernel);
  }
  let vmlinux: BranchTargets | null | undefined;
  const vmlinuxFacts = (): BranchTargets | null => {
    if (vmlinux !== undefined) return vmlinux;
    vmlinux = null;
    if (opts.kernel !== undefined) {
      const map = opts.kernelMap !== undefined ? new SymbolIndex(readSymbolTable(opts.kernelMap)) : symbols;
      if (map !== null) vmlinux = vmlinuxBranchTargets(readKernelElf(opts.kernel), opts.kernel, map);
    }
    return vmlinux;
  };
  let module: BranchTargets | null | undefined;
  const moduleFacts = (): BranchTargets | null => {
    if (module !== undefined) return module;
    module = null;
    if (target !== 'vmlinux' && opts.symbols !== undefined) {
      const buf = readMaybeCompressed(opts.symbols);
      if (buf.length >= 4 && buf.readUInt32LE(0) === 0x464c457f) module = moduleBranchTargets(buf, opts.symbols);
    }
    return module;
  };
  let enabled: boolean | undefined;
  return {
    enabled: () => (enabled ??= compiledForIbt(orig) || compiledForIbt(patched) || (vmlinuxFacts()?.sealing ?? false)),
    targets: (object) => (object === 'vmlinux' ? vmlinuxFacts() : object === target ? moduleFacts() : null),
    hint: target === 'vmlinux' ? "--kernel (the target's vmlinuz or vmlinux)" : `--kernel and --kernel-map for vmlinux, --symbols ${target}.ko for the module`,
  };
}

/** True when the object was compiled for IBT: one of its global functions starts with ENDBR64. */
export function compiledForIbt(k: Kelf): boolean {
  for (let s = 1; s < k.nsym; s++) {
    if (!k.isFunc(s) || k.isLocal(s) || k.isUndefined(s) || !k.symSec[s] || k.isNobits(k.symSec[s])) continue;
    const d = k.secData(k.symSec[s]);
    const v = k.value(s);
    if (v + 4 <= d.length && d.subarray(v, v + 4).equals(ENDBR64)) return true;
  }
  return false;
}

/** The included [from, to) ranges of section `sec`. */
function includedRanges(k: Kelf, inc: Inclusion, sec: number): Array<[number, number]> {
  if (inc.whole.has(sec)) return [[0, Number.MAX_SAFE_INTEGER]];
  const chunk = inc.chunks.get(sec);
  if (!chunk) return [];
  return [...chunk].map((s) => [k.value(s), k.value(s) + Math.max(k.size(s), 1)]);
}

/** Applies the rule; copies functions into the patch where that makes it safe. Returns true when it included something. */
export function checkIndirectBranchTargets(ctx: DiffContext, inc: Inclusion): boolean {
  const ibt = ctx.ibt;
  if (!ibt) return false;
  const k = ctx.patched;
  let copied = false;
  for (let sec = 1; sec < k.nsec; sec++) {
    if (k.isRelocation(sec) || (k.secClass[sec] & (C_SPECIAL | C_DROPPED)) !== 0) continue;
    for (const [from, to] of includedRanges(k, inc, sec)) {
      const [a, b] = k.relRange(sec, from, to);
      for (let j = a; j < b; j++) {
        const t = k.relSym[j];
        if (!t || k.isSection(t) || (!k.isUndefined(t) && !k.isFunc(t))) continue;
        // Already resolved (drain follows every included range) to something other than the target: nothing to check.
        const known = inc.resolutions.get(t);
        if (known !== undefined && known.kind !== 'klp') continue;
        // A call or jump needs no ENDBR; a load or store of what is there takes no address. A PC-relative
        // field right after e8/e9 is a call's or jump's rel32 (pcAdjust's rule): no need to decode the
        // section (and load the decoder) for the common case, a call.
        if (isPcRelative(k.relType[j]) && k.isText(sec) && endsWithRel32(k.buf, k.secOffset(sec) + k.relOff[j], k.relOff[j], k.secSize(sec))) continue;
        const kind = codeReferenceKind(k, sec, j);
        if (kind === 'branch' || kind === 'memory') continue;
        if (k.relAdd[j] + pcAdjust(k, sec, j) !== 0) continue;
        const res: Resolution = known ?? inc.resolve(t, sec, j);
        if (res.kind !== 'klp' || !ibt.enabled()) continue;
        // Another module's export (a module the target depends on): its __ksymtab entry takes its
        // address, so it keeps its ENDBR64, as an export reached by an ordinary relocation does.
        if (res.object !== ctx.target && res.object !== 'vmlinux') continue;
        if (checkReference(ctx, inc, sec, j, t, res, ibt)) copied = true;
      }
    }
  }
  return copied;
}

function checkReference(ctx: DiffContext, inc: Inclusion, sec: number, j: number, t: number, res: Extract<Resolution, { kind: 'klp' }>, ibt: IbtFacts): boolean {
  const k = ctx.patched;
  const where = k.where(sec, k.relOff[j]);
  const who = res.object === ctx.target && res.object !== 'vmlinux' ? `${res.object}'s ${res.name}` : res.name;
  const facts = ibt.targets(res.object);
  if (facts === null) {
    refuse(ctx, where, `takes the address of ${who}, and kelp cannot tell whether ${res.object}'s ENDBR64 for it survives boot (IBT seals unused ones): give ${ibt.hint}`, 'ibt-endbr');
    return false;
  }
  const state = facts.state(res.name, res.sympos);
  if (state === undefined || state === 'endbr') return false;
  const why = state === 'sealed'
    ? `the target seals its ENDBR64 at boot (${facts.source}: .ibt_endbr_seal lists it; nothing there took its address)`
    : `it has no ENDBR64 in the target (${facts.source}: the compiler left it out, nothing there took its address)`;
  // The patched object defines it: the patch's own copy has the ENDBR the compiler gave it here.
  if (!k.isUndefined(t) && k.symSec[t] && !k.isNobits(k.symSec[t])) {
    const d = k.secData(k.symSec[t]);
    const v = k.value(t);
    if (v + 4 <= d.length && d.subarray(v, v + 4).equals(ENDBR64)) {
      if (!k.has(t, F_INCLUDE)) {
        inc.includeFunction(t);
        inc.resolutions.set(t, { kind: 'self' });
        ctx.notes.push(`${where}: takes the address of ${who}, but ${why}; the patch carries its own copy of ${res.name} and points there`);
        return true;
      }
      return false;
    }
  }
  refuse(ctx, where, `takes the address of ${who}, but ${why}: an indirect call to it faults with "Missing ENDBR" (#CP) under IBT; call it directly, or add a function of the patch's own that calls it`, 'ibt-endbr');
  return false;
}
