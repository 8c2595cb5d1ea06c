/**
 * Structure of one object: which section each function or object owns
 * (`-ffunction-sections`), `__pfx_` padding in front of functions, the
 * compiler-made children of a function (`.cold`, and clones without an
 * ftrace call such as a `.part.N` split), and which functions can be
 * patched (an `__fentry__` call at entry, or a patchable function entry).
 */
import type { Kelf } from './model.js';
import { C_FTRACE_SITES } from './sections.js';

const FENTRY_NAMES = ['__fentry__', 'mcount', '__mcount', '_mcount'];

export function analyseStructure(k: Kelf): void {
  bundle(k);
  findChildren(k);
}

function bundle(k: Kelf): void {
  for (let sec = 1; sec < k.nsec; sec++) {
    const syms = k.symsOf(sec);
    if (syms.length === 0) continue;
    for (const sym of syms) {
      if (!(k.isFunc(sym) || k.isData(sym))) continue;
      if (k.symNameStartsWith(sym, '__pfx_')) {
        const target = k.named(k.symName(sym).slice(6)).find((x) => k.symSec[x] === sec && k.isFunc(x));
        if (target !== undefined) {
          k.prefix.set(target, sym);
          k.prefixOf.set(sym, target);
        }
        continue;
      }
      // The section must hold this symbol (and its prefix) only, and be named
      // after it or be covered by it (a `.cold` part in `.text.unlikely.<parent>`).
      const v = k.value(sym);
      const z = k.size(sym);
      let others = false;
      for (const x of syms) {
        if (x === sym || !(k.isFunc(x) || k.isData(x))) continue;
        if (k.value(x) === v && k.size(x) === z) continue;
        if (k.symNameStartsWith(x, '__pfx_') && k.symName(x) === `__pfx_${k.symName(sym)}`) continue;
        others = true;
        break;
      }
      if (others) continue;
      const named = k.secNamedAfter(sec, sym);
      const pfx = k.prefix.get(sym);
      const covers = k.isFunc(sym) && k.isText(sec) && v + z === k.secSize(sec) && (v === 0 || (pfx !== undefined && k.value(pfx) === 0));
      if (named || covers) k.secBundled[sec] = sym;
    }
    const b = k.secBundled[sec];
    if (b) {
      for (const x of syms) if (x !== b && k.symType(x) === k.symType(b) && k.value(x) === k.value(b) && k.size(x) === k.size(b)) k.aliasOf.set(x, b);
    }
  }
}

const CHILD = /^(.+?)((?:\.(?:cold|part|isra|constprop|lto_priv|localalias)(?:\.\d+)?)+)$/;

function findChildren(k: Kelf): void {
  for (let sym = 1; sym < k.nsym; sym++) {
    if (!k.isFunc(sym) || k.symSec[sym] === 0 || !k.isNamed(sym) || !k.symNameHas(sym, 0x2e)) continue;
    const full = k.symName(sym);
    const m = CHILD.exec(full);
    if (!m) continue;
    const isCold = /\.cold(\.\d+)?$/.test(full);
    if (!isCold && hasFentry(k, sym)) continue; // a clone with its own ftrace call is a function of its own
    // The parent: the longest proper prefix that names a function.
    let name = full;
    let parent: number | undefined;
    for (;;) {
      const cut = name.lastIndexOf('.');
      if (cut <= 0) break;
      name = name.slice(0, cut);
      parent = k.named(name).find((x) => k.isFunc(x) && k.symSec[x] !== 0 && x !== sym);
      if (parent !== undefined) break;
    }
    if (parent !== undefined) {
      k.parent.set(sym, parent);
      const l = k.children.get(parent);
      if (l) l.push(sym);
      else k.children.set(parent, [sym]);
    }
  }
}

/**
 * ftrace call sites recorded in `__mcount_loc`, per section. x86-64's
 * `__patchable_function_entries` records call padding (CONFIG_CALL_PADDING's
 * -fpatchable-function-entry=16,16: the 16 bytes before every function,
 * notrace ones too), not ftrace sites: a function is not traceable for it.
 */
function recordedSites(k: Kelf): Map<number, number[]> {
  const cached = sitesCache.get(k);
  if (cached) return cached;
  const m = new Map<number, number[]>();
  for (let sec = 1; sec < k.nsec; sec++) {
    if ((k.secClass[sec] & C_FTRACE_SITES) === 0 || k.isRelocation(sec) || k.secName(sec) !== '__mcount_loc') continue;
    const end = k.relStart[sec + 1];
    for (let j = k.relStart[sec]; j < end; j++) {
      const t = k.relSym[j];
      if (t === 0 || k.symSec[t] === 0) continue;
      const off = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[j];
      const list = m.get(k.symSec[t]);
      if (list) list.push(off);
      else m.set(k.symSec[t], [off]);
    }
  }
  sitesCache.set(k, m);
  return m;
}
const sitesCache = new WeakMap<Kelf, Map<number, number[]>>();

/** True when the function starts with an ftrace call site. */
export function hasFentry(k: Kelf, f: number): boolean {
  const sec = k.symSec[f];
  if (sec === 0) return false;
  const start = k.value(f);
  const [a, b] = k.relRange(sec, start, start + 16);
  for (let j = a; j < b; j++) {
    const t = k.relSym[j];
    if (t !== 0 && FENTRY_NAMES.some((n) => k.nameIs(t, n))) return true;
  }
  const sites = recordedSites(k).get(sec);
  if (sites) for (const off of sites) if (off >= start && off < start + 16) return true;
  return false;
}
