/**
 * Change detection. Functions compare as whole sections: bytes and
 * relocations, where relocations compare by what they reach (the twin
 * symbol, or the same string for references into string sections), so a
 * renamed static or a moved string is no change. A function whose only
 * differences are `__LINE__` immediates is not changed: with the patch's
 * line map, only immediates that moved as their line did. Data compares by
 * symbol range; a change to existing data is refused, except for
 * compiler-numbered read-only constants (`__func__.N`, `CSWTCH.N`), which
 * become new copies, and static read-only tables that only running code of
 * the object reads (`isCodeOnlyTable`), which become new copies read by
 * replaced functions. Bytes compare in place in the two file buffers.
 */
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import { deviceTableOf, deviceTableReason } from './device-table.js';
import { CHANGED, F_IGNORED, F_LINE_ONLY, F_TABLE_COPY, NEW, SAME, type Kelf } from './model.js';
import { C_AUX, C_DROPPED, C_INIT, C_METADATA, C_SPECIAL } from './sections.js';
import { lineNumberDifference, pcAdjust } from './x86.js';

function describe(k: Kelf, j: number): string {
  const t = k.relSym[j];
  if (!t) return '(none)';
  const name = k.isSection(t) ? (k.symSec[t] ? k.secName(k.symSec[t]) : k.symName(t)) : k.symName(t);
  const a = k.relAdd[j];
  return a === 0 ? name : a > 0 ? `${name}+0x${a.toString(16)}` : `${name}-0x${(-a).toString(16)}`;
}

function stringAt(k: Kelf, sec: number, j: number): string | null {
  const t = k.relSym[j];
  const ts = k.symSec[t];
  const off = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[j] + pcAdjust(k, sec, j);
  const data = k.secData(ts);
  if (off < 0 || off > data.length) return null;
  const end = data.indexOf(0, off);
  return data.toString('latin1', off, end < 0 ? data.length : end);
}

const CHUNK = 1 << 16;

/**
 * Whether two sections' contents are byte-identical: compared in place when
 * both are in memory, otherwise read in chunks through the objects'
 * read-ahead windows, so the contents of the many unchanged functions are
 * never kept.
 */
export function sameContents(a: Kelf, as: number, b: Kelf, bs: number): boolean {
  const n = a.e.fileSize(as);
  if (n !== b.e.fileSize(bs)) return false;
  if (n === 0) return true;
  const ao = a.e.offset(as);
  const bo = b.e.offset(bs);
  if (a.e.isLoaded(as) && b.e.isLoaded(bs)) return a.buf.compare(b.buf, bo, bo + n, ao, ao + n) === 0;
  for (let at = 0; at < n; at += CHUNK) {
    const len = Math.min(CHUNK, n - at);
    const x = a.e.isLoaded(as) ? a.buf.subarray(ao + at, ao + at + len) : a.e.readRegion(ao + at, len);
    const y = b.e.isLoaded(bs) ? b.buf.subarray(bo + at, bo + at + len) : b.e.readRegion(bo + at, len);
    if (!x.equals(y)) return false;
  }
  return true;
}

const identicalStrings = new WeakMap<Kelf, Map<number, boolean>>();
function sameStringSection(p: Kelf, a: number, o: Kelf, b: number): boolean {
  if (p.secTwin[a] !== b) return false;
  let m = identicalStrings.get(p);
  if (!m) identicalStrings.set(p, (m = new Map()));
  let v = m.get(a);
  if (v === undefined) {
    v = sameContents(p, a, o, b);
    m.set(a, v);
  }
  return v;
}

/** True when relocation `pj` of P (in `ps`, relative to `pBase`) reaches what `oj` of O reaches. */
export function relocsEqual(P: Kelf, ps: number, pj: number, pBase: number, O: Kelf, os: number, oj: number, oBase: number): boolean {
  if (P.relType[pj] !== O.relType[oj] || P.relOff[pj] - pBase !== O.relOff[oj] - oBase) return false;
  const pt = P.relSym[pj];
  const ot = O.relSym[oj];
  if (!pt || !ot) return pt === ot;
  const pSec = P.symSec[pt];
  const oSec = O.symSec[ot];
  const pStr = pSec !== 0 && P.isStrings(pSec);
  const oStr = oSec !== 0 && O.isStrings(oSec);
  if (pStr || oStr) {
    if (!(pStr && oStr)) return false;
    if (P.relAdd[pj] === O.relAdd[oj] && P.value(pt) === O.value(ot) && sameStringSection(P, pSec, O, oSec)) return true;
    const a = stringAt(P, ps, pj);
    return a !== null && a === stringAt(O, os, oj);
  }
  const pIsSec = P.isSection(pt);
  if (pIsSec && O.isSection(ot) && pSec && P.secTwin[pSec] === oSec && (P.secClass[pSec] & C_AUX) !== 0 && P.relAdd[pj] !== O.relAdd[oj]) {
    // Snippets in .altinstr_aux/.fixup move when others are added: compare what is there.
    return auxSnippetEqual(P, pSec, P.relAdd[pj] + pcAdjust(P, ps, pj), O, oSec, O.relAdd[oj] + pcAdjust(O, os, oj));
  }
  if (P.relAdd[pj] !== O.relAdd[oj]) return false;
  if (pIsSec) return O.isSection(ot) && pSec !== 0 && P.secTwin[pSec] === oSec;
  return P.symTwin[pt] === ot;
}

const SNIPPET = 24;

function auxSnippetEqual(P: Kelf, a: number, at: number, O: Kelf, b: number, bt: number): boolean {
  const len = Math.min(SNIPPET, P.secSize(a) - at, O.secSize(b) - bt);
  if (len <= 0) return false;
  const ao = P.secOffset(a) + at;
  const bo = O.secOffset(b) + bt;
  if (P.buf.compare(O.buf, bo, bo + len, ao, ao + len) !== 0) return false;
  const [ra, ea] = P.relRange(a, at, at + len);
  const [rb, eb] = O.relRange(b, bt, bt + len);
  if (ea - ra !== eb - rb) return false;
  for (let i = 0; i < ea - ra; i++) {
    const x = ra + i;
    const y = rb + i;
    if (P.relType[x] !== O.relType[y] || P.relOff[x] - at !== O.relOff[y] - bt || P.relAdd[x] !== O.relAdd[y]) return false;
    const xs = P.relSym[x];
    const ys = O.relSym[y];
    if (!xs || !ys) { if (xs !== ys) return false; continue; }
    if (P.isSection(xs) ? !(O.isSection(ys) && P.symSec[xs] !== 0 && P.secTwin[P.symSec[xs]] === O.symSec[ys]) : P.symTwin[xs] !== ys) return false;
  }
  return true;
}

type CodeResult = { kind: 'same' } | { kind: 'line' } | { kind: 'changed'; reason: string };
const SAME_CODE: CodeResult = { kind: 'same' };
const LINE_ONLY: CodeResult = { kind: 'line' };

/**
 * Compares a function's code. `explains` says whether a constant passed to a
 * line-number consumer may have moved from one value to the other with its
 * source line (the patch's line map; without one, any value may).
 */
function compareCode(P: Kelf, ps: number, O: Kelf, os: number, explains: (orig: number, patched: number) => boolean): CodeResult {
  const pSize = P.secSize(ps);
  const oSize = O.secSize(os);
  const bytesEqual = pSize === oSize && sameContents(P, ps, O, os);
  let reason: string | null = null;
  const pa = P.relStart[ps];
  const oa = O.relStart[os];
  const pn = P.relStart[ps + 1] - pa;
  const on = O.relStart[os + 1] - oa;
  const n = Math.min(pn, on);
  for (let i = 0; i < n; i++) {
    if (!relocsEqual(P, ps, pa + i, 0, O, os, oa + i, 0)) {
      const table = copiedTable(P, pa + i);
      reason = table !== 0 ? `reads ${P.symName(table)}, a read-only table the patch changes (at +0x${P.relOff[pa + i].toString(16)})` : `reference at +0x${P.relOff[pa + i].toString(16)} is ${describe(P, pa + i)} (was ${describe(O, oa + i)} at +0x${O.relOff[oa + i].toString(16)})`;
      break;
    }
  }
  if (reason === null && pn !== on) reason = `${pn} references (was ${on})`;
  if (reason === null && bytesEqual) return SAME_CODE;
  if (reason === null) {
    // Only calls count: references to strings and data (the WARN_ONCE flag, say) are skipped.
    const nameOf = (j: number): string | null => {
      const t = P.relSym[j];
      if (!t) return '';
      if (P.isData(t) || (P.symSec[t] && !P.isText(P.symSec[t]))) return null;
      return P.symName(t);
    };
    const line = pSize === oSize ? lineNumberDifference(O, os, P, ps, nameOf, explains) : 'no';
    if (line === 'line') return LINE_ONLY;
    if (line !== 'no') {
      return { kind: 'changed', reason: `the constant passed to ${line.callee} changed from ${line.orig} to ${line.patched}, and the patch moves no line from ${line.orig} to ${line.patched}` };
    }
    const pd = P.secData(ps);
    const od = O.secData(os);
    let at = 0;
    const len = Math.min(pSize, oSize);
    while (at < len && pd[at] === od[at]) at++;
    reason = pSize !== oSize && at === len ? `size 0x${pSize.toString(16)} (was 0x${oSize.toString(16)})` : `code differs at +0x${at.toString(16)}`;
  }
  return { kind: 'changed', reason };
}

function dataChanged(P: Kelf, d: number, O: Kelf, o: number): boolean {
  const size = P.size(d);
  if (size !== O.size(o)) return true;
  const ps = P.symSec[d];
  const os = O.symSec[o];
  const pv = P.value(d);
  const ov = O.value(o);
  const pNobits = P.isNobits(ps);
  const oNobits = O.isNobits(os);
  if (!(pNobits && oNobits)) {
    const a = pNobits ? Buffer.alloc(size) : P.secData(ps).subarray(pv, pv + size);
    const b = oNobits ? Buffer.alloc(size) : O.secData(os).subarray(ov, ov + size);
    if (!a.equals(b)) return true;
  }
  const pa = P.relFirst(ps, pv);
  const pe = P.relFirst(ps, pv + Math.max(size, 1));
  const oa = O.relFirst(os, ov);
  const oe = O.relFirst(os, ov + Math.max(size, 1));
  if (pe - pa !== oe - oa) return true;
  for (let i = 0; i < pe - pa; i++) if (!relocsEqual(P, ps, pa + i, pv, O, os, oa + i, ov)) return true;
  return false;
}

/** Sections whose data changes are checked (running data). */
function isRunningData(k: Kelf, sec: number): boolean {
  return k.isAlloc(sec) && !k.isText(sec) && !k.isStrings(sec) && !k.secIgnored[sec] && (k.secClass[sec] & (C_DROPPED | C_INIT | C_METADATA | C_SPECIAL | C_AUX)) === 0;
}

export function compareData(ctx: DiffContext): void {
  const P = ctx.patched;
  const O = ctx.orig;
  for (let d = 1; d < P.nsym; d++) {
    if (!P.isData(d) || !P.symSec[d] || P.has(d, F_IGNORED)) continue;
    const t = P.symTwin[d];
    if (!t || !O.symSec[t]) {
      P.symStatus[d] = NEW;
      continue;
    }
    const sec = P.symSec[d];
    if (!isRunningData(P, sec) || !dataChanged(P, d, O, t)) {
      P.symStatus[d] = SAME;
      continue;
    }
    const name = P.symName(d);
    if (!P.isWritable(sec) && P.isLocal(d) && /\.\d+$/.test(name)) {
      // A compiler-numbered constant: the new code gets its own copy.
      asNewCopy(P, d, O, t);
      continue;
    }
    P.symStatus[d] = CHANGED;
    const table = deviceTableOf(P, d);
    if (table !== null) {
      // Refused once, under the table's own name.
      if (!table.aliasOfPresentTable) refuse(ctx, `${P.file}: ${table.table}`, deviceTableReason(table, P.secName(sec)), 'device-table');
      continue;
    }
    const users = referrers(P, d);
    if (isCodeOnlyTable(P, d, users) && O.secBundled[O.symSec[t]] === t) {
      // A static read-only table that only this object's running code reads
      // (a quirk or lookup table): it is part of that code. The patch
      // carries the new table, and every function that reads it becomes
      // changed and is replaced with one that reads the copy, so the whole
      // of the new code sees the new table, and the old code the old.
      asNewCopy(P, d, O, t);
      P.set(d, F_TABLE_COPY);
      ctx.notes.push(`${name}: read-only table changed (in ${P.secName(sec)}); only code of this object reads it (${users.map((f) => P.symName(f)).join(', ')}): the patch carries the new table, and those functions are replaced to read it`);
      continue;
    }
    const initOnly = users.length > 0 && users.every((f) => (P.secClass[P.symSec[f]] & C_INIT) !== 0);
    refuse(ctx, `${P.file}: ${name}`, initOnly
      ? `existing data changed (in ${P.secName(sec)}); only __init/__exit code refers to it (${users.map((f) => P.symName(f)).join(', ')}): what the init code set up from the old data when it ran (at boot, or when the module loaded) stays as it was`
      : `existing data changed (in ${P.secName(sec)}); changes to data that running code uses cannot be live-patched`, 'data-changed');
  }
}

/**
 * Makes changed data `d` (twin `t`) new: the patch carries its own copy, and
 * every reference to it, by name or by its section's symbol when the object
 * has the section to itself, differs from the original's, so the functions
 * that read it are changed.
 */
function asNewCopy(P: Kelf, d: number, O: Kelf, t: number): void {
  O.symTwin[t] = 0;
  P.symTwin[d] = 0;
  const sec = P.symSec[d];
  const os = O.symSec[t];
  if (P.secBundled[sec] === d && O.secBundled[os] === t && P.secTwin[sec] === os) {
    P.secTwin[sec] = 0;
    O.secTwin[os] = 0;
  }
  P.symStatus[d] = NEW;
}

/**
 * Whether changed data `d` is a table that only running code of this object
 * reads, so that replacing those readers with ones that read a new copy is
 * the whole change: static (no other object can name it), read-only (no
 * running state to lose), alone in its section, read by functions none of
 * which is __init/__exit (what init code set up from it stays), referred to
 * by no data or table entry (a pointer to it that running data holds would
 * keep reaching the old one), and holding no function pointers, nor
 * pointers to other objects' symbols, which may be functions (an ops
 * table's address is what drivers register and compare).
 */
function isCodeOnlyTable(P: Kelf, d: number, users: number[]): boolean {
  const sec = P.symSec[d];
  if (P.isWritable(sec) || !P.isLocal(d) || P.secBundled[sec] !== d || users.length === 0) return false;
  if (users.some((f) => (P.secClass[P.symSec[f]] & C_INIT) !== 0)) return false;
  const [a, e] = P.relRange(sec, P.value(d), P.value(d) + Math.max(P.size(d), 1));
  for (let j = a; j < e; j++) {
    const t = P.relSym[j];
    // A function, or a symbol of another object (which may be one).
    if (t > 0 && (P.isFunc(t) || P.symSec[t] === 0 || P.isText(P.symSec[t]))) return false;
  }
  // No reference to it from outside function code (other data, special-section entries).
  for (let s = 1; s < P.nsec; s++) {
    if (P.relCount(s) === 0 || !P.isAlloc(s) || P.isText(s) || (P.secClass[s] & C_DROPPED) !== 0) continue;
    for (let j = P.relStart[s]; j < P.relStart[s + 1]; j++) {
      const t = P.relSym[j];
      if (t === d || (t > 0 && P.isSection(t) && P.symSec[t] === sec)) return false;
    }
  }
  return true;
}

/** The table copy (F_TABLE_COPY) relocation `j` reaches, by name or section symbol; 0 if none. */
function copiedTable(P: Kelf, j: number): number {
  const t = P.relSym[j];
  if (t === 0) return 0;
  const d = P.isSection(t) ? (P.symSec[t] ? P.secBundled[P.symSec[t]] : 0) : t;
  return d > 0 && P.has(d, F_TABLE_COPY) ? d : 0;
}

/** The functions whose code refers to data symbol `d` (by its name or its section's symbol). */
function referrers(P: Kelf, d: number): number[] {
  const dsec = P.symSec[d];
  const out: number[] = [];
  for (let f = 1; f < P.nsym; f++) {
    if (!P.isFunc(f) || !P.symSec[f]) continue;
    const [a, e] = P.relRange(P.symSec[f], P.value(f), P.value(f) + P.size(f));
    for (let j = a; j < e; j++) {
      const t = P.relSym[j];
      if (t === d || (t > 0 && P.isSection(t) && P.symSec[t] === dsec)) {
        out.push(f);
        break;
      }
    }
  }
  return out;
}

export function compareFunctions(ctx: DiffContext): void {
  const P = ctx.patched;
  const O = ctx.orig;
  const lines = ctx.lines;
  const explains = lines === null ? () => true : (a: number, b: number): boolean => lines.explains(a, b);
  let guessed = 0;
  for (let f = 1; f < P.nsym; f++) {
    if (!P.isFunc(f) || !P.symSec[f] || P.prefixOf.has(f) || P.aliasOf.has(f)) continue;
    const t = P.symTwin[f];
    if (!t || !O.symSec[t]) {
      P.symStatus[f] = NEW;
      continue;
    }
    if (P.has(f, F_IGNORED)) {
      P.symStatus[f] = SAME;
      continue;
    }
    const ps = P.symSec[f];
    const os = O.symSec[t];
    if (P.secBundled[ps] !== f || O.secBundled[os] !== t) {
      // Not in a section of its own: compare its range.
      const same = P.size(f) === O.size(t) && rangeSame(P, f, O, t);
      P.symStatus[f] = same ? SAME : CHANGED;
      if (!same) P.reason(f, 'code or references differ');
      if (!same && (P.secClass[ps] & C_INIT) !== 0) refuseInit(ctx, f);
      continue;
    }
    const r = compareCode(P, ps, O, os, explains);
    if (r.kind === 'same') P.symStatus[f] = SAME;
    else if (r.kind === 'line') {
      P.symStatus[f] = SAME;
      P.set(f, F_LINE_ONLY);
      if (lines === null) guessed++;
    } else {
      P.symStatus[f] = CHANGED;
      P.reason(f, r.reason);
    }
    if (P.symStatus[f] === CHANGED && (P.secClass[ps] & C_INIT) !== 0) refuseInit(ctx, f);
  }
  if (guessed > 0) {
    ctx.notes.push(`${guessed} function(s) differ only in constants passed to line-number consumers, taken as __LINE__ moves without the patch to confirm them (give --patch)`);
  }
}

function refuseInit(ctx: DiffContext, f: number): void {
  const P = ctx.patched;
  // Say which changed data it refers to: the function often changed only with it (an ARRAY_SIZE, a table's address).
  const [a, e] = P.relRange(P.symSec[f], P.value(f), P.value(f) + P.size(f));
  const data = new Set<string>();
  for (let j = a; j < e; j++) {
    const t = P.relSym[j];
    if (t > 0 && P.isData(t) && P.symStatus[t] === CHANGED) data.add(P.symName(t));
  }
  const refers = data.size > 0 ? ` (it refers to changed data: ${[...data].join(', ')})` : '';
  refuse(ctx, `${P.file}: ${P.symName(f)}`, `__init/__exit function changed (in ${P.secName(P.symSec[f])})${refers}; init and exit code cannot be live-patched`, 'init-code');
}

function rangeSame(P: Kelf, f: number, O: Kelf, o: number): boolean {
  const ps = P.symSec[f];
  const os = O.symSec[o];
  const pv = P.value(f);
  const ov = O.value(o);
  const a = P.secData(ps).subarray(pv, pv + P.size(f));
  const b = O.secData(os).subarray(ov, ov + O.size(o));
  if (!a.equals(b)) return false;
  const [pa, pe] = P.relRange(ps, pv, pv + P.size(f));
  const [oa, oe] = O.relRange(os, ov, ov + O.size(o));
  if (pe - pa !== oe - oa) return false;
  for (let i = 0; i < pe - pa; i++) if (!relocsEqual(P, ps, pa + i, pv, O, os, oa + i, ov)) return false;
  return true;
}
