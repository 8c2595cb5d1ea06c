/**
 * Changed functions without __fentry__ (the kernel's `inline` is notrace:
 * SYSCALL_DEFINE's `__do_sys_*`) cannot be patched themselves; a local one
 * only called directly is replaced through its callers, which then call the
 * patch's copy. Used by include.ts.
 */
import type { DiffContext } from './context.js';
import type { Inclusion } from './include.js';
import { CHANGED, F_IGNORED, F_VIA_CALLERS, SAME, type Kelf } from './model.js';
import { C_AUX, C_DROPPED, C_INIT, C_METADATA, C_SPECIAL } from './sections.js';
import { hasFentry } from './structure.js';

/** A function the patch could replace: defined, not a prefix, alias or part of another, not ignored. */
export function isReplaceable(k: Kelf, f: number): boolean {
  return k.isFunc(f) && k.symSec[f] !== 0 && !k.prefixOf.has(f) && !k.aliasOf.has(f) && !k.parent.has(f) && !k.has(f, F_IGNORED);
}

/** The function whose code holds relocation `j` of text section `sec` (a part's parent), 0 when none. */
function codeOwner(k: Kelf, sec: number, j: number): number {
  let f = k.secBundled[sec] || k.symbolAt(sec, k.relOff[j]);
  for (let p = k.parent.get(f); p !== undefined; p = k.parent.get(f)) f = p;
  return f;
}

/** Whether relocation `j` of `sec` is the operand of a direct call or jump (e8, e9, 0f 8x). */
function isBranchOperand(k: Kelf, sec: number, j: number): boolean {
  const off = k.relOff[j];
  if (off < 1) return false;
  const d = k.secData(sec);
  const op = d[off - 1];
  return op === 0xe8 || op === 0xe9 || (off >= 2 && d[off - 2] === 0x0f && (op & 0xf0) === 0x80);
}

/**
 * A changed function without __fentry__ (the kernel's `inline` is notrace:
 * SYSCALL_DEFINE's __do_sys_*, say) cannot be replaced by the livepatch core,
 * but when it is local and only ever called directly, replacing every caller
 * replaces it: each caller becomes changed and calls the patch's copy
 * (callers without __fentry__ are followed the same way). Returns, for the
 * functions this cannot help, why.
 */
export function patchThroughCallers(ctx: DiffContext, inc: Inclusion): Map<number, string> {
  const k = ctx.patched;
  const blocked = new Map<number, string>();
  const work: number[] = [];
  for (let f = 1; f < k.nsym; f++) {
    if (isReplaceable(k, f) && k.symStatus[f] === CHANGED && !hasFentry(k, f)) {
      if (k.isLocal(f)) work.push(f);
      else blocked.set(f, 'it is global, so callers elsewhere may call it');
    }
  }
  if (work.length === 0) return blocked;
  // Every reference to a function, by its symbol or its section's.
  const refs = new Map<number, Array<[number, number]>>();
  for (let sec = 1; sec < k.nsec; sec++) {
    for (let j = k.relStart[sec]; j < k.relStart[sec + 1]; j++) {
      const t = k.relSym[j];
      if (!t) continue;
      const to = k.isSection(t) ? k.secBundled[k.symSec[t]] : t;
      if (!to || !k.isFunc(to)) continue;
      let l = refs.get(to);
      if (!l) refs.set(to, (l = []));
      l.push([sec, j]);
    }
  }
  const queued = new Set(work);
  while (work.length > 0) {
    const x = work.pop()!;
    const callers = new Set<number>();
    let why: string | null = null;
    for (const [sec, j] of refs.get(x) ?? []) {
      const cls = k.secClass[sec];
      if ((cls & (C_SPECIAL | C_METADATA | C_DROPPED | C_INIT)) !== 0) continue; // its own table entries; init code is gone
      if (!k.isText(sec) || (cls & C_AUX) !== 0) {
        why = `its address is stored in ${k.secName(sec)}`;
        break;
      }
      const caller = codeOwner(k, sec, j);
      if (caller === x) continue;
      if (!caller) {
        why = `${k.secName(sec)}+0x${k.relOff[j].toString(16)}, which no function holds, refers to it`;
        break;
      }
      if (!isBranchOperand(k, sec, j)) {
        const at = k.secBundled[sec] || k.symbolAt(sec, k.relOff[j]);
        why = `${k.symName(at)}+0x${(k.relOff[j] - k.value(at)).toString(16)} takes its address`;
        break;
      }
      callers.add(caller);
    }
    if (why === null && callers.size === 0) why = 'nothing calls it';
    if (why !== null) {
      blocked.set(x, why);
      continue;
    }
    k.set(x, F_VIA_CALLERS);
    inc.viaCallers.set(x, [...callers].sort((a, b) => a - b));
    for (const c of callers) {
      if (k.symStatus[c] === SAME) {
        k.symStatus[c] = CHANGED;
        k.reason(c, `calls ${k.symName(x)}, which changed but has no __fentry__ to be patched by itself`);
      }
      if (k.symStatus[c] !== CHANGED || hasFentry(k, c) || queued.has(c)) continue;
      queued.add(c);
      if (k.isLocal(c)) work.push(c);
      else blocked.set(c, 'it is global, so callers elsewhere may call it');
    }
  }
  return blocked;
}
