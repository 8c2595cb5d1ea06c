/**
 * Pass 4 of `kelp build`, diff: every object in parallel (worker threads,
 * diff-pool.ts), grouped by the object it patches (vmlinux or a module). The
 * target kernel's special-section entry sizes come from a probe built with
 * its kbuild; the patches' line moves let a __LINE__ immediate differ only
 * that way. Any refusal refuses the build (all listed); no changed function
 * at all is NoChange.
 */
import { providedAcross } from './cross-objects.js';
import { RefusalError, type BuildRefusal } from './refusals.js';
import { existsSync, promises as fs, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ExitCode, KelpError } from '../errors.js';
import { SymbolCounts } from '../kernel/symbol-map.js';
import { LineMap } from '../patch/lines.js';
import { kernelModuleName } from '../kmod/names.js';
import type { BuildContext } from './context.js';
import { runDiffs, type DiffJob, type DiffOutcome } from './diff-pool.js';
import { kernelEntrySizes } from './entry-sizes.js';
import { compilerVersion, ObjectCache } from './cache.js';
import { activeToolchain } from '../kernel/toolchain.js';
import { cacheRoot } from '../target/cache.js';
import { compilerOf } from '../target/source.js';
import { configValue } from '../kernel/config.js';
import { findModuleFile, targetModulesDir } from '../kernel/module-tree.js';
import type { Objects } from './objects.js';
import type { ObjectReport } from './report.js';
import type { Validated } from './validate.js';

/** What the diff pass found. */
export interface Diffed {
  jobs: DiffJob[];
  /** Indexes (into jobs) of the objects with a change. */
  changed: number[];
  reports: ObjectReport[];
  /** Target (vmlinux or module) → its changed objects. */
  targets: Record<string, string[]>;
  /** Module name → its .ko in the target (symbols; loaded first under --verify). */
  moduleFiles: Map<string, string>;
  /** The special sections' entry sizes read from the target kernel, null when the probe did not build. */
  entrySizes: string[] | null;
}

function flattenName(obj: string): string {
  return obj.replace(/\//g, '__');
}

export async function diffObjects(ctx: BuildContext, v: Validated, objects: Objects): Promise<Diffed> {
  const o = ctx.options;
  const { progress } = ctx;
  progress.phase('diff', `${objects.list.length} object(s)`);
  const diffDir = join(ctx.work, 'diff');
  await fs.mkdir(diffDir, { recursive: true });
  const targetOf = (obj: string) => {
    const info = objects.info.get(obj)!;
    if (v.oot) return kernelModuleName(o.target ?? info.modname ?? basename(obj, '.o'));
    return info.module ? (info.modname ?? basename(obj, '.o')) : 'vmlinux';
  };
  if (v.oot && o.target !== undefined) {
    for (const obj of objects.list) {
      const mod = objects.info.get(obj)!.modname;
      if (mod !== null && mod !== kernelModuleName(o.target)) throw new KelpError(`${obj} belongs to module ${mod}, not --target ${o.target}`, o.ootModule);
    }
  }
  const moduleFiles = targetModuleFiles(ctx, v, objects, targetOf);
  // The special sections' entry sizes as the target kernel defines them.
  const probeCache = ctx.options.useCache === false ? undefined : {
    cache: new ObjectCache(join(cacheRoot(ctx.options.cache), 'objects')), config: v.config,
    compilerVersion: activeToolchain()?.used ?? compilerVersion(compilerOf(v.config) ?? 'gcc'),
  };
  const probe = await kernelEntrySizes(v.kdir, join(ctx.work, 'entry-sizes'), ctx.interrupts.children, probeCache);
  ctx.checkInterrupt(v.tree);
  if (probe.sizes === null) progress.say(`could not compile the entry-size probe against ${v.kdir} (${probe.why}); kelp diff checks its defaults against each section`);
  // Where the patches moved lines: a __LINE__ immediate may differ only that way.
  const lineMap = LineMap.fromTexts([...v.applied.before].map(([p, b]) => [p, b, v.applied.after.get(p) ?? null])).data;
  // New globals one patched object defines and another uses: resolved inside the livepatch module.
  const provided = providedAcross(objects.list.map((obj) => ({ orig: join(objects.origDir, obj), patched: join(objects.patchedDir, obj) })));
  // IBT kernels: the image tells which functions keep their ENDBR (kelp diff's IBT rule).
  const ibt = configValue(v.config, 'X86_KERNEL_IBT') === 'y';
  const ibtKernel = ibt ? o.kernel : undefined;
  if (ibt && ibtKernel === undefined) progress.say('an IBT kernel and no --kernel: kelp diff refuses a patch that takes the address of a target function');
  // Out of tree: the exports of the directory's own modules (its Module.symvers) as well, so that a
  // module calling a sibling module's export resolves it there (and not as a vmlinux symbol).
  let symvers = v.symvers;
  const ownSymvers = join(ctx.work, 'module', 'Module.symvers');
  if (v.oot && existsSync(ownSymvers) && statSync(ownSymvers).size > 0) {
    symvers = join(ctx.work, 'Module.symvers');
    await fs.writeFile(symvers, Buffer.concat([await fs.readFile(v.symvers), await fs.readFile(ownSymvers)]));
  }
  const jobs: DiffJob[] = objects.list.map((obj, i) => {
    const target = targetOf(obj);
    const modSymbols = target === 'vmlinux' ? v.symbols : moduleFiles.get(target);
    return {
      opts: {
        orig: join(objects.origDir, obj), patched: join(objects.patchedDir, obj),
        output: join(diffDir, flattenName(obj)), target, symbols: modSymbols, symvers, lineMap, entrySizes: probe.sizes ?? undefined,
        provided: provided[i].provided, usedElsewhere: provided[i].usedElsewhere,
        kernel: ibtKernel, kernelMap: ibtKernel !== undefined && target !== 'vmlinux' ? v.symbols : undefined,
      },
    };
  });
  let done = 0;
  const outcomes: DiffOutcome[] = await runDiffs(jobs, ctx.jobs, () => progress.note(`${++done}/${jobs.length} object(s)`), (stop) => { ctx.interrupts.stopDiffs = stop; });
  ctx.interrupts.stopDiffs = null;
  ctx.checkInterrupt(v.tree);
  showDiffLogs(ctx, outcomes);
  const failed = outcomes.map((r, i) => (r.exitCode !== ExitCode.Ok && r.exitCode !== ExitCode.Refused && r.exitCode !== ExitCode.NoChange ? `${objects.list[i]}: kelp diff failed (exit ${r.exitCode})` : null)).filter((x): x is string => x !== null);
  if (failed.length > 0) throw new KelpError(failed.join('; '), o.patches[0]);
  const refusals: BuildRefusal[] = outcomes.flatMap((r, i) => (r.exitCode === ExitCode.Refused ? r.report.refusals.map((x) => ({ object: objects.list[i], ...x })) : []));
  if (refusals.length > 0) throw new RefusalError(refusals, o.patches[0]);
  const changed = outcomes.map((r, i) => (r.exitCode === ExitCode.Ok ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 0) throw new KelpError(`changes no function of ${objects.list.join(', ')} (only comments, line numbers or unused code?)`, o.patches[0], ExitCode.NoChange);
  const reports: ObjectReport[] = objects.list.map((obj, i) => {
    const r = outcomes[i];
    return {
      object: obj, target: jobs[i].opts.target!, result: r.exitCode === ExitCode.Ok ? 'changed' : 'no-change', cached: objects.cached.has(obj),
      changedFunctions: r.report.changedFunctions.map((f) => ({ name: f.name, oldName: f.oldName })),
      throughCallers: r.report.throughCallers.map((f) => ({ name: f.name, callers: f.callers })),
      newFunctions: r.report.newFunctions, newData: r.report.newData, coldParts: r.report.coldParts ?? [],
      diffBytes: r.exitCode === ExitCode.Ok ? statSync(jobs[i].opts.output).size : 0,
    };
  });
  if (v.symbols !== undefined) requireInTargetKernel(reports, v.symbols);
  const targets: Record<string, string[]> = {};
  for (const r of reports) if (r.result === 'changed') (targets[r.target] ??= []).push(r.object);
  progress.note(Object.entries(targets).map(([t, objs]) => `${t}: ${objs.length} object(s)`).join(', '));
  return { jobs, changed, reports, targets, moduleFiles, entrySizes: probe.sizes };
}

/** In-tree modules the patch changes: the target's own .ko gives their symbols (and is loaded first under --verify). */
function targetModuleFiles(ctx: BuildContext, v: Validated, objects: Objects, targetOf: (obj: string) => string): Map<string, string> {
  const moduleFiles = new Map<string, string>();
  if (!v.oot) {
    const dir = targetModulesDir(v.kdir);
    for (const obj of objects.list) {
      const t = targetOf(obj);
      if (t === 'vmlinux' || moduleFiles.has(t) || dir === undefined) continue;
      const f = findModuleFile(dir, t);
      if (f !== undefined) moduleFiles.set(t, f);
      else ctx.progress.say(`module ${t} not found under ${dir}; its symbols are assumed unique`);
    }
  } else if (objects.origModule !== undefined) {
    for (const obj of objects.list) moduleFiles.set(targetOf(obj), objects.origModule);
  }
  return moduleFiles;
}

/** The diff's findings per object (changed functions, refusals), above the progress line. */
function showDiffLogs(ctx: BuildContext, outcomes: DiffOutcome[]): void {
  for (const r of outcomes) {
    for (const l of r.log.split('\n')) {
      if (l === '') continue;
      if (ctx.options.log) ctx.options.log(`${l}\n`);
      else ctx.progress.say(l.replace(/^kelp: /, ''), l.startsWith('kelp: ')); // problems show under --quiet too
    }
  }
}

/** Every function a vmlinux object replaces is in the target kernel's symbol table (else the object is not built into it). */
function requireInTargetKernel(reports: ObjectReport[], symbols: string): void {
  const counts = SymbolCounts.read(symbols);
  if (!counts.has('vmlinux')) return;
  for (const rep of reports) {
    if (rep.target !== 'vmlinux') continue;
    for (const f of rep.changedFunctions) {
      if (counts.count('vmlinux', f.oldName) === 0) {
        throw new KelpError(`${rep.object}: ${f.oldName} is not in the target kernel's symbol table (is ${rep.object} built into this kernel?)`, symbols);
      }
    }
  }
}
