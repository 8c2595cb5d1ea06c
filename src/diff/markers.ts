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
import type { DRel, DSec, DSym } from './model.js';

export interface Markers {
  callbacks: Callbacks;
  /** The callback functions (to include in the output). */
  callbackFunctions: DSym[];
}

const CALLBACK_KINDS: Record<string, keyof Callbacks> = {
  '.kpatch.callbacks.pre_patch': 'prePatch',
  '.kpatch.callbacks.post_patch': 'postPatch',
  '.kpatch.callbacks.pre_unpatch': 'preUnpatch',
  '.kpatch.callbacks.post_unpatch': 'postUnpatch',
};

function functionOf(r: DRel): DSym | null {
  const t = r.sym;
  if (!t) return null;
  if (t.isFunc) return t;
  if (t.isSection && t.sec) {
    const f = t.sec.symbolAt(Number(r.addend));
    if (f && f.isFunc) return f;
    if (t.sec.bundled?.isFunc) return t.sec.bundled;
  }
  return null;
}

function stringAt(r: DRel): string | null {
  const t = r.sym;
  if (!t || !t.sec || t.sec.isNobits) return null;
  const off = (t.isSection ? 0 : t.value) + Number(r.addend);
  const data = t.sec.data;
  if (off < 0 || off >= data.length) return null;
  const end = data.indexOf(0, off);
  return data.toString('latin1', off, end < 0 ? data.length : end);
}

export function readMarkers(ctx: DiffContext): Markers {
  const k = ctx.patched;
  const out: Markers = { callbacks: {}, callbackFunctions: [] };
  const ignoredSections = new Set<string>();
  for (const sec of k.sections) {
    const name = sec.name;
    if (!name.startsWith('.kpatch.') || sec.isRelocation) continue;
    if (name === '.kpatch.ignore.functions' || name === '.kpatch.force') {
      for (const r of sec.relocs) {
        const f = functionOf(r);
        if (!f) {
          refuse(ctx, k.where(sec, r.offset), `${name} entry does not point at a function`);
          continue;
        }
        if (name === '.kpatch.force') f.forced = true;
        else f.ignored = true;
      }
    } else if (name === '.kpatch.ignore.sections') {
      for (const r of sec.relocs) {
        const s = stringAt(r);
        if (s === null) refuse(ctx, k.where(sec, r.offset), 'KPATCH_IGNORE_SECTION entry does not point at a section name');
        else ignoredSections.add(s);
      }
    } else if (CALLBACK_KINDS[name]) {
      const kind = CALLBACK_KINDS[name];
      const fnRels = sec.relocs.filter((r) => r.offset % 16 === 0);
      if (fnRels.length > 1) refuse(ctx, `${k.file}: ${name}`, `more than one ${kind} callback`);
      for (const r of fnRels) {
        const f = functionOf(r);
        if (!f) {
          refuse(ctx, k.where(sec, r.offset), `${name} entry does not point at a function`);
          continue;
        }
        out.callbacks[kind] = f.name;
        out.callbackFunctions.push(f);
      }
    }
  }
  for (const side of [ctx.orig, ctx.patched]) {
    for (const sec of side.sections) {
      if (ignoredSections.has(sec.name) || (sec.base && ignoredSections.has(sec.base.name))) sec.ignored = true;
    }
  }
  return out;
}

/** Marks ignored sections' symbols ignored too. */
export function applyIgnoredSections(secs: DSec[]): void {
  for (const s of secs) if (s.ignored) for (const sym of s.syms) sym.ignored = true;
}
