/**
 * `sympos`: which of several same-named symbols of a target object is meant.
 * 0 when the name is unique; otherwise the 1-based position among the
 * same-named symbols in table order (the order kallsyms walks), chosen by the
 * defining source file (FILE symbols) or, for System.map/kallsyms, by the
 * neighbouring symbols of the original object.
 */
import type { SymbolIndex } from './table.js';

export interface SymposQuery {
  name: string;
  /** The original object's FILE symbol (its source file name), if any. */
  file: string | null;
  /** Names of the original object's own defined symbols (for tables without FILE symbols). */
  neighbours: ReadonlySet<string>;
  /** The reference is to a global symbol defined elsewhere: a single global candidate wins. */
  global?: boolean;
}

export type SymposResult =
  | { ok: true; sympos: number; /** false when the table does not define the name at all */ found: boolean }
  | { ok: false; candidates: string[] };

export function findSympos(index: SymbolIndex, q: SymposQuery): SymposResult {
  const positions = index.defined(q.name);
  if (positions.length === 0) return { ok: true, sympos: 0, found: false };
  if (positions.length === 1) return { ok: true, sympos: 0, found: true };
  const syms = index.table.symbols;
  const describe = (p: number, k: number): string => {
    const s = syms[p];
    if (s.file) return `${q.name},${k + 1} (in ${s.file})`;
    const before = p > 0 ? syms[p - 1].name : '';
    return `${q.name},${k + 1} (after ${before || 'the start'})`;
  };
  const candidates = positions.map((p, k) => describe(p, k));
  if (q.global) {
    const globals = positions.map((p, k) => ({ p, k })).filter((x) => !syms[x.p].local);
    if (globals.length === 1) return { ok: true, sympos: globals[0].k + 1, found: true };
  }
  if (index.table.hasFiles) {
    if (q.file === null) return { ok: false, candidates };
    const base = (f: string) => f.slice(f.lastIndexOf('/') + 1);
    const hits: number[] = [];
    positions.forEach((p, k) => {
      const f = syms[p].file;
      if (f !== null && (f === q.file || base(f) === base(q.file!))) hits.push(k);
    });
    if (hits.length === 1) return { ok: true, sympos: hits[0] + 1, found: true };
    return { ok: false, candidates };
  }
  // No FILE symbols: score each candidate by how many of the object's own
  // symbols sit around it (an object's symbols are laid out together).
  const window = Math.min(64, Math.max(8, q.neighbours.size));
  let best = -1;
  let bestScore = 0;
  let tie = false;
  positions.forEach((p, k) => {
    let score = 0;
    const lo = Math.max(0, p - window);
    const hi = Math.min(syms.length - 1, p + window);
    for (let i = lo; i <= hi; i++) {
      if (i !== p && syms[i].name !== q.name && q.neighbours.has(syms[i].name)) score++;
    }
    if (score > bestScore) {
      best = k;
      bestScore = score;
      tie = false;
    } else if (score === bestScore && score > 0) {
      tie = true;
    }
  });
  if (best >= 0 && !tie) return { ok: true, sympos: best + 1, found: true };
  return { ok: false, candidates };
}
