/**
 * Structure of one object: which section each function or object owns
 * (`-ffunction-sections`), `__pfx_` padding in front of functions, the
 * compiler-made children of a function (`.cold`, and clones without an
 * ftrace call such as a `.part.N` split), and which functions can be
 * patched (an `__fentry__` call at entry, or a patchable function entry).
 */
import type { DSec, DSym, Kelf } from './model.js';

const FENTRY_NAMES = new Set(['__fentry__', 'mcount', '__mcount', '_mcount']);

export function analyseStructure(k: Kelf): void {
  bundle(k);
  findChildren(k);
}

function bundle(k: Kelf): void {
  for (const sec of k.sections) {
    if (sec.syms.length === 0) continue;
    for (const sym of sec.syms) {
      if (!(sym.isFunc || sym.isData)) continue;
      if (sym.name.startsWith('__pfx_')) {
        const target = k.byName.get(sym.name.slice(6))?.find((x) => x.sec === sec && x.isFunc);
        if (target) {
          target.prefix = sym;
          sym.prefixOf = target;
        }
        continue;
      }
      // The section must hold this symbol (and its prefix) only, and be named
      // after it or be covered by it (a `.cold` part in `.text.unlikely.<parent>`).
      const others = sec.syms.filter((x) => x !== sym && (x.isFunc || x.isData) && !(x.name === `__pfx_${sym.name}`) && !(x.value === sym.value && x.size === sym.size));
      if (others.length !== 0) continue;
      const named = sec.name.endsWith(`.${sym.name}`) || sec.name === sym.name;
      const covers = sym.isFunc && sec.isText && sym.value + sym.size === sec.size && (sym.value === 0 || (sym.prefix !== null && sym.prefix.value === 0));
      if (named || covers) sec.bundled = sym;
    }
    const b = sec.bundled;
    if (b) for (const x of sec.syms) if (x !== b && x.elf.type === b.elf.type && x.value === b.value && x.size === b.size) x.aliasOf = b;
  }
}

const CHILD = /^(.+?)((?:\.(?:cold|part|isra|constprop|lto_priv|localalias)(?:\.\d+)?)+)$/;

function findChildren(k: Kelf): void {
  for (const sym of k.symbols) {
    if (!sym.isFunc || !sym.sec) continue;
    const m = CHILD.exec(sym.name);
    if (!m) continue;
    const isCold = /\.cold(\.\d+)?$/.test(sym.name);
    if (!isCold && hasFentry(sym)) continue; // a clone with its own ftrace call is a function of its own
    // The parent: the longest proper prefix that names a function.
    let name = sym.name;
    let parent: DSym | undefined;
    for (;;) {
      const cut = name.lastIndexOf('.');
      if (cut <= 0) break;
      name = name.slice(0, cut);
      parent = k.byName.get(name)?.find((x) => x.isFunc && x.sec !== null && x !== sym);
      if (parent) break;
    }
    if (parent) {
      sym.parent = parent;
      parent.children.push(sym);
    }
  }
}

/** Sites recorded in `__mcount_loc`/`__patchable_function_entries`, per section. */
function recordedSites(k: Kelf): Map<DSec, number[]> {
  const cached = sitesCache.get(k);
  if (cached) return cached;
  const m = new Map<DSec, number[]>();
  for (const sec of k.sections) {
    if (sec.name !== '__mcount_loc' && sec.name !== '__patchable_function_entries') continue;
    for (const r of sec.relocs) {
      const t = r.sym;
      if (!t || !t.sec) continue;
      const off = (t.isSection ? 0 : t.value) + Number(r.addend);
      const list = m.get(t.sec);
      if (list) list.push(off);
      else m.set(t.sec, [off]);
    }
  }
  sitesCache.set(k, m);
  return m;
}
const sitesCache = new WeakMap<Kelf, Map<DSec, number[]>>();

/** True when the function starts with an ftrace call site. */
export function hasFentry(f: DSym): boolean {
  const sec = f.sec;
  if (!sec) return false;
  const start = f.value;
  for (const r of sec.relocsIn(start, start + 16)) {
    if (r.sym && FENTRY_NAMES.has(r.sym.name)) return true;
  }
  const sites = recordedSites(f.obj).get(sec);
  if (sites) for (const off of sites) if (off >= start - 16 && off < start + 16) return true;
  return false;
}
