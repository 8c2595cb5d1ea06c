/**
 * Special sections: tables with one fixed-size entry per site (bug table,
 * exception table, alternatives, jump labels, static calls, ...). Only the
 * entries whose site lies in included code are kept, with their
 * relocations; what those reach (strings, replacement code, keys) is
 * resolved like any other reference. Jump labels and static calls whose key
 * lives in a module leave the table (the module's relocations to it are
 * applied too late for the jump-label and static-call code): a static call
 * goes through the module's trampoline, a jump label tests its key at run
 * time (key-test.ts).
 */
import { KelpError } from '../errors.js';
import type { DiffContext } from './context.js';
import type { RefusalCategory } from './refusal-kinds.js';
import type { Inclusion } from './include.js';
import { F_INCLUDE, type Kelf } from './model.js';
import { C_ORC, C_ORC_IP, C_SPECIAL } from './sections.js';
import { keyOffset } from '../../rela/special-sections.js';
import { planKeyTest } from './key-test.js';

export function selectSpecialEntries(ctx: DiffContext, inc: Inclusion): void {
  const k = ctx.patched;
  for (let round = 0; round < 8; round++) {
    const before = inc.functions.length + inc.newFunctions.length;
    let orcKept: number[] | null = null;
    let orcIp = 0;
    for (let sec = 1; sec < k.nsec; sec++) {
      if ((k.secClass[sec] & C_SPECIAL) === 0 || k.isRelocation(sec) || k.secIgnored[sec]) continue;
      const name = k.secName(sec);
      const spec = ctx.specs.get(name);
      if (!spec || spec.anchor < 0) continue;
      const size = entrySize(k, sec, spec.size, ctx.explicitSizes.has(name));
      if (size === null) {
        throw new KelpError(`section ${name}: size ${k.secSize(sec)} does not split into entries of ${spec.size} bytes (set the entry size with --entry-size ${name}=BYTES${spec.env ? ` or ${spec.env}` : ''})`, k.file);
      }
      ctx.specs.set(name, { ...spec, size });
      const kept: number[] = [];
      const count = Math.ceil(k.secSize(sec) / size);
      const owners = spec.recordFuncName !== undefined ? includedFunctionNames(k) : null;
      let ri = k.relStart[sec];
      const end = k.relStart[sec + 1];
      for (let i = 0; i < count; i++) {
        const start = i * size;
        while (ri < end && k.relOff[ri] < start) ri++;
        const anchor = start + spec.anchor;
        let keep = false;
        for (let j = ri; j < end && k.relOff[j] < start + size; j++) {
          if (k.relOff[j] === anchor) {
            if (owners) {
              const owner = recordOwner(k, j, spec.recordFuncName!);
              keep = owner !== null && owners.has(owner);
            } else keep = inc.isIncludedCode(j);
            break;
          }
        }
        if (keep) kept.push(i);
      }
      inc.special.set(sec, kept);
      if ((k.secClass[sec] & C_ORC_IP) !== 0) {
        orcKept = kept;
        orcIp = sec;
      }
      const inert = new Set<number>();
      for (const i of kept) {
        const start = i * size;
        const [a, b] = k.relRange(sec, start, start + size);
        for (let j = a; j < b; j++) {
          const t = k.relSym[j];
          if (!t) continue;
          // A record that names its function (printk index): the output gets its own copy.
          if (owners && k.relOff[j] === start + spec.anchor && k.isData(t) && k.symSec[t]) inc.includeData(t, false);
          const res = inc.resolve(t, sec, j);
          if (k.relOff[j] - start === keyOffset(spec, size)) {
            const twin = k.symTwin[t];
            if (checkKey(ctx, inc, sec, start, size, twin ? ctx.orig.symName(twin) : k.symName(t), res) === 'inert') inert.add(i);
          }
        }
      }
      if (inert.size > 0) inc.special.set(sec, kept.filter((i) => !inert.has(i)));
    }
    if (orcKept) {
      let orc = 0;
      for (let s = 1; s < k.nsec && !orc; s++) if ((k.secClass[s] & C_ORC) !== 0 && !k.isRelocation(s)) orc = s;
      if (orc) {
        const n = k.secSize(orcIp) / ctx.specs.get('.orc_unwind_ip')!.size;
        if (n === 0 || k.secSize(orc) % n !== 0) throw new KelpError(`section .orc_unwind: size ${k.secSize(orc)} does not match the ${n} entries of .orc_unwind_ip`, k.file);
        ctx.specs.set('.orc_unwind', { ...ctx.specs.get('.orc_unwind')!, size: k.secSize(orc) / n });
        inc.special.set(orc, orcKept);
      }
    }
    inc.drain();
    if (inc.functions.length + inc.newFunctions.length === before) break;
  }
}

const CHILD_SUFFIX = /(?:\.(?:cold|part|isra|constprop|lto_priv|localalias)(?:\.\d+)?)+$/;

/** The source names (`__func__`) of the functions the output holds. */
function includedFunctionNames(k: Kelf): Set<string> {
  const out = new Set<string>();
  for (let s = 1; s < k.nsym; s++) if (k.isFunc(s) && k.has(s, F_INCLUDE)) out.add(k.symName(s).replace(CHILD_SUFFIX, ''));
  return out;
}

/** The function name a record (reached by relocation `j`) holds at `field`: the string its pointer there reaches. */
function recordOwner(k: Kelf, j: number, field: number): string | null {
  const t = k.relSym[j];
  const ts = t ? k.symSec[t] : 0;
  if (!ts || k.isNobits(ts)) return null;
  const at = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[j] + field;
  const f = k.relFirst(ts, at);
  if (f >= k.relStart[ts + 1] || k.relOff[f] !== at) return null;
  const s = k.relSym[f];
  const ss = s ? k.symSec[s] : 0;
  if (!ss || k.isNobits(ss) || k.isText(ss)) return null;
  const off = (k.isSection(s) ? 0 : k.value(s)) + k.relAdd[f];
  const data = k.secData(ss);
  if (off < 0 || off >= data.length) return null;
  const end = data.indexOf(0, off);
  return data.toString('latin1', off, end < 0 ? data.length : end);
}

/** What a module key belongs to: a dynamic debug descriptor, a tracepoint, or a plain static key. */
export function keyCategory(key: string): RefusalCategory {
  if (/^__UNIQUE_ID_ddebug\d+$|^descriptor\.\d+$|^__dyndbg$/.test(key)) return 'dynamic-debug';
  if (/^__tracepoint_|^__SCK__tp_func_|^__tracepoints$/.test(key)) return 'tracepoint';
  return 'jump-label-key-in-module';
}

/** The bytes of a jump label site that leave it off: a 5-byte or 2-byte NOP. */
function siteIsNop(k: Kelf, sec: number, start: number): boolean {
  const [a, b] = k.relRange(sec, start, start + 1);
  if (b <= a) return false;
  const t = k.relSym[a];
  const ts = t ? k.symSec[t] : 0;
  if (!ts || k.isNobits(ts)) return false;
  const at = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[a];
  const d = k.secData(ts);
  const nop5 = [0x0f, 0x1f, 0x44, 0x00, 0x00];
  if (at >= 0 && at + 5 <= d.length && nop5.every((x, n) => d[at + n] === x)) return true;
  return at >= 0 && at + 2 <= d.length && d[at] === 0x66 && d[at + 1] === 0x90;
}

/**
 * A jump label or static call site whose key is defined in a module. The
 * kernel applies a livepatch's relocations to a module too late for the
 * tables it reads at load, so the site cannot keep the module's key. A
 * dynamic-debug site's jump label that is compiled off (one the livepatch
 * could not give its own descriptor) is left out of the table and stays off
 * ('inert', with a warning, as kpatch does). A static call site keyed in a
 * module is left out and calls through the module's trampoline, which
 * static_call_update() keeps current. Any other jump label, a tracepoint's
 * included (objtool's NOP on 6.1, its jmp on 6.12), is left out and tests
 * its key at run time (key-test.ts), so the event still fires from the
 * patched code; a tracepoint's 2-byte site with no room for the test stays
 * off, any other site that cannot be rewritten is refused.
 */
function checkKey(ctx: DiffContext, inc: Inclusion, sec: number, start: number, size: number, key: string, res: ReturnType<Inclusion['resolve']>): 'ok' | 'inert' | 'refused' {
  const k = ctx.patched;
  const name = k.secName(sec);
  const what = name === '__jump_table' ? 'jump label' : 'static call';
  const [a, b] = k.relRange(sec, start, start + 1);
  let where = `${k.file}: ${name}+0x${start.toString(16)}`;
  if (b > a) {
    const t = k.relSym[a];
    if (t && k.symSec[t]) where = k.where(k.symSec[t], (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[a]);
  }
  let module: string | null = null;
  if (res.kind === 'klp' && res.object !== 'vmlinux') module = res.object;
  if (res.kind === 'undef') {
    const exp = ctx.symvers.get(res.name);
    if (exp && exp.module !== 'vmlinux') module = exp.module;
  }
  if (module === null) return 'ok';
  const category = keyCategory(key);
  if (what === 'static call') {
    // The site's call goes to the key's trampoline (__SCT__name), which
    // __static_call_update() rewrites along with every inline site, and which
    // the livepatch reaches by a .klp.rela relocation like any other module
    // symbol. Left out of .static_call_sites, the call stays on the
    // trampoline: one jump more, always to the current target.
    const kind = category === 'tracepoint' ? 'tracepoint ' : category === 'dynamic-debug' ? 'dynamic debug ' : '';
    ctx.warnings.push(`${where}: ${kind}static call site of module ${module} (key ${key}) left out of the livepatch's table: it calls through the module's trampoline, which follows static_call_update()`);
    return 'inert';
  }
  if (category === 'dynamic-debug' && siteIsNop(k, sec, start)) {
    ctx.warnings.push(`${where}: dynamic debug site of module ${module} (key ${key}) stays off in the patched code: the livepatch cannot use the module's key`);
    return 'inert';
  }
  // Any other jump label, a tracepoint's whether objtool has made its site a
  // NOP (6.1, per object) or not yet (6.12, where it does so only in the
  // linked module, CONFIG_HAVE_JUMP_LABEL_HACK): the site tests its key at
  // run time, so the tracepoint still fires from the patched code.
  const keyAt = keyOffset(ctx.specs.get(name)!, size)!;
  // The warning comes with the test's layout (key-test.ts), which may still refuse a 2-byte site.
  return planKeyTest(ctx, inc, sec, start, size, keyAt, where, key, module, category) ? 'inert' : 'refused';
}

/**
 * The entry size of a special section: the configured one when the section
 * splits into entries of that size with the same relocation layout in every
 * entry; otherwise (kernels differ) the smallest size that does, unless the
 * size was given explicitly.
 */
export function entrySize(k: Kelf, sec: number, configured: number, explicit: boolean): number | null {
  // The last entry may lack its trailing padding.
  if (fits(k, sec, configured, true)) return configured;
  if (explicit) return null;
  for (let size = 4; size <= 64; size++) if (size !== configured && fits(k, sec, size, false)) return size;
  return null;
}

function fits(k: Kelf, sec: number, size: number, partialLast: boolean): boolean {
  const total = k.secSize(sec);
  if (size <= 0 || (!partialLast && total % size !== 0)) return false;
  const n = Math.ceil(total / size);
  const a = k.relStart[sec];
  const b = k.relStart[sec + 1];
  if (n === 0 || b === a) return true;
  // Every entry starts with a relocation (its site), the relocations sit at
  // a few fixed offsets within an entry, and each offset always holds the
  // same relocation type: a size half the real one would put jump labels'
  // 32-bit code and 64-bit key relocations at the same offset.
  const slots = new Map<number, number>();
  let anchors = 0;
  let last = -1;
  for (let j = a; j < b; j++) {
    const off = k.relOff[j];
    const at = off % size;
    const type = k.relType[j];
    const seen = slots.get(at);
    if (seen === undefined) slots.set(at, type);
    else if (seen !== type) return false;
    if (at === 0 && Math.floor(off / size) !== last) {
      anchors++;
      last = Math.floor(off / size);
    }
    if (slots.size > 4) return false;
  }
  return anchors === n && slots.size <= 4;
}
