/**
 * The build pass that refuses struct and union layout changes, once the
 * original and patched objects are built. The patch's source text names the
 * suspects (kernel/struct-layout.ts: a type whose members changed beyond names,
 * comments, qualifiers and annotations); the compiler decides: each suspect's
 * layout is read from the DWARF of every built object whose compilation unit
 * defines it, original against patched (kernel/dwarf-layout.ts). A type whose
 * layout the compiler left alone (a member under a disabled CONFIG option, a
 * macro that expands the same) is no refusal; a type no built object uses
 * moves no data of the running kernel. Objects built without debug info leave
 * the text's verdict standing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { layoutChangeReason, layoutChanges, type LayoutChange } from '../kernel/struct-layout.js';
import { dwarfLayout, hasDwarf } from '../kernel/dwarf-layout.js';
import { adviceFor } from '../diff/refusal-kinds.js';
import { RefusalError, type BuildRefusal } from './refusals.js';
import type { AppliedPatches } from './patch.js';
import type { Progress } from './progress.js';

/** A type whose members the patch's text changes, in the file that defines it. */
export interface LayoutSuspect {
  file: string;
  change: LayoutChange;
}

/** The types of `files` (headers and sources the patch changes) whose members change in the text. */
export function layoutSuspects(applied: AppliedPatches, files: readonly string[]): LayoutSuspect[] {
  const out: LayoutSuspect[] = [];
  for (const f of files) {
    const before = applied.before.get(f);
    const after = applied.after.get(f);
    if (before === null || before === undefined || after === null || after === undefined) continue;
    for (const change of layoutChanges(before, after)) out.push({ file: f, change });
  }
  return out;
}

function refusal(s: LayoutSuspect, how: string): BuildRefusal {
  return {
    object: s.file,
    where: `${s.file}:${s.change.line}`,
    reason: `${layoutChangeReason(s.change)}${how}: existing ${s.change.type} objects in the running kernel keep the old layout`,
    category: 'layout-change',
    advice: adviceFor('layout-change'),
  };
}

/** What differs between two layouts (pahole lines), shortly: the size, else the first differing member. */
function difference(o: string[], n: string[]): string {
  const size = (l: string[]) => l.find((x) => x.startsWith('size '))?.slice(5);
  if (size(o) !== size(n) && size(o) !== undefined && size(n) !== undefined) return `size ${size(o)} -> ${size(n)} bytes`;
  const i = o.findIndex((x, j) => x !== n[j]);
  const at = i < 0 ? o.length : i;
  return `\`${o[at] ?? 'nothing'}\` -> \`${n[at] ?? 'nothing'}\` (offset size type)`;
}

export interface BuiltObjects {
  list: readonly string[];
  origDir: string;
  patchedDir: string;
}

/**
 * The object to build both ways before the others when there are suspects (a
 * true layout change is then refused before every includer is built): a
 * patched source's object that names a suspect type, else any object whose
 * source names one, else a patched source's object. None when there is at
 * most one object (the whole build is no longer than the probe).
 */
export function layoutProbe(tree: string, objs: readonly string[], suspects: readonly LayoutSuspect[], patchedC: readonly string[]): string | undefined {
  if (suspects.length === 0 || objs.length <= 1) return undefined;
  const names = suspects.map((s) => s.change.type.replace(/^(?:struct|union)\s+/, ''));
  const named = new RegExp(`\\b(?:${names.join('|')})\\b`);
  const mentions = (o: string): boolean => {
    const src = join(tree, o.replace(/\.o$/, '.c'));
    return existsSync(src) && named.test(readFileSync(src, 'latin1'));
  };
  const patched = new Set(patchedC.map((c) => c.replace(/\.c$/, '.o')));
  return objs.find((o) => patched.has(o) && mentions(o)) ?? objs.find(mentions) ?? objs.find((o) => patched.has(o));
}

/**
 * Refuses the suspects whose compiled layout differs between the original and
 * patched objects (exit 2, the type named). `early`: a probe of some objects,
 * which only refuses (the check over every object says what else it found).
 */
export async function refuseLayoutChanges(suspects: readonly LayoutSuspect[], objects: BuiltObjects, progress: Progress, patch: string, early = false): Promise<void> {
  if (suspects.length === 0) return;
  const withDwarf: string[] = [];
  for (const o of objects.list) if (hasDwarf(join(objects.origDir, o)) && hasDwarf(join(objects.patchedDir, o))) withDwarf.push(o);
  const problems: BuildRefusal[] = [];
  for (const s of suspects) {
    if (withDwarf.length === 0) {
      if (early) continue;
      problems.push(refusal(s, ' (in the source; the objects have no debug info to compare the compiled layouts)'));
      continue;
    }
    let seen: string | undefined;
    let changed: string | undefined;
    for (const o of withDwarf) {
      const before = await dwarfLayout(join(objects.origDir, o), s.change.type);
      const after = await dwarfLayout(join(objects.patchedDir, o), s.change.type);
      if (before === undefined || after === undefined) continue;
      seen ??= o;
      if (before.length !== after.length || before.some((x, i) => x !== after[i])) {
        changed = `${o}: ${difference(before, after)}`;
        break;
      }
    }
    if (changed !== undefined) problems.push(refusal(s, ` (compiled layout in ${changed})`));
    else if (early) continue;
    else if (seen !== undefined) progress.say(`${s.file}:${s.change.line}: ${s.change.type}: the source changes its members, the compiled layout is the same (${seen}): no layout change`);
    else progress.say(`${s.file}:${s.change.line}: ${s.change.type}: no original object's code uses the type: no layout change in the running kernel`);
  }
  if (problems.length > 0) throw new RefusalError(problems, patch);
}
