/**
 * `kelp check`: the x86-64 module loader's and the livepatch core's rules
 * replayed in process against a target (symbols, exports, release, module
 * area). Every rule family runs and adds to one list; the caller reports the
 * whole list at the end. Problems are the result, not errors: only unusable
 * input (an unreadable file, a non-ELF module, a bad --symbols) throws.
 */
import type { CheckContext } from './context.js';
import { checkIndirectBranchTargets } from './ibt.js';
import { checkKlpFuncs } from './klp-funcs.js';
import { checkKlpRelaSections } from './klp-rela.js';
import { checkKlpSymbols } from './klp-sym.js';
import { checkModinfo } from './modinfo.js';
import { checkModuleSections } from './module-sections.js';
import { ModuleImage } from '../kmod/image.js';
import { ProblemList, type Problem } from './problem.js';
import { checkRelocations } from './relocations.js';
import { checkSpecialSections } from './special.js';
import { CheckTarget, type CheckTargetOptions } from './target.js';
import { checkUndefinedSymbols } from './undefined.js';

export type { Problem } from './problem.js';
export { CheckTarget, type CheckTargetOptions } from './target.js';

export interface CheckReport {
  file: string;
  /** True when the kernel would accept the module. */
  ok: boolean;
  problems: Problem[];
  /** Rules that could not be checked, and why. */
  notes: string[];
}

/** Checks one module against a target read once (reusable for several modules). */
export function checkModuleAgainst(file: string, target: CheckTarget): CheckReport {
  const p = new ProblemList();
  const m = ModuleImage.read(file, p);
  const ctx: CheckContext = { m, target, p, patchedObjects: null, klpAddress: new Map() };
  checkModinfo(m, target, p);
  checkModuleSections(m, target, p);
  if (m.symtab) {
    checkKlpFuncs(ctx);
    checkKlpRelaSections(ctx);
    checkKlpSymbols(ctx);
    checkUndefinedSymbols(ctx);
    checkRelocations(ctx);
    checkSpecialSections(ctx);
    checkIndirectBranchTargets(ctx);
  }
  return { file, ok: p.problems.length === 0, problems: p.problems, notes: p.notes };
}

export function checkModule(file: string, opts: CheckTargetOptions): CheckReport {
  return checkModuleAgainst(file, new CheckTarget(opts));
}

/** The human report: one line per problem, `file: place: message [rule]`, then a summary line. */
export function formatReport(r: CheckReport): string {
  const lines = r.problems.map((x) => `${r.file}: ${x.place}: ${x.message} [${x.rule}]`);
  for (const n of r.notes) lines.push(`${r.file}: note: ${n}`);
  lines.push(r.ok
    ? `${r.file}: OK: the kernel would accept this module`
    : `${r.file}: ${r.problems.length} problem(s): the kernel would refuse or mis-apply this module`);
  return `${lines.join('\n')}\n`;
}
