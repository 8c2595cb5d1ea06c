/**
 * Correlation: pair every symbol and section of the patched object with its
 * twin in the original, robust to compiler renaming. Names without numeric
 * parts match exactly; numbered names (static locals `foo.123`, clones
 * `.isra.N`/`.constprop.N`/`.part.N`, `.cold.N`, `__UNIQUE_ID_x123`) match
 * through the functions that use them, then by a unique stem, then exactly.
 */
import type { DSec, DSym, Kelf, Pair } from './model.js';
import { pushMap } from './model.js';

/** The name with its numeric parts replaced: `foo.isra.3` -> `foo.isra.#`. */
export function stem(name: string): string {
  let s = name.replace(/\.\d+(?=\.|$)/g, '.#');
  if (s.startsWith('__UNIQUE_ID_')) s = s.replace(/\d+(?=(\.|$))/, '#');
  return s;
}

function isNumbered(name: string): boolean {
  return stem(name) !== name;
}

function compatible(a: DSym, b: DSym): boolean {
  if (a.isUndefined !== b.isUndefined) return false;
  if (a.isFunc !== b.isFunc) return false;
  return true;
}

function link(a: DSym, b: DSym): void {
  a.twin = b;
  b.twin = a;
}

export function correlate(p: Pair): void {
  const { orig, patched } = p;
  const origStems = new Map<string, DSym[]>();
  const patStems = new Map<string, DSym[]>();
  for (const s of orig.symbols) if (s.isNamed && isNumbered(s.name)) pushMap(origStems, stem(s.name), s);
  for (const s of patched.symbols) if (s.isNamed && isNumbered(s.name)) pushMap(patStems, stem(s.name), s);

  // 1. Plain names, exactly.
  for (const s of patched.symbols) {
    if (!s.isNamed || isNumbered(s.name)) continue;
    const cands = orig.byName.get(s.name);
    if (cands && cands.length === 1 && !cands[0].twin && compatible(s, cands[0])) link(s, cands[0]);
  }
  // 2. Numbered functions: a unique stem on both sides, else the exact name.
  for (const s of patched.symbols) {
    if (!s.isNamed || s.twin || !s.isFunc || !isNumbered(s.name)) continue;
    const st = stem(s.name);
    const a = patStems.get(st)!;
    const b = origStems.get(st);
    if (a.length === 1 && b && b.length === 1 && !b[0].twin && compatible(s, b[0])) link(s, b[0]);
  }
  for (const s of patched.symbols) {
    if (!s.isNamed || s.twin || !s.isFunc || !isNumbered(s.name)) continue;
    const cands = orig.byName.get(s.name);
    if (cands && cands.length === 1 && !cands[0].twin && compatible(s, cands[0])) link(s, cands[0]);
  }
  // 3. Numbered data (static locals): through the correlated functions that use them, in order of use.
  for (const f of patched.symbols) {
    if (!f.isFunc || !f.twin || !f.sec || !f.twin.sec) continue;
    const mine = numberedRefs(f, patched);
    if (mine.size === 0) continue;
    const theirs = numberedRefs(f.twin, orig);
    for (const [st, list] of mine) {
      const other = theirs.get(st);
      if (!other) continue;
      let j = 0;
      for (const s of list) {
        if (s.twin) continue;
        while (j < other.length && other[j].twin) j++;
        if (j >= other.length) break;
        if (compatible(s, other[j])) link(s, other[j]);
        j++;
      }
    }
  }
  // 4. Remaining numbered symbols: a unique stem on both sides, else the exact name.
  for (const s of patched.symbols) {
    if (!s.isNamed || s.twin || !isNumbered(s.name)) continue;
    const st = stem(s.name);
    const a = patStems.get(st)!.filter((x) => !x.twin);
    const b = (origStems.get(st) ?? []).filter((x) => !x.twin);
    if (a.length === 1 && b.length === 1 && compatible(s, b[0])) link(s, b[0]);
  }
  for (const s of patched.symbols) {
    if (!s.isNamed || s.twin || !isNumbered(s.name)) continue;
    const cands = orig.byName.get(s.name);
    if (cands && cands.length === 1 && !cands[0].twin && compatible(s, cands[0])) link(s, cands[0]);
  }
  correlateSections(orig, patched);
}

/** Numbered local data a function references, grouped by stem, in order of first use. */
function numberedRefs(f: DSym, k: Kelf): Map<string, DSym[]> {
  const out = new Map<string, DSym[]>();
  const seen = new Set<DSym>();
  const secs: DSec[] = [f.sec!];
  for (const c of f.children) if (c.sec && c.sec !== f.sec) secs.push(c.sec);
  for (const sec of secs) {
    const rels = sec === f.sec && sec.bundled !== f ? sec.relocsIn(f.value, f.value + f.size) : sec.relocs;
    for (const r of rels) {
      const t = r.sym;
      if (!t || !t.isNamed || t.isFunc || t.isUndefined || !t.isLocal || seen.has(t) || !isNumbered(t.name)) continue;
      seen.add(t);
      pushMap(out, stem(t.name), t);
    }
  }
  void k;
  return out;
}

function correlateSections(orig: Kelf, patched: Kelf): void {
  for (const s of patched.sections) {
    if (s.isRelocation) continue;
    let twin: DSec | null = null;
    if (s.bundled) {
      const t = s.bundled.twin;
      if (t && t.sec && t.sec.bundled === t) twin = t.sec;
    } else {
      const cands = (orig.secByName.get(s.name) ?? []).filter((x) => !x.bundled && !x.twin);
      const mine = patched.secByName.get(s.name)!;
      if (cands.length === 1 && mine.length === 1) twin = cands[0];
      else if (s.s.link && cands.length > 0) {
        // SHF_LINK_ORDER tables (one per function): pair through the linked section.
        const linked = patched.secOf.get(s.s.link);
        const lt = linked?.twin;
        if (lt) twin = cands.find((c) => c.s.link === lt.s) ?? null;
      }
    }
    if (twin && !twin.twin) {
      s.twin = twin;
      twin.twin = s;
    }
  }
  for (const s of patched.sections) {
    if (s.isRelocation && s.base?.twin?.rela) {
      s.twin = s.base.twin.rela;
      s.twin.twin = s;
    }
  }
}
