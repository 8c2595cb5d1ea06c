/**
 * Change detection. Functions compare as whole sections: bytes and
 * relocations, where relocations compare by what they reach (the twin
 * symbol, or the same string for references into string sections), so a
 * renamed static or a moved string is no change. A function whose only
 * differences are `__LINE__` immediates is not changed. Data compares by
 * symbol range; a change to existing data is refused, except for
 * compiler-numbered read-only constants (`__func__.N`, `CSWTCH.N`), which
 * become new copies.
 */
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import type { DRel, DSec, DSym } from './model.js';
import { isDropped, isInit, isMetadata, isAuxCode } from './sections.js';
import { differsOnlyInLineNumbers, pcAdjust } from './x86.js';

function describe(r: DRel): string {
  const t = r.sym;
  if (!t) return '(none)';
  const name = t.isSection ? t.sec?.name ?? t.name : t.name;
  const a = r.addend;
  return a === 0n ? name : a > 0n ? `${name}+0x${a.toString(16)}` : `${name}-0x${(-a).toString(16)}`;
}

function stringAt(sec: DSec, r: DRel): string | null {
  const t = r.sym!;
  const ts = t.sec!;
  const off = (t.isSection ? 0 : t.value) + Number(r.addend) + pcAdjust(sec, r);
  const data = ts.data;
  if (off < 0 || off > data.length) return null;
  const end = data.indexOf(0, off);
  return data.toString('latin1', off, end < 0 ? data.length : end);
}

const identicalStrings = new WeakMap<DSec, boolean>();
function sameStringSection(a: DSec, b: DSec): boolean {
  if (a.twin !== b) return false;
  let v = identicalStrings.get(a);
  if (v === undefined) {
    v = a.data.equals(b.data);
    identicalStrings.set(a, v);
  }
  return v;
}

/** True when relocation `p` (patched, in `ps`, relative to `pBase`) reaches what `o` reaches. */
export function relocsEqual(ps: DSec, p: DRel, pBase: number, os: DSec, o: DRel, oBase: number): boolean {
  if (p.type !== o.type || p.offset - pBase !== o.offset - oBase) return false;
  const pt = p.sym;
  const ot = o.sym;
  if (!pt || !ot) return pt === ot;
  const pStr = pt.sec !== null && pt.sec.isStrings;
  const oStr = ot.sec !== null && ot.sec.isStrings;
  if (pStr || oStr) {
    if (!(pStr && oStr)) return false;
    if (p.addend === o.addend && pt.value === ot.value && sameStringSection(pt.sec!, ot.sec!)) return true;
    const a = stringAt(ps, p);
    return a !== null && a === stringAt(os, o);
  }
  if (pt.isSection && ot.isSection && pt.sec && pt.sec.twin === ot.sec && isAuxCode(pt.sec.name) && p.addend !== o.addend) {
    // Snippets in .altinstr_aux/.fixup move when others are added: compare what is there.
    return auxSnippetEqual(pt.sec, Number(p.addend) + pcAdjust(ps, p), ot.sec!, Number(o.addend) + pcAdjust(os, o));
  }
  if (p.addend !== o.addend) return false;
  if (pt.isSection) return ot.isSection && pt.sec !== null && pt.sec.twin === ot.sec;
  return pt.twin === ot;
}

const SNIPPET = 24;

function auxSnippetEqual(a: DSec, at: number, b: DSec, bt: number): boolean {
  const len = Math.min(SNIPPET, a.size - at, b.size - bt);
  if (len <= 0 || !a.data.subarray(at, at + len).equals(b.data.subarray(bt, bt + len))) return false;
  const ra = a.relocsIn(at, at + len);
  const rb = b.relocsIn(bt, bt + len);
  if (ra.length !== rb.length) return false;
  for (let i = 0; i < ra.length; i++) {
    const x = ra[i];
    const y = rb[i];
    if (x.type !== y.type || x.offset - at !== y.offset - bt || x.addend !== y.addend) return false;
    if (!x.sym || !y.sym) { if (x.sym !== y.sym) return false; continue; }
    if (x.sym.isSection ? !(y.sym.isSection && x.sym.sec?.twin === y.sym.sec) : x.sym.twin !== y.sym) return false;
  }
  return true;
}

type CodeResult = { kind: 'same' } | { kind: 'line' } | { kind: 'changed'; reason: string };

function compareCode(ps: DSec, os: DSec): CodeResult {
  const bytesEqual = ps.size === os.size && ps.data.equals(os.data);
  let reason: string | null = null;
  const pr = ps.relocs;
  const or = os.relocs;
  const n = Math.min(pr.length, or.length);
  for (let i = 0; i < n; i++) {
    if (!relocsEqual(ps, pr[i], 0, os, or[i], 0)) {
      reason = `reference at +0x${pr[i].offset.toString(16)} is ${describe(pr[i])} (was ${describe(or[i])} at +0x${or[i].offset.toString(16)})`;
      break;
    }
  }
  if (reason === null && pr.length !== or.length) reason = `${pr.length} references (was ${or.length})`;
  if (reason === null && bytesEqual) return { kind: 'same' };
  if (reason === null) {
    // Only calls count: references to strings and data (the WARN_ONCE flag, say) are skipped.
    const nameOf = (r: DRel): string | null => {
      const t = r.sym;
      if (!t) return '';
      if (t.isData || (t.sec && !t.sec.isText)) return null;
      return t.name;
    };
    if (ps.size === os.size && differsOnlyInLineNumbers(os, ps, nameOf)) return { kind: 'line' };
    let at = 0;
    const len = Math.min(ps.size, os.size);
    while (at < len && ps.data[at] === os.data[at]) at++;
    reason = ps.size !== os.size && at === len ? `size 0x${ps.size.toString(16)} (was 0x${os.size.toString(16)})` : `code differs at +0x${at.toString(16)}`;
  }
  return { kind: 'changed', reason };
}

function dataChanged(d: DSym, o: DSym): boolean {
  if (d.size !== o.size) return true;
  const ps = d.sec!;
  const os = o.sec!;
  const size = d.size;
  if (!(ps.isNobits && os.isNobits)) {
    const a = ps.isNobits ? Buffer.alloc(size) : ps.data.subarray(d.value, d.value + size);
    const b = os.isNobits ? Buffer.alloc(size) : os.data.subarray(o.value, o.value + size);
    if (!a.equals(b)) return true;
  }
  const pr = ps.relocsIn(d.value, d.value + Math.max(size, 1));
  const or = os.relocsIn(o.value, o.value + Math.max(size, 1));
  if (pr.length !== or.length) return true;
  for (let i = 0; i < pr.length; i++) if (!relocsEqual(ps, pr[i], d.value, os, or[i], o.value)) return true;
  return false;
}

/** Sections whose data changes are checked (running data). */
function isRunningData(sec: DSec, ctx: DiffContext): boolean {
  const n = sec.name;
  return sec.isAlloc && !sec.isText && !sec.isStrings && !sec.ignored && !isDropped(n) && !isInit(n) && !isMetadata(n) && !ctx.specs.has(n) && !isAuxCode(n);
}

export function compareData(ctx: DiffContext): void {
  for (const d of ctx.patched.symbols) {
    if (!d.isData || !d.sec || d.isUndefined || d.ignored) continue;
    if (!d.twin || !d.twin.sec) {
      d.status = 'new';
      continue;
    }
    if (!isRunningData(d.sec, ctx)) {
      d.status = 'same';
      continue;
    }
    if (!dataChanged(d, d.twin)) {
      d.status = 'same';
      continue;
    }
    if (!d.sec.isWritable && d.isLocal && /\.\d+$/.test(d.name)) {
      // A compiler-numbered constant: the new code gets its own copy.
      d.twin.twin = null;
      d.twin = null;
      d.status = 'new';
      continue;
    }
    d.status = 'changed';
    refuse(ctx, `${ctx.patched.file}: ${d.name}`, `existing data changed (in ${d.sec.name}); changes to data that running code uses cannot be live-patched`);
  }
}

export function compareFunctions(ctx: DiffContext): void {
  for (const f of ctx.patched.symbols) {
    if (!f.isFunc || !f.sec || f.prefixOf || f.aliasOf) continue;
    if (!f.twin || !f.twin.sec) {
      f.status = 'new';
      continue;
    }
    if (f.ignored) {
      f.status = 'same';
      continue;
    }
    const ps = f.sec;
    const os = f.twin.sec;
    if (ps.bundled !== f || os.bundled !== f.twin) {
      // Not in a section of its own: compare its range.
      const same = f.size === f.twin.size && rangeSame(f, f.twin);
      f.status = same ? 'same' : 'changed';
      if (!same) f.reasons.push('code or references differ');
      if (!same && isInit(ps.name)) refuse(ctx, `${ctx.patched.file}: ${f.name}`, `__init/__exit function changed (in ${ps.name}); init and exit code cannot be live-patched`);
      continue;
    }
    const r = compareCode(ps, os);
    if (r.kind === 'same') f.status = 'same';
    else if (r.kind === 'line') {
      f.status = 'same';
      f.lineOnly = true;
    } else {
      f.status = 'changed';
      f.reasons.push(r.reason);
    }
    if (f.status === 'changed' && isInit(ps.name)) {
      refuse(ctx, `${ctx.patched.file}: ${f.name}`, `__init/__exit function changed (in ${ps.name}); init and exit code cannot be live-patched`);
    }
  }
}

function rangeSame(f: DSym, o: DSym): boolean {
  const a = f.sec!.data.subarray(f.value, f.value + f.size);
  const b = o.sec!.data.subarray(o.value, o.value + o.size);
  if (!a.equals(b)) return false;
  const pr = f.sec!.relocsIn(f.value, f.value + f.size);
  const or = o.sec!.relocsIn(o.value, o.value + o.size);
  if (pr.length !== or.length) return false;
  for (let i = 0; i < pr.length; i++) if (!relocsEqual(f.sec!, pr[i], f.value, o.sec!, or[i], o.value)) return false;
  return true;
}
