/**
 * Patch-author markers, compatible with kpatch's kpatch-macros.h:
 * `.kpatch.ignore.functions` and `.kpatch.force` hold pointers to functions,
 * `.kpatch.ignore.sections` pointers to section-name strings, and
 * `.kpatch.callbacks.{pre,post}_{patch,unpatch}` one `{fn, objname}` record
 * per callback. The sections themselves never reach the output.
 */
import type { Callbacks } from '../patch/meta.js';
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import { F_FORCED, F_IGNORED, type Kelf } from './model.js';
import { C_KPATCH } from './sections.js';

export interface Markers {
  callbacks: Callbacks;
  /** The callback functions (patched symbol indices, to include in the output). */
  callbackFunctions: number[];
}

const CALLBACK_KINDS: Record<string, keyof Callbacks> = {
  '.kpatch.callbacks.pre_patch': 'prePatch',
  '.kpatch.callbacks.post_patch': 'postPatch',
  '.kpatch.callbacks.pre_unpatch': 'preUnpatch',
  '.kpatch.callbacks.post_unpatch': 'postUnpatch',
};

function functionOf(k: Kelf, j: number): number {
  const t = k.relSym[j];
  if (!t) return 0;
  if (k.isFunc(t)) return t;
  const sec = k.symSec[t];
  if (k.isSection(t) && sec) {
    const f = k.symbolAt(sec, k.relAdd[j]);
    if (f && k.isFunc(f)) return f;
    const b = k.secBundled[sec];
    if (b && k.isFunc(b)) return b;
  }
  return 0;
}

function stringAt(k: Kelf, j: number): string | null {
  const t = k.relSym[j];
  const sec = t ? k.symSec[t] : 0;
  if (!sec || k.isNobits(sec)) return null;
  const off = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[j];
  const data = k.secData(sec);
  if (off < 0 || off >= data.length) return null;
  const end = data.indexOf(0, off);
  return data.toString('latin1', off, end < 0 ? data.length : end);
}

export function readMarkers(ctx: DiffContext): Markers {
  const k = ctx.patched;
  const out: Markers = { callbacks: {}, callbackFunctions: [] };
  const ignoredSections = new Set<string>();
  for (let sec = 1; sec < k.nsec; sec++) {
    if ((k.secClass[sec] & C_KPATCH) === 0 || k.isRelocation(sec)) continue;
    const name = k.secName(sec);
    const a = k.relStart[sec];
    const b = k.relStart[sec + 1];
    if (name === '.kpatch.ignore.functions' || name === '.kpatch.force') {
      for (let j = a; j < b; j++) {
        const f = functionOf(k, j);
        if (!f) {
          refuse(ctx, k.where(sec, k.relOff[j]), `${name} entry does not point at a function`, 'patch-marker');
          continue;
        }
        k.set(f, name === '.kpatch.force' ? F_FORCED : F_IGNORED);
      }
    } else if (name === '.kpatch.ignore.sections') {
      for (let j = a; j < b; j++) {
        const s = stringAt(k, j);
        if (s === null) refuse(ctx, k.where(sec, k.relOff[j]), 'KPATCH_IGNORE_SECTION entry does not point at a section name', 'patch-marker');
        else ignoredSections.add(s);
      }
    } else if (CALLBACK_KINDS[name]) {
      const kind = CALLBACK_KINDS[name];
      const fnRels: number[] = [];
      for (let j = a; j < b; j++) if (k.relOff[j] % 16 === 0) fnRels.push(j);
      if (fnRels.length > 1) refuse(ctx, `${k.file}: ${name}`, `more than one ${kind} callback`, 'patch-marker');
      for (const j of fnRels) {
        const f = functionOf(k, j);
        if (!f) {
          refuse(ctx, k.where(sec, k.relOff[j]), `${name} entry does not point at a function`, 'patch-marker');
          continue;
        }
        out.callbacks[kind] = k.symName(f);
        out.callbackFunctions.push(f);
      }
    }
  }
  if (ignoredSections.size > 0) {
    for (const side of [ctx.orig, ctx.patched]) {
      for (let s = 1; s < side.nsec; s++) {
        const base = side.secBase(s);
        if (ignoredSections.has(side.secName(s)) || (base && ignoredSections.has(side.secName(base)))) side.secIgnored[s] = 1;
      }
    }
  }
  return out;
}

/** Marks ignored sections' symbols ignored too. */
export function applyIgnoredSections(k: Kelf): void {
  for (let s = 1; s < k.nsec; s++) if (k.secIgnored[s]) for (const sym of k.symsOf(s)) k.set(sym, F_IGNORED);
}
