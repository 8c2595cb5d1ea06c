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
import { containersOf, dwarfLayout, flexibleTail, hasDwarf } from '../kernel/dwarf-layout.js';
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
 * Whether a layout change that only turns the last member into a flexible
 * array at the same offset (`flexibleTail`) leaves every existing object of
 * the type readable as before: no struct or union of an object holds the type
 * by value (its own layout would move: pahole --contains), and no source the
 * objects are built from, nor the text that defines the type, declares an
 * array of it (its stride would change; `texts` gives the patched texts).
 * A type kept behind pointers (a wire format read out of a buffer, as SMB's
 * smb2_error_context_rsp) then reads the same bytes, old objects and new.
 */
async function tailOnly(type: string, objects: BuiltObjects, defining: readonly string[], texts: readonly string[]): Promise<boolean> {
  for (const o of defining) {
    if ((await containersOf(join(objects.origDir, o), type)).length > 0) return false;
    if ((await containersOf(join(objects.patchedDir, o), type)).length > 0) return false;
  }
  const m = /^(struct|union)\s+([A-Za-z_]\w*)$/.exec(type);
  if (!m) return false;
  const array = new RegExp(`\\b${m[1]}\\s+${m[2]}\\s+(?:const\\s+)?[A-Za-z_]\\w*\\s*\\[`);
  return !texts.some((t) => array.test(t));
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
export async function refuseLayoutChanges(suspects: readonly LayoutSuspect[], objects: BuiltObjects, progress: Progress, patch: string, early = false, texts: (objs: readonly string[]) => string[] = () => []): Promise<void> {
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
    let tail: string | undefined;
    // The objects whose DWARF defines the type: only they can hold it by value.
    const defining: string[] = [];
    for (const o of withDwarf) {
      const before = await dwarfLayout(join(objects.origDir, o), s.change.type);
      const after = await dwarfLayout(join(objects.patchedDir, o), s.change.type);
      if (before === undefined || after === undefined) continue;
      seen ??= o;
      defining.push(o);
      if (before.length !== after.length || before.some((x, i) => x !== after[i])) {
        if (flexibleTail(before, after)) {
          tail ??= `${o}: ${difference(before, after)}`;
          continue;
        }
        changed = `${o}: ${difference(before, after)}`;
        break;
      }
    }
    if (changed === undefined && tail !== undefined && !(await tailOnly(s.change.type, objects, defining, texts(withDwarf)))) changed = tail;
    if (changed !== undefined) problems.push(refusal(s, ` (compiled layout in ${changed})`));
    else if (tail !== undefined) {
      if (!early) progress.say(`${s.file}:${s.change.line}: ${s.change.type}: its last member becomes a flexible array at the same offset (${tail}); no member moves, no type holds it by value, no array of it is declared: existing objects read the same`);
    }
    else if (early) continue;
    else if (seen !== undefined) progress.say(`${s.file}:${s.change.line}: ${s.change.type}: the source changes its members, the compiled layout is the same (${seen}): no layout change`);
    else progress.say(`${s.file}:${s.change.line}: ${s.change.type}: no original object's code uses the type: no layout change in the running kernel`);
  }
  if (problems.length > 0) throw new RefusalError(problems, patch);
}
