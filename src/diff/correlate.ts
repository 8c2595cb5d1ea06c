/**
 * Correlation: pair every symbol and section of the patched object with its
 * twin in the original, robust to compiler renaming. Names without numeric
 * parts match exactly; numbered names (static locals `foo.123`, clones
 * `.isra.N`/`.constprop.N`/`.part.N`, `.cold.N`, `__UNIQUE_ID_x123`) match
 * through the functions that use them, then by a unique stem, then exactly.
 */
import type { Kelf, Pair } from './model.js';

/** The name with its numeric parts replaced: `foo.isra.3` -> `foo.isra.#`. */
export function stem(name: string): string {
  let s = name.replace(/\.\d+(?=\.|$)/g, '.#');
  if (s.startsWith('__UNIQUE_ID_')) s = s.replace(/\d+(?=(\.|$))/, '#');
  return s;
}

/** The stem of a numbered name, or null when the name has no numeric parts. */
function numberedStem(name: string): string | null {
  if (!/\d/.test(name)) return null;
  const s = stem(name);
  return s === name ? null : s;
}

function compatible(p: Kelf, a: number, o: Kelf, b: number): boolean {
  return p.isUndefined(a) === o.isUndefined(b) && p.isFunc(a) === o.isFunc(b);
}

/** Numbered names of one object: a stem id per symbol (0 for plain names) and the symbols of each stem (CSR arrays). */
interface Stems {
  id: Int32Array;
  start: Int32Array;
  syms: Int32Array;
}

function stemsOf(k: Kelf, intern: Map<string, number>): Stems {
  const id = new Int32Array(k.nsym);
  let count = 0;
  for (let s = 1; s < k.nsym; s++) {
    if (!k.isNamed(s) || !k.maybeNumbered(s)) continue;
    const st = numberedStem(k.symName(s));
    if (st === null) continue;
    let n = intern.get(st);
    if (n === undefined) intern.set(st, (n = intern.size + 1));
    id[s] = n;
    count++;
  }
  return { id, start: new Int32Array(0), syms: new Int32Array(count) };
}

/** Fills the per-stem lists once every stem of both objects is interned. */
function listStems(k: Kelf, st: Stems, stems: number): void {
  const start = new Int32Array(stems + 2);
  for (let s = 1; s < k.nsym; s++) if (st.id[s]) start[st.id[s] + 1]++;
  for (let n = 1; n < start.length; n++) start[n] += start[n - 1];
  const fill = start.slice();
  for (let s = 1; s < k.nsym; s++) if (st.id[s]) st.syms[fill[st.id[s]]++] = s;
  st.start = start;
}

/** The symbols of stem `n`. */
function stemList(st: Stems, n: number): Int32Array {
  return st.syms.subarray(st.start[n], st.start[n + 1]);
}

export function correlate(pair: Pair): void {
  const { orig, patched } = pair;
  const intern = new Map<string, number>();
  const O = stemsOf(orig, intern);
  const P = stemsOf(patched, intern);
  listStems(orig, O, intern.size);
  listStems(patched, P, intern.size);
  const link = (a: number, b: number): void => {
    patched.symTwin[a] = b;
    orig.symTwin[b] = a;
  };
  const exact = (s: number): void => {
    const c = orig.uniqueLike(patched, s);
    if (c !== 0 && orig.symTwin[c] === 0 && compatible(patched, s, orig, c)) link(s, c);
  };
  const numbered = new Int32Array(P.syms.length);
  let nn = 0;
  for (let s = 1; s < patched.nsym; s++) if (P.id[s]) numbered[nn++] = s;

  // 1. Plain names, exactly.
  for (let s = 1; s < patched.nsym; s++) {
    if (!patched.isNamed(s) || P.id[s]) continue;
    exact(s);
  }
  // 2. Numbered functions: a unique stem on both sides, else the exact name.
  for (const s of numbered) {
    if (patched.symTwin[s] || !patched.isFunc(s)) continue;
    const a = stemList(P, P.id[s]);
    const b = stemList(O, P.id[s]);
    if (a.length === 1 && b.length === 1 && !orig.symTwin[b[0]] && compatible(patched, s, orig, b[0])) link(s, b[0]);
  }
  for (const s of numbered) {
    if (patched.symTwin[s] || !patched.isFunc(s)) continue;
    exact(s);
  }
  // 3. Numbered data (static locals): through the correlated functions that use them, in order of use.
  if (numbered.some((s) => !patched.symTwin[s])) {
    const mine: number[] = [];
    const theirs: number[] = [];
    const cursors: number[] = [];
    for (let f = 1; f < patched.nsym; f++) {
      const t = patched.symTwin[f];
      if (!t || !patched.isFunc(f) || !patched.symSec[f] || !orig.symSec[t]) continue;
      numberedRefs(patched, f, P.id, mine);
      if (mine.length === 0) continue;
      numberedRefs(orig, t, O.id, theirs);
      // Per stem (in order of first use), pair the untwinned symbols in order of use.
      cursors.length = 0;
      for (const s of mine) {
        const st = P.id[s];
        let c = 0;
        while (c < cursors.length && cursors[c] !== st) c += 2;
        if (c === cursors.length) cursors.push(st, 0);
        if (cursors[c + 1] < 0) continue; // this stem ran out
        if (patched.symTwin[s]) continue;
        let j = cursors[c + 1];
        while (j < theirs.length && (O.id[theirs[j]] !== st || orig.symTwin[theirs[j]])) j++;
        if (j >= theirs.length) {
          cursors[c + 1] = -1;
          continue;
        }
        if (compatible(patched, s, orig, theirs[j])) link(s, theirs[j]);
        cursors[c + 1] = j + 1;
      }
    }
  }
  // 4. Remaining numbered symbols: a unique stem on both sides, else the exact name.
  for (const s of numbered) {
    if (patched.symTwin[s]) continue;
    const a = stemList(P, P.id[s]).filter((x) => !patched.symTwin[x]);
    const b = stemList(O, P.id[s]).filter((x) => !orig.symTwin[x]);
    if (a.length === 1 && b.length === 1 && compatible(patched, s, orig, b[0])) link(s, b[0]);
  }
  for (const s of numbered) {
    if (patched.symTwin[s]) continue;
    exact(s);
  }
  correlateSections(orig, patched);
}

/** Numbered local data a function references, in order of first use, into `out`. */
function numberedRefs(k: Kelf, f: number, stemId: Int32Array, out: number[]): void {
  out.length = 0;
  const fsec = k.symSec[f];
  if (k.secBundled[fsec] !== f) scanRefs(k, stemId, k.relFirst(fsec, k.value(f)), k.relFirst(fsec, k.value(f) + k.size(f)), out);
  else scanRefs(k, stemId, k.relStart[fsec], k.relStart[fsec + 1], out);
  const kids = k.children.get(f);
  if (kids) {
    const done: number[] = [fsec];
    for (const c of kids) {
      const cs = k.symSec[c];
      if (!cs || done.includes(cs)) continue;
      done.push(cs);
      scanRefs(k, stemId, k.relStart[cs], k.relStart[cs + 1], out);
    }
  }
}

function scanRefs(k: Kelf, stemId: Int32Array, a: number, b: number, out: number[]): void {
  for (let j = a; j < b; j++) {
    const t = k.relSym[j];
    if (t === 0 || stemId[t] === 0 || k.isFunc(t) || k.isUndefined(t) || !k.isLocal(t)) continue;
    if (!out.includes(t)) out.push(t);
  }
}

function correlateSections(orig: Kelf, patched: Kelf): void {
  for (let s = 1; s < patched.nsec; s++) {
    if (patched.isRelocation(s)) continue;
    let twin = 0;
    const b = patched.secBundled[s];
    if (b) {
      const t = patched.symTwin[b];
      if (t && orig.symSec[t] && orig.secBundled[orig.symSec[t]] === t) twin = orig.symSec[t];
    } else {
      const name = patched.secName(s);
      const cands = orig.sectionsNamed(name).filter((x) => !orig.secBundled[x] && !orig.secTwin[x]);
      const mine = patched.sectionsNamed(name);
      if (cands.length === 1 && mine.length === 1) twin = cands[0];
      else if (patched.e.link(s) && cands.length > 0) {
        // SHF_LINK_ORDER tables (one per function): pair through the linked section.
        const lt = patched.secTwin[patched.e.link(s)];
        if (lt) twin = cands.find((c) => orig.e.link(c) === lt) ?? 0;
      }
    }
    if (twin && !orig.secTwin[twin]) {
      patched.secTwin[s] = twin;
      orig.secTwin[twin] = s;
    }
  }
  for (let s = 1; s < patched.nsec; s++) {
    if (!patched.isRelocation(s)) continue;
    const base = patched.secBase(s);
    const bt = base ? patched.secTwin[base] : 0;
    if (bt && orig.secRela[bt]) {
      patched.secTwin[s] = orig.secRela[bt];
      orig.secTwin[orig.secRela[bt]] = s;
    }
  }
}
