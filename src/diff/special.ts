/**
 * Special sections: tables with one fixed-size entry per site (bug table,
 * exception table, alternatives, jump labels, static calls, ...). Only the
 * entries whose site lies in included code are kept, with their
 * relocations; what those reach (strings, replacement code, keys) is
 * resolved like any other reference. Jump labels and static calls whose key
 * lives in a module are refused: the module's relocations to it are applied
 * too late for the jump-label and static-call code.
 */
import { KelpError } from '../../elf/errors.js';
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import type { Inclusion } from './include.js';
import type { DSec } from './model.js';

export function selectSpecialEntries(ctx: DiffContext, inc: Inclusion): void {
  const k = ctx.patched;
  for (let round = 0; round < 8; round++) {
    const before = inc.functions.length + inc.newFunctions.length;
    const orcIp: number[] | null = null;
    let orcKept: number[] | null = orcIp;
    for (const sec of k.sections) {
      const spec = ctx.specs.get(sec.name);
      if (!spec || sec.isRelocation || sec.ignored || spec.anchor < 0) continue;
      const size = entrySize(sec, spec.size, ctx.explicitSizes.has(sec.name));
      if (size === null) {
        throw new KelpError(`section ${sec.name}: size ${sec.size} does not split into entries of ${spec.size} bytes (set the entry size with --entry-size ${sec.name}=BYTES${spec.env ? ` or ${spec.env}` : ''})`, k.file);
      }
      ctx.specs.set(sec.name, { ...spec, size });
      const kept: number[] = [];
      const count = Math.ceil(sec.size / size);
      let ri = 0;
      const rels = sec.relocs;
      for (let i = 0; i < count; i++) {
        const start = i * size;
        while (ri < rels.length && rels[ri].offset < start) ri++;
        const anchor = start + spec.anchor;
        let keep = false;
        for (let j = ri; j < rels.length && rels[j].offset < start + size; j++) {
          if (rels[j].offset === anchor) {
            keep = inc.isIncludedCode(rels[j]);
            break;
          }
        }
        if (keep) kept.push(i);
      }
      inc.special.set(sec, kept);
      if (sec.name === '.orc_unwind_ip') orcKept = kept;
      for (const i of kept) {
        const start = i * size;
        for (const r of sec.relocsIn(start, start + size)) {
          if (!r.sym) continue;
          const res = inc.resolve(r.sym, sec, r);
          if (spec.key !== undefined && r.offset - start === (spec.key < 0 ? size + spec.key : spec.key)) checkKey(ctx, sec, start, r.sym.twin?.name ?? r.sym.name, res);
        }
      }
    }
    if (orcKept) {
      const orc = k.sections.find((s) => s.name === '.orc_unwind' && !s.isRelocation);
      const ip = k.sections.find((s) => s.name === '.orc_unwind_ip' && !s.isRelocation)!;
      if (orc) {
        const n = ip.size / ctx.specs.get('.orc_unwind_ip')!.size;
        if (n === 0 || orc.size % n !== 0) throw new KelpError(`section .orc_unwind: size ${orc.size} does not match the ${n} entries of .orc_unwind_ip`, k.file);
        ctx.specs.set('.orc_unwind', { ...ctx.specs.get('.orc_unwind')!, size: orc.size / n });
        inc.special.set(orc, orcKept);
      }
    }
    inc.drain();
    if (inc.functions.length + inc.newFunctions.length === before) break;
  }
}

function checkKey(ctx: DiffContext, sec: DSec, start: number, key: string, res: ReturnType<Inclusion['resolve']>): void {
  const what = sec.name === '__jump_table' ? 'jump label' : 'static call';
  const site = sec.relocsIn(start, start + 1)[0];
  const where = site?.sym?.sec ? ctx.patched.where(site.sym.sec, (site.sym.isSection ? 0 : site.sym.value) + Number(site.addend)) : `${ctx.patched.file}: ${sec.name}+0x${start.toString(16)}`;
  let module: string | null = null;
  if (res.kind === 'klp' && res.object !== 'vmlinux') module = res.object;
  if (res.kind === 'undef') {
    const exp = ctx.symvers.get(res.name);
    if (exp && exp.module !== 'vmlinux') module = exp.module;
  }
  if (module !== null) {
    refuse(ctx, where, `${what} uses key ${key}, which is defined in module ${module}; the kernel applies a livepatch's relocations to a module too late for ${what}s (use static_key_enabled() or a plain call)`);
  }
}

/**
 * The entry size of a special section: the configured one when the section
 * splits into entries of that size with the same relocation layout in every
 * entry; otherwise (kernels differ) the smallest size that does, unless the
 * size was given explicitly.
 */
export function entrySize(sec: DSec, configured: number, explicit: boolean): number | null {
  // The last entry may lack its trailing padding.
  if (fits(sec, configured, true)) return configured;
  if (explicit) return null;
  for (let size = 4; size <= 64; size++) if (size !== configured && fits(sec, size, false)) return size;
  return null;
}

function fits(sec: DSec, size: number, partialLast: boolean): boolean {
  if (size <= 0 || (!partialLast && sec.size % size !== 0)) return false;
  const n = Math.ceil(sec.size / size);
  const rels = sec.relocs;
  if (n === 0 || rels.length === 0) return true;
  // Every entry starts with a relocation (its site), and the relocations sit
  // at a few fixed offsets within an entry.
  const slots = new Set<number>();
  let anchors = 0;
  let last = -1;
  for (const r of rels) {
    const at = r.offset % size;
    slots.add(at);
    if (at === 0 && Math.floor(r.offset / size) !== last) {
      anchors++;
      last = Math.floor(r.offset / size);
    }
  }
  return anchors === n && slots.size <= 4;
}
