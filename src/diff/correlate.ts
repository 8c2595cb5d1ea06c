/**
 * Correlation: pair every symbol and section of the patched object with its
 * twin in the original, robust to compiler renaming. Names without numeric
 * parts match exactly; numbered names (static locals `foo.123`, clones
 * `.isra.N`/`.constprop.N`/`.part.N`, `.cold.N`, `__UNIQUE_ID_x123`) match
 * through the functions that use them, then by a unique stem, then exactly.
 */
import type { Kelf, Pair } from './model.js';
import { pushMap } from './model.js';

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

export function correlate(pair: Pair): void {
  const { orig, patched } = pair;
  // Stems of the numbered names, both sides; 0 in `numbered` for plain names.
  const origStems = new Map<string, number[]>();
  const patStems = new Map<string, number[]>();
  const patStemOf = new Map<number, string>();
  const origStemOf = new Map<number, string>();
  for (const [k, stems, of] of [[orig, origStems, origStemOf], [patched, patStems, patStemOf]] as const) {
    for (let s = 1; s < k.nsym; s++) {
      if (!k.isNamed(s)) continue;
      const st = numberedStem(k.symName(s));
      if (st === null) continue;
      pushMap(stems, st, s);
      of.set(s, st);
    }
  }
  const link = (a: number, b: number): void => {
    patched.symTwin[a] = b;
    orig.symTwin[b] = a;
  };
  const exact = (s: number): void => {
    const c = orig.namedLike(patched, s);
    if (c.length === 1 && orig.symTwin[c[0]] === 0 && compatible(patched, s, orig, c[0])) link(s, c[0]);
  };

  // 1. Plain names, exactly.
  for (let s = 1; s < patched.nsym; s++) {
    if (!patched.isNamed(s) || patStemOf.has(s)) continue;
    exact(s);
  }
  // 2. Numbered functions: a unique stem on both sides, else the exact name.
  for (const [s, st] of patStemOf) {
    if (patched.symTwin[s] || !patched.isFunc(s)) continue;
    const a = patStems.get(st)!;
    const b = origStems.get(st);
    if (a.length === 1 && b && b.length === 1 && !orig.symTwin[b[0]] && compatible(patched, s, orig, b[0])) link(s, b[0]);
  }
  for (const s of patStemOf.keys()) {
    if (patched.symTwin[s] || !patched.isFunc(s)) continue;
    exact(s);
  }
  // 3. Numbered data (static locals): through the correlated functions that use them, in order of use.
  if ([...patStemOf.keys()].some((s) => !patched.symTwin[s])) {
    for (let f = 1; f < patched.nsym; f++) {
      const t = patched.symTwin[f];
      if (!t || !patched.isFunc(f) || !patched.symSec[f] || !orig.symSec[t]) continue;
      const mine = numberedRefs(patched, f, patStemOf);
      if (mine.size === 0) continue;
      const theirs = numberedRefs(orig, t, origStemOf);
      for (const [st, list] of mine) {
        const other = theirs.get(st);
        if (!other) continue;
        let j = 0;
        for (const s of list) {
          if (patched.symTwin[s]) continue;
          while (j < other.length && orig.symTwin[other[j]]) j++;
          if (j >= other.length) break;
          if (compatible(patched, s, orig, other[j])) link(s, other[j]);
          j++;
        }
      }
    }
  }
  // 4. Remaining numbered symbols: a unique stem on both sides, else the exact name.
  for (const [s, st] of patStemOf) {
    if (patched.symTwin[s]) continue;
    const a = patStems.get(st)!.filter((x) => !patched.symTwin[x]);
    const b = (origStems.get(st) ?? []).filter((x) => !orig.symTwin[x]);
    if (a.length === 1 && b.length === 1 && compatible(patched, s, orig, b[0])) link(s, b[0]);
  }
  for (const s of patStemOf.keys()) {
    if (patched.symTwin[s]) continue;
    exact(s);
  }
  correlateSections(orig, patched);
}

/** Numbered local data a function references, grouped by stem, in order of first use. */
function numberedRefs(k: Kelf, f: number, stemOf: ReadonlyMap<number, string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  let seen: Set<number> | null = null;
  const fsec = k.symSec[f];
  const secs: number[] = [fsec];
  for (const c of k.children.get(f) ?? []) if (k.symSec[c] && k.symSec[c] !== fsec) secs.push(k.symSec[c]);
  for (const sec of secs) {
    const [a, b] = sec === fsec && k.secBundled[sec] !== f ? k.relRange(sec, k.value(f), k.value(f) + k.size(f)) : [k.relStart[sec], k.relStart[sec + 1]];
    for (let j = a; j < b; j++) {
      const t = k.relSym[j];
      if (t === 0) continue;
      const st = stemOf.get(t);
      if (st === undefined || k.isFunc(t) || k.isUndefined(t) || !k.isLocal(t)) continue;
      if (!seen) seen = new Set();
      if (seen.has(t)) continue;
      seen.add(t);
      pushMap(out, st, t);
    }
  }
  return out;
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
    const base = patched.secBase[s];
    const bt = base ? patched.secTwin[base] : 0;
    if (bt && orig.secRela[bt]) {
      patched.secTwin[s] = orig.secRela[bt];
      orig.secTwin[orig.secRela[bt]] = s;
    }
  }
}
