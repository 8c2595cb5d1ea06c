/** The diff report: human text for stderr, and the JSON form for --json. */
import type { DiffContext, Refusal } from './context.js';
import type { Inclusion } from './include.js';
import { F_IGNORED, F_LINE_ONLY } from './model.js';

export interface DiffReport {
  orig: string;
  patched: string;
  target: string;
  /** 0 written, 3 no change, 2 refused. */
  result: 'changed' | 'no-change' | 'refused';
  changedFunctions: Array<{ name: string; oldName: string; reasons: string[] }>;
  /** Changed functions without __fentry__, replaced by replacing their callers (listed in changedFunctions). */
  throughCallers: Array<{ name: string; callers: string[]; reasons: string[] }>;
  newFunctions: string[];
  newData: string[];
  /**
   * Replaced functions whose original has `.cold` parts: the livepatch core
   * checks a task's stack only against the function's own range, so a task
   * asleep in an old part escapes the check (kelpctl load looks for them).
   */
  coldParts: Array<{ name: string; parts: string[] }>;
  lineOnlyFunctions: string[];
  ignoredFunctions: string[];
  refusals: Refusal[];
  notes: string[];
  /** Sites the livepatch builds differently from the source (inert tracepoints, own dynamic-debug descriptors). */
  warnings: string[];
}

/** The `.cold` parts of the original of every function the patch replaces (its callers' too, when replaced through them). */
export function oldColdParts(ctx: DiffContext, inc: Inclusion): DiffReport['coldParts'] {
  const P = ctx.patched;
  const O = ctx.orig;
  const out: DiffReport['coldParts'] = [];
  for (const f of inc.functions) {
    const t = P.symTwin[f];
    if (!t) continue;
    const parts: string[] = [];
    const walk = (x: number) => {
      for (const c of O.children.get(x) ?? []) {
        if (/\.cold(\.\d+)?$/.test(O.symName(c))) parts.push(O.symName(c));
        walk(c);
      }
    };
    walk(t);
    if (parts.length > 0) out.push({ name: P.symName(f), parts: parts.sort() });
  }
  return out;
}

export function makeReport(ctx: DiffContext, inc: Inclusion | null, result: DiffReport['result']): DiffReport {
  const P = ctx.patched;
  const names = (l: number[]) => l.map((s) => P.symName(s));
  const lineOnly: string[] = [];
  const ignored: string[] = [];
  for (let s = 1; s < P.nsym; s++) {
    if (P.has(s, F_LINE_ONLY)) lineOnly.push(P.symName(s));
    if (P.isFunc(s) && P.has(s, F_IGNORED)) ignored.push(P.symName(s));
  }
  return {
    orig: ctx.orig.file,
    patched: P.file,
    target: ctx.target,
    result,
    changedFunctions: inc ? inc.functions.map((f) => {
      const t = P.symTwin[f];
      return { name: P.symName(f), oldName: t ? ctx.orig.symName(t) : P.symName(f), reasons: P.reasons.get(f) ?? [] };
    }) : [],
    throughCallers: inc ? [...inc.viaCallers].map(([f, callers]) => ({ name: P.symName(f), callers: names(callers).sort(), reasons: P.reasons.get(f) ?? [] })) : [],
    newFunctions: inc ? names(inc.newFunctions) : [],
    newData: inc ? names(inc.newData) : [],
    coldParts: inc ? oldColdParts(ctx, inc) : [],
    lineOnlyFunctions: lineOnly,
    ignoredFunctions: ignored,
    refusals: ctx.refusals,
    notes: ctx.notes,
    warnings: ctx.warnings,
  };
}

export function formatReport(r: DiffReport, verbose: boolean): string {
  const out: string[] = [];
  for (const f of r.changedFunctions) {
    const renamed = f.oldName !== f.name ? ` (was ${f.oldName})` : '';
    out.push(`changed function: ${f.name}${renamed}: ${f.reasons.join('; ')}`);
  }
  for (const f of r.throughCallers) {
    out.push(`changed function: ${f.name} (no __fentry__: replaced through its callers ${f.callers.join(', ')}): ${f.reasons.join('; ')}`);
  }
  for (const n of r.newFunctions) out.push(`new function: ${n}`);
  for (const n of r.newData) out.push(`new data: ${n}`);
  for (const c of r.coldParts) out.push(`old .cold parts: ${c.name}: ${c.parts.join(', ')} (tasks asleep there escape the livepatch core's stack check; kelpctl load looks for them)`);
  if (verbose) {
    for (const n of r.lineOnlyFunctions) out.push(`line numbers only: ${n}`);
    for (const n of r.ignoredFunctions) out.push(`ignored function: ${n}`);
    for (const n of r.notes) out.push(`note: ${n}`);
  }
  for (const w of r.warnings) out.push(`kelp: warning: ${w}`);
  for (const x of r.refusals) out.push(`kelp: ${x.where}: ${x.reason} [${x.category}]${x.advice === null ? '' : `; advice: ${x.advice}`}`);
  if (r.result === 'no-change') out.push(`kelp: ${r.patched}: no functional change${r.lineOnlyFunctions.length ? ` (only line numbers differ in ${r.lineOnlyFunctions.join(', ')})` : ''}`);
  if (r.result === 'refused') out.push(`kelp: ${r.patched}: cannot be live-patched (${r.refusals.length} problem${r.refusals.length === 1 ? '' : 's'})`);
  return out.length ? `${out.join('\n')}\n` : '';
}
