/**
 * `kelp build`: patches → a verified livepatch module, in phases.
 *
 *  1. validate: parse the patches, refuse unsupported files and paths that
 *     leave the tree, check the config has CONFIG_LIVEPATCH, apply the hunks
 *     in memory (a hunk that does not apply stops here, before any build);
 *  2. originals: build the objects the patch affects with the tree's kbuild
 *     and -ffunction-sections -fdata-sections (cached by content);
 *  3. patched: write the patched files (journalled, see guard.ts), rebuild
 *     the same objects, restore the tree;
 *  4. diff: every object in parallel (worker threads), grouped by the object
 *     it patches (vmlinux or a module);
 *  5. link: kelp link with the target's kbuild;
 *  6. verify (optional): boot the target under QEMU with the module;
 *  then NAME.ko and NAME.json are renamed into OUTDIR.
 */
import { existsSync, mkdtempSync, promises as fs, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { KelpError } from '../../elf/errors.js';
import { kdirRelease, linkModule, writeFileAtomic, type LinkResult } from '../link/index.js';
import { SymbolCounts } from '../link/symbol-table.js';
import { kernelModuleName } from '../patch/meta.js';
import { cacheRoot } from '../target/cache.js';
import { compilerOf } from '../target/source.js';
import type { RunResult } from '../target/run.js';
import { compilerVersion, objectCacheKey, ObjectCache } from './cache.js';
import { runDiffs, type DiffJob, type DiffOutcome } from './diff-pool.js';
import { TreeGuard } from './guard.js';
import {
  Children, cmdFileOf, KELP_KCFLAGS, makeFailure, objectsIncluding, readCmdFile, requireLivepatchConfig, runMake, type CmdInfo,
} from './kbuild.js';
import { withLineDirectives } from '../patch/line-directives.js';
import { withDependencies } from './module-deps.js';
import { providedAcross } from './cross-objects.js';
import { RefusalError, type BuildRefusal } from './refusals.js';
import { kernelEntrySizes } from './entry-sizes.js';
import { LineMap } from '../patch/lines.js';
import { preparedWithKelpFlags } from '../target/source.js';
import { applyChanges, describeMovedHunk, readPatchFile, unsupportedReason, type AppliedPatches, type FileChange, type MovedHunk } from './patch.js';
import { Progress, type ProgressSink } from './progress.js';

export const PHASES = ['validate', 'build originals', 'build patched', 'diff', 'link', 'verify'] as const;

export interface BuildOptions {
  patches: string[];
  /** A configured kernel tree (in-tree patches). */
  sourcedir?: string;
  /** The build directory whose kbuild builds the module (default: sourcedir). */
  kdir?: string;
  /** An out-of-tree module's directory (its own Makefile/Kbuild); patches are relative to it. */
  ootModule?: string;
  /** The module the out-of-tree patch changes (default: the module kbuild names for its objects). */
  target?: string;
  name?: string;
  outdir?: string;
  /** System.map of the target kernel (sympos, klp symbol checks). */
  symbols?: string;
  /** Module.symvers of the target (default: KDIR/Module.symvers). */
  symvers?: string;
  replace?: boolean;
  jobs?: number;
  keepTmp?: boolean;
  verify?: boolean;
  check?: string[];
  expect?: string[];
  /** With verify and checks: regular expressions the checks' output must match after the patch is disabled in the target (the original behaviour is back). */
  expectDisabled?: string[];
  /** The kernel image to boot for --verify (default: the fetched Debian target's). */
  kernel?: string;
  /** Seconds before the verification boot is killed. */
  timeout?: number;
  /** Lines of context a hunk may leave unchecked (patch's --fuzz; default 2, 0 refuses a hunk that needs fuzz). */
  fuzz?: number;
  /** Cache root (default $KELP_CACHE or ${XDG_CACHE_HOME:-~/.cache}/kelp). */
  cache?: string;
  /** Use the original-object cache (default true). */
  useCache?: boolean;
  progress?: ProgressSink;
  quiet?: boolean;
  /** Where the diff's per-object reports go (default stderr). */
  log?: (text: string) => void;
}

export interface ObjectReport {
  object: string;
  /** vmlinux or the module name (with `_`). */
  target: string;
  result: 'changed' | 'no-change';
  cached: boolean;
  changedFunctions: Array<{ name: string; oldName: string }>;
  /** Changed functions without __fentry__ that the patch replaces by replacing their callers. */
  throughCallers: Array<{ name: string; callers: string[] }>;
  newFunctions: string[];
  newData: string[];
  /** Replaced functions whose original has .cold parts, and those parts. */
  coldParts: Array<{ name: string; parts: string[] }>;
  diffBytes: number;
}

export interface BuildReport {
  name: string;
  moduleName: string;
  ko: string;
  patches: string[];
  tree: string;
  kind: 'in-tree' | 'out-of-tree';
  kdir: string;
  targets: Record<string, string[]>;
  objects: ObjectReport[];
  /** The special sections' entry sizes read from the target kernel (SECTION=BYTES), null when the probe did not build. */
  entrySizes: string[] | null;
  sizes: { ko: number; diffObjects: number };
  cache: { hits: number; misses: number };
  timings: Record<string, number>;
  total: number;
  verify: null | {
    ok: boolean;
    check: null | { ok: boolean; problems: string[]; notes: string[] };
    checks: Array<{ command: string; output: string; exitCode: number | null }>;
    expect: Array<{ pattern: string; matched: boolean }>;
    /** The checks run again after the patch was disabled in the target (when checks were given). */
    checksAfterDisable: Array<{ command: string; output: string; exitCode: number | null }>;
    expectDisabled: Array<{ pattern: string; matched: boolean }>;
    error: string | null;
    log: string | null;
  };
  repairedFromEarlierRun: string[];
  /** Hunks that applied at an offset or with fuzz, and where they landed (as `patch -p1` would have put them). */
  movedHunks: MovedHunk[];
}

export interface BuildResult { ko: string; json: string; report: BuildReport }

/** The default module name: livepatch-<first patch's basename without .patch/.diff>, cleaned for the kernel. */
export function defaultModuleName(patch: string): string {
  const base = basename(patch).replace(/\.(patch|diff)$/, '');
  const clean = base.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'patch';
  return `livepatch-${clean}`.slice(0, 55).replace(/-+$/, '');
}

interface Objects {
  /** Object paths relative to the build directory (tree or module copy). */
  list: string[];
  origDir: string;
  patchedDir: string;
  info: Map<string, CmdInfo>;
  cached: Set<string>;
  /** Out-of-tree: the original module .ko (load it before the patch; its symbols for sympos). */
  origModule?: string;
}

function flattenName(obj: string): string {
  return obj.replace(/\//g, '__');
}

async function copyInto(from: string, to: string): Promise<void> {
  await fs.mkdir(dirname(to), { recursive: true });
  await fs.copyFile(from, to);
}

export async function buildLivepatch(o: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const sink: ProgressSink = o.progress ?? { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY };
  const phases = o.verify ? [...PHASES] : PHASES.filter((p) => p !== 'verify');
  const progress = new Progress(phases, sink, o.quiet === true);
  const jobs = Math.max(1, o.jobs ?? availableParallelism());
  const children = new Children();
  let interrupted: NodeJS.Signals | null = null;
  let guard: TreeGuard | null = null;
  let stopDiffs: (() => Promise<void>) | null = null;
  const checkInterrupt = (where: string) => {
    if (interrupted !== null) throw new KelpError(`interrupted (${interrupted}); nothing was written and the tree is as it was`, where, interrupted === 'SIGINT' ? 130 : 143);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted !== null) return;
    interrupted = sig;
    progress.say(`${sig}: stopping the build and restoring the tree`);
    void children.stopAll();
    if (stopDiffs) void stopDiffs();
    // Should the pipeline not unwind (a hung tool), restore and leave anyway.
    setTimeout(() => {
      try { guard?.restore(); } catch { /* the journal stays for the next run */ }
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }, 20_000).unref();
  };
  const onExit = () => {
    try { guard?.restore(); } catch { /* journal kept */ }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  process.on('exit', onExit);
  const work = mkdtempSync(join(tmpdir(), 'kelp-build-'));
  let keepWork = o.keepTmp === true;
  try {
    // 1. validate
    progress.phase('validate');
    if (o.patches.length === 0) throw new KelpError('no patch given');
    const changes: FileChange[] = o.patches.flatMap((p) => readPatchFile(p));
    const refused = changes.map((c) => ({ c, why: unsupportedReason(c.path) })).filter((x) => x.why !== null);
    if (refused.length > 0) {
      throw new KelpError(refused.map((x) => `${x.c.path}: ${x.why}`).join('; '), refused[0].c.patch);
    }
    const oot = o.ootModule !== undefined;
    if (oot && o.sourcedir !== undefined) throw new KelpError('--oot-module and --sourcedir exclude each other');
    if (!oot && o.sourcedir === undefined) throw new KelpError('needs --sourcedir (a configured kernel tree) or --oot-module (a module directory)');
    const tree = resolve(oot ? o.ootModule! : o.sourcedir!);
    if (!existsSync(tree) || !statSync(tree).isDirectory()) throw new KelpError('no such directory', oot ? o.ootModule : o.sourcedir);
    if (oot && o.kdir === undefined) throw new KelpError('--oot-module needs --kdir (the target kernel\'s build directory)');
    let repaired: string[] = [];
    if (!oot) {
      // First of all: take the tree, and repair it should an earlier kelp have been killed while it was patched.
      guard = TreeGuard.acquire(cacheRoot(o.cache), tree);
      guard.noteWork(work);
      repaired = guard.repaired;
      if (repaired.length > 0) progress.say(`repaired the tree left patched by an earlier, interrupted kelp build (${repaired.length} file(s) restored)`);
    }
    const kdir = resolve(o.kdir ?? tree);
    if (!existsSync(join(kdir, 'Makefile'))) throw new KelpError('not a kernel build directory (no Makefile)', kdir);
    const config = requireLivepatchConfig(join(oot ? kdir : tree, '.config'));
    if (!existsSync(join(kdir, 'Module.symvers'))) {
      throw new KelpError('has no Module.symvers (the kernel was not fully built here); pass --kdir with the target\'s headers (the "kdir" of kelp target fetch)', kdir);
    }
    for (const c of changes) {
      if (c.path.endsWith('.c') && c.kind !== 'modify') {
        throw new KelpError(`${c.path}: ${c.kind === 'create' ? 'a new .c file would need a Makefile change' : 'deleting a source file'}, which a livepatch cannot carry`, c.patch);
      }
    }
    const applied: AppliedPatches = applyChanges(tree, changes, o.fuzz ?? 2);
    // Like patch: every hunk that did not land where its header says, or needed fuzz, is named (shown under --quiet too).
    for (const m of applied.moved) progress.say(`warning: ${m.patch}: ${describeMovedHunk(m)}`, true);
    if (applied.after.size === 0) throw new KelpError('the patches change no file', o.patches[0]);
    const name = o.name ?? defaultModuleName(o.patches[0]);
    if (!/^[A-Za-z0-9_-]{1,55}$/.test(name)) throw new KelpError(`--name ${JSON.stringify(name)}: a module name is 1 to 55 letters, digits, '_' or '-'`);
    const outdir = resolve(o.outdir ?? '.');
    await fs.mkdir(outdir, { recursive: true });
    const symbols = o.symbols ?? (existsSync(join(tree, 'System.map')) && !oot ? join(tree, 'System.map') : undefined);
    if (symbols !== undefined && !existsSync(symbols)) throw new KelpError('no such file', symbols);
    const symvers = o.symvers ?? join(kdir, 'Module.symvers');
    if (!existsSync(symvers)) throw new KelpError('no such file', symvers);
    const patchedC = [...applied.after.keys()].filter((p) => p.endsWith('.c'));
    const headers = [...applied.after.keys()].filter((p) => p.endsWith('.h') && applied.before.get(p) !== null);
    // What the patched build compiles: the patched C sources and headers with #line directives keeping unchanged lines' numbers.
    const compiled = new Map<string, string | null>();
    let directives = 0;
    for (const [p, content] of applied.after) {
      const before = applied.before.get(p);
      if (content !== null && before !== undefined && before !== null && /\.[ch]$/.test(p)) {
        const d = withLineDirectives(before, content);
        compiled.set(p, d.text);
        directives += d.directives;
      } else {
        compiled.set(p, content);
      }
    }
    progress.note(`${changes.length} file change(s) in ${o.patches.length} patch(es), ${directives} #line directive(s) keeping unchanged lines' numbers`);
    checkInterrupt(tree);

    const cache = new ObjectCache(join(cacheRoot(o.cache), 'objects'));
    const cc = compilerOf(config) ?? 'gcc';
    let objects: Objects;
    if (oot) {
      objects = await buildOutOfTree({ tree, kdir, applied, compiled, patchedC, headers, work, jobs, children, progress, checkInterrupt });
    } else {
      const g = guard!;
      try {
        objects = await buildInTree({
          tree, config, cc, cache: o.useCache === false ? null : cache, guard: g, applied, compiled, patchedC, headers, work, jobs, children, progress, checkInterrupt,
        });
      } finally {
        g.restore();
        guard = null;
      }
    }
    checkInterrupt(tree);

    // 4. diff
    progress.phase('diff', `${objects.list.length} object(s)`);
    const diffDir = join(work, 'diff');
    await fs.mkdir(diffDir, { recursive: true });
    const targetOf = (obj: string) => {
      const info = objects.info.get(obj)!;
      if (oot) return kernelModuleName(o.target ?? info.modname ?? basename(obj, '.o'));
      return info.module ? (info.modname ?? basename(obj, '.o')) : 'vmlinux';
    };
    if (oot && o.target !== undefined) {
      for (const obj of objects.list) {
        const mod = objects.info.get(obj)!.modname;
        if (mod !== null && mod !== kernelModuleName(o.target)) throw new KelpError(`${obj} belongs to module ${mod}, not --target ${o.target}`, o.ootModule);
      }
    }
    // In-tree modules the patch changes: the target's own .ko gives their symbols (and is loaded first under --verify).
    const moduleFiles = new Map<string, string>();
    if (!oot) {
      const dir = targetModulesDir(kdir);
      for (const obj of objects.list) {
        const t = targetOf(obj);
        if (t === 'vmlinux' || moduleFiles.has(t) || dir === undefined) continue;
        const f = findModuleFile(dir, t);
        if (f !== undefined) moduleFiles.set(t, f);
        else progress.say(`module ${t} not found under ${dir}; its symbols are assumed unique`);
      }
    } else if (objects.origModule !== undefined) {
      for (const obj of objects.list) moduleFiles.set(targetOf(obj), objects.origModule);
    }
    // The special sections' entry sizes as the target kernel defines them.
    const probe = await kernelEntrySizes(kdir, join(work, 'entry-sizes'), children);
    checkInterrupt(tree);
    if (probe.sizes === null) progress.say(`could not compile the entry-size probe against ${kdir} (${probe.why}); kelp diff checks its defaults against each section`);
    // Where the patches moved lines: a __LINE__ immediate may differ only that way.
    const lineMap = LineMap.fromTexts([...applied.before].map(([p, b]) => [p, b, applied.after.get(p) ?? null])).data;
    // New globals one patched object defines and another uses: resolved inside the livepatch module.
    const provided = providedAcross(objects.list.map((obj) => ({ orig: join(objects.origDir, obj), patched: join(objects.patchedDir, obj) })));
    const diffJobs: DiffJob[] = objects.list.map((obj, i) => {
      const target = targetOf(obj);
      const modSymbols = target === 'vmlinux' ? symbols : moduleFiles.get(target);
      return {
        opts: {
          orig: join(objects.origDir, obj), patched: join(objects.patchedDir, obj),
          output: join(diffDir, flattenName(obj)), target, symbols: modSymbols, symvers, lineMap, entrySizes: probe.sizes ?? undefined,
          provided: provided[i],
        },
      };
    });
    let done = 0;
    const outcomes: DiffOutcome[] = await runDiffs(diffJobs, jobs, () => progress.note(`${++done}/${diffJobs.length} object(s)`), (stop) => { stopDiffs = stop; });
    stopDiffs = null;
    checkInterrupt(tree);
    // The diff's findings per object (changed functions, refusals), above the progress line.
    for (const r of outcomes) {
      for (const l of r.log.split('\n')) {
        if (l === '') continue;
        if (o.log) o.log(`${l}\n`);
        else progress.say(l.replace(/^kelp: /, ''), l.startsWith('kelp: ')); // problems show under --quiet too
      }
    }
    const failed = outcomes.map((r, i) => (r.exitCode !== 0 && r.exitCode !== 2 && r.exitCode !== 3 ? `${objects.list[i]}: kelp diff failed (exit ${r.exitCode})` : null)).filter((x): x is string => x !== null);
    if (failed.length > 0) throw new KelpError(failed.join('; '), o.patches[0]);
    const refusals: BuildRefusal[] = outcomes.flatMap((r, i) => (r.exitCode === 2 ? r.report.refusals.map((x) => ({ object: objects.list[i], ...x })) : []));
    if (refusals.length > 0) throw new RefusalError(refusals, o.patches[0]);
    const changedIdx = outcomes.map((r, i) => (r.exitCode === 0 ? i : -1)).filter((i) => i >= 0);
    if (changedIdx.length === 0) throw new KelpError(`changes no function of ${objects.list.join(', ')} (only comments, line numbers or unused code?)`, o.patches[0], 3);
    const counts = symbols !== undefined ? SymbolCounts.read(symbols) : null;
    const objectReports: ObjectReport[] = objects.list.map((obj, i) => {
      const r = outcomes[i];
      return {
        object: obj, target: diffJobs[i].opts.target!, result: r.exitCode === 0 ? 'changed' : 'no-change', cached: objects.cached.has(obj),
        changedFunctions: r.report.changedFunctions.map((f) => ({ name: f.name, oldName: f.oldName })),
        throughCallers: r.report.throughCallers.map((f) => ({ name: f.name, callers: f.callers })),
        newFunctions: r.report.newFunctions, newData: r.report.newData, coldParts: r.report.coldParts ?? [],
        diffBytes: r.exitCode === 0 ? statSync(diffJobs[i].opts.output).size : 0,
      };
    });
    if (counts !== null) {
      for (const rep of objectReports) {
        if (rep.target !== 'vmlinux' || !counts.has('vmlinux')) continue;
        for (const f of rep.changedFunctions) {
          if (counts.count('vmlinux', f.oldName) === 0) {
            throw new KelpError(`${rep.object}: ${f.oldName} is not in the target kernel's symbol table (is ${rep.object} built into this kernel?)`, symbols);
          }
        }
      }
    }
    const targets: Record<string, string[]> = {};
    for (const r of objectReports) if (r.result === 'changed') (targets[r.target] ??= []).push(r.object);
    progress.note(Object.entries(targets).map(([t, objs]) => `${t}: ${objs.length} object(s)`).join(', '));

    // 5. link
    progress.phase('link');
    const koTmp = join(work, `${name}.ko`);
    const linked: LinkResult = await linkModule({
      inputs: changedIdx.map((i) => diffJobs[i].opts.output), kdir, name, output: koTmp, replace: o.replace !== false,
      symbols, symvers: [], keepBuild: false,
    });
    checkInterrupt(tree);

    // 6. verify
    let verify: BuildReport['verify'] = null;
    if (o.verify) {
      progress.phase('verify');
      const targets = [...new Set(changedIdx.map((i) => moduleFiles.get(diffJobs[i].opts.target!)).filter((f): f is string => f !== undefined))];
      // The patched modules and what they depend on (ext4 needs jbd2, mbcache, crc16), loaded before the livepatch.
      const modulesDir = targetModulesDir(kdir);
      const { order, missing } = withDependencies(targets, (n) => (modulesDir === undefined ? undefined : findModuleFile(modulesDir, n)));
      if (missing.length > 0) progress.say(`module dependencies not found${modulesDir === undefined ? '' : ` under ${modulesDir}`}: ${missing.join(', ')}`);
      verify = await verifyModule(o, koTmp, linked.moduleName, order, kdir, progress);
      checkInterrupt(tree);
    }
    progress.end();

    const koBytes = statSync(koTmp).size;
    const report: BuildReport = {
      name, moduleName: linked.moduleName, ko: join(outdir, `${name}.ko`), patches: o.patches.map((p) => resolve(p)),
      tree, kind: oot ? 'out-of-tree' : 'in-tree', kdir, targets, objects: objectReports, entrySizes: probe.sizes,
      sizes: { ko: koBytes, diffObjects: objectReports.reduce((n, r) => n + r.diffBytes, 0) },
      cache: { hits: objects.cached.size, misses: objects.list.length - objects.cached.size },
      timings: { ...progress.timings }, total: Math.round((Date.now() - started) / 10) / 100,
      verify, repairedFromEarlierRun: repaired, movedHunks: applied.moved,
    };
    if (verify !== null && !verify.ok) {
      keepWork = true;
      throw new KelpError(`verification failed: ${verify.error ?? describeVerifyFailure(verify)}${verify.log ? ` (console log: ${verify.log})` : ''}; module kept in ${work}`, koTmp, 4);
    }
    const json = join(outdir, `${name}.json`);
    await writeFileAtomic(join(outdir, `${name}.ko`), readFileSync(koTmp));
    await writeFileAtomic(json, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
    return { ko: report.ko, json, report };
  } catch (e) {
    if (interrupted !== null && !(e instanceof KelpError && (e.exitCode === 130 || e.exitCode === 143))) {
      throw new KelpError(`interrupted (${interrupted}); nothing was written and the tree is as it was`, o.sourcedir ?? o.ootModule, interrupted === 'SIGINT' ? 130 : 143);
    }
    throw e;
  } finally {
    progress.end();
    try { guard?.restore(); } finally {
      for (const s of signals) process.off(s, onSignal);
      process.off('exit', onExit);
      if (!keepWork) rmSync(work, { recursive: true, force: true });
      else if (o.keepTmp) progress.say(`work directory kept: ${work}`);
    }
  }
}

/**
 * The target's module tree, for the in-tree modules a patch changes: the
 * fetched target keeps it beside the headers (root/usr/src/linux-headers-R →
 * root/lib/modules/R); otherwise /lib/modules/<release>.
 */
export function targetModulesDir(kdir: string): string | undefined {
  const release = kdirRelease(kdir);
  if (release === undefined) return undefined;
  const beside = resolve(kdir, '..', '..', '..', 'lib', 'modules', release);
  if (existsSync(beside)) return beside;
  const host = join('/lib/modules', release);
  return existsSync(host) ? host : undefined;
}

/** File name → path of every .ko under a module tree (kernel/, updates/, extra/), walked once per tree. */
const moduleIndexes = new Map<string, Map<string, string>>();

function moduleIndex(modulesDir: string): Map<string, string> {
  const hit = moduleIndexes.get(modulesDir);
  if (hit) return hit;
  const index = new Map<string, string>();
  const stack = [join(modulesDir, 'kernel'), join(modulesDir, 'updates'), join(modulesDir, 'extra')];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isDirectory()) stack.push(join(dir, e.name));
      else if (e.name.endsWith('.ko') && !index.has(e.name)) index.set(e.name, join(dir, e.name));
    }
  }
  moduleIndexes.set(modulesDir, index);
  return index;
}

/** The .ko of module `name` (kernel spelling, `_`; the file may use `-`) under a module tree. */
export function findModuleFile(modulesDir: string, name: string): string | undefined {
  const index = moduleIndex(modulesDir);
  return index.get(`${name}.ko`) ?? index.get(`${name.replace(/_/g, '-')}.ko`);
}

function describeVerifyFailure(v: NonNullable<BuildReport['verify']>): string {
  const failed = v.checks.filter((c) => c.exitCode !== 0).map((c) => `check ${JSON.stringify(c.command)} exited ${c.exitCode}`);
  const unmatched = v.expect.filter((e) => !e.matched).map((e) => `--expect /${e.pattern}/ not matched (output: ${JSON.stringify(v.checks.map((c) => c.output).join('').slice(0, 200))})`);
  const after = v.checksAfterDisable.map((c) => c.output).join('').slice(0, 200);
  const unmatchedAfter = v.expectDisabled.filter((e) => !e.matched).map((e) => `--expect-disabled /${e.pattern}/ not matched after the patch was disabled (output: ${JSON.stringify(after)})`);
  return [...failed, ...unmatched, ...unmatchedAfter].join('; ') || 'the module did not load, enable or disable';
}

interface BuildCommon {
  tree: string;
  applied: AppliedPatches;
  /** Path → what the patched build compiles (null: deleted); see withLineDirectives. */
  compiled: Map<string, string | null>;
  patchedC: string[];
  headers: string[];
  work: string;
  jobs: number;
  children: Children;
  progress: Progress;
  checkInterrupt: (where: string) => void;
}

async function make(args: string[], cwd: string, c: BuildCommon, what: string, onSpawn?: (pid: number) => void): Promise<void> {
  const r = await runMake(args, { cwd, children: c.children, onSpawn });
  c.checkInterrupt(c.tree);
  if (r.exitCode !== 0) throw new KelpError(`building the ${what} failed: ${makeFailure(r.output)}`, c.tree);
}

/** In-tree: single-object kbuild targets in the tree itself, every write journalled by the guard. */
async function buildInTree(c: BuildCommon & { config: string; cc: string; cache: ObjectCache | null; guard: TreeGuard }): Promise<Objects> {
  const { tree, guard } = c;
  const list = new Set(c.patchedC.map((p) => p.replace(/\.c$/, '.o')));
  if (c.headers.length > 0) {
    const users = await objectsIncluding(tree, c.headers);
    if (users.length === 0 && list.size === 0) {
      throw new KelpError(`no built object of the tree depends on ${c.headers.join(', ')} (kbuild's .cmd files name none); build the objects that include it once, or patch the .c files too`, tree);
    }
    for (const u of users) list.add(u);
  }
  const objs = [...list].sort();
  const origDir = join(c.work, 'orig');
  const patchedDir = join(c.work, 'patched');
  const kcflags = `KCFLAGS=${KELP_KCFLAGS}`;
  if (!(await preparedWithKelpFlags(tree))) {
    c.progress.say(`${tree} was prepared without kelp's KCFLAGS (${KELP_KCFLAGS}): kbuild redoes its prepare step once (scripts/mod, generated headers; no source file changes)`);
  }
  c.progress.phase('build originals', `${objs.length} object(s)`);
  guard.protect(objs.flatMap((o) => [o, cmdFileOf(o)]));
  const compiler = compilerVersion(c.cc);
  const keys = new Map<string, string>();
  const cached = new Set<string>();
  for (const o of objs) {
    const src = join(tree, o.replace(/\.o$/, '.c'));
    const key = objectCacheKey({ object: o, source: readFileSync(src), config: c.config, compilerVersion: compiler, flags: KELP_KCFLAGS });
    keys.set(o, key);
    const hit = c.cache ? await c.cache.lookup(key, tree) : undefined;
    if (hit !== undefined) {
      await copyInto(hit, join(origDir, o));
      cached.add(o);
    }
  }
  const misses = objs.filter((o) => !cached.has(o));
  if (misses.length > 0) {
    // Built afresh from the tree's sources (an object left in the tree is restored afterwards by the guard).
    for (const o of misses) guard.write(o, null);
    await make([`-j${c.jobs}`, kcflags, ...misses], tree, c, `original objects (${misses.join(', ')})`, (pid) => guard.noteGroup(pid));
    for (const o of misses) {
      await copyInto(join(tree, o), join(origDir, o));
      if (c.cache) await c.cache.store(keys.get(o)!, join(tree, o), tree, o, readCmdFile(tree, o).deps);
    }
  }
  c.progress.note(`${objs.length} object(s), ${cached.size} from the cache`);
  c.checkInterrupt(tree);

  guard.protect(c.applied.after.keys());
  for (const [p, content] of c.compiled) guard.write(p, content);
  c.progress.phase('build patched', `${objs.length} object(s)`);
  await make([`-j${c.jobs}`, kcflags, ...objs], tree, c, 'patched objects', (pid) => guard.noteGroup(pid));
  const info = new Map<string, CmdInfo>();
  for (const o of objs) {
    await copyInto(join(tree, o), join(patchedDir, o));
    info.set(o, readCmdFile(tree, o));
  }
  return { list: objs, origDir, patchedDir, info, cached };
}

/** Out-of-tree: the module directory is copied; both builds run in the copy (the user's directory is never written). */
async function buildOutOfTree(c: BuildCommon & { kdir: string }): Promise<Objects> {
  const mod = join(c.work, 'module');
  await fs.cp(c.tree, mod, { recursive: true, filter: (src) => !/\/\.git$/.test(src) });
  const args = ['-C', c.kdir, `M=${mod}`, `KCFLAGS=${KELP_KCFLAGS}`, `-j${c.jobs}`, 'modules'];
  c.progress.phase('build originals', 'the whole module');
  await make(args, mod, c, 'original module');
  const list = new Set(c.patchedC.map((p) => p.replace(/\.c$/, '.o')));
  if (c.headers.length > 0) for (const u of await objectsIncluding(mod, c.headers)) list.add(u);
  const objs = [...list].sort();
  const origDir = join(c.work, 'orig');
  const patchedDir = join(c.work, 'patched');
  for (const o of objs) {
    if (!existsSync(join(mod, o))) throw new KelpError(`${o} was not built by the module's Makefile`, c.tree);
    await copyInto(join(mod, o), join(origDir, o));
  }
  const info0 = readCmdFile(mod, objs[0]);
  const modName = info0.modname ?? basename(objs[0], '.o');
  const kos = (await fs.readdir(mod)).filter((f) => f.endsWith('.ko'));
  const koName = kos.find((f) => kernelModuleName(f.slice(0, -3)) === modName);
  if (koName === undefined) throw new KelpError(`the module build produced no ${modName}.ko (it made ${kos.join(', ') || 'none'})`, c.tree);
  const origModule = join(origDir, koName);
  await copyInto(join(mod, koName), origModule);

  c.progress.phase('build patched', `${objs.length} object(s)`);
  for (const [p, content] of c.compiled) {
    const abs = join(mod, p);
    if (content === null) await fs.rm(abs, { force: true });
    else {
      await fs.mkdir(dirname(abs), { recursive: true });
      await fs.writeFile(abs, content, 'latin1');
    }
  }
  await make(args, mod, c, 'patched module');
  const info = new Map<string, CmdInfo>();
  for (const o of objs) {
    await copyInto(join(mod, o), join(patchedDir, o));
    info.set(o, readCmdFile(mod, o));
  }
  return { list: objs, origDir, patchedDir, info, cached: new Set(), origModule };
}

async function verifyModule(o: BuildOptions, ko: string, moduleName: string, preload: string[], kdir: string, progress: Progress): Promise<NonNullable<BuildReport['verify']>> {
  const { runTarget } = await import('../target/run.js');
  let kernel = o.kernel;
  let symbols = o.symbols;
  if (kernel === undefined) {
    const { fetchTarget } = await import('../target/fetch.js');
    const t = await fetchTarget({ cache: o.cache });
    kernel = t.kernel;
    symbols ??= t.systemMap;
  }
  // kelp check first: the loader's and livepatch core's rules, in process.
  let checked: NonNullable<BuildReport['verify']>['check'] = null;
  if (symbols !== undefined) {
    progress.note('kelp check');
    const { checkModule } = await import('../check/index.js');
    const r = checkModule(ko, { symbols, kdir, modules: preload });
    checked = { ok: r.ok, problems: r.problems.map((p) => `${p.place}: ${p.message} [${p.rule}]`), notes: r.notes };
    if (!r.ok) {
      return { ok: false, check: checked, checks: [], expect: [], checksAfterDisable: [], expectDisabled: [], error: `kelp check: ${checked.problems.join('; ')}`, log: null };
    }
  } else {
    progress.say('no --symbols: kelp check skipped, only the boot verifies the module');
  }
  const expectDisabled = (o.expectDisabled ?? []).map((p) => {
    try {
      return new RegExp(p, 'm');
    } catch {
      throw new KelpError('not a valid regular expression', p);
    }
  });
  // With the patch's own checks, the patch is also disabled in the target and
  // the checks run again, so the report shows the original behaviour returning.
  const userChecks = o.check ?? [];
  if (expectDisabled.length > 0 && userChecks.length === 0) throw new KelpError('needs at least one --check whose output it matches', '--expect-disabled');
  progress.note('booting the target');
  const r: RunResult = await runTarget({
    kernel,
    // The patched modules first (the original, unpatched builds), then the livepatch.
    load: [...preload, ko],
    check: [...userChecks, `cat /sys/kernel/livepatch/${moduleName}/enabled 2>/dev/null || echo disabled`],
    expect: o.expect ?? [],
    disable: userChecks.length > 0 ? [moduleName] : [],
    timeout: o.timeout ?? 300,
  });
  const afterOutput = r.checksAfterDisable.map((c) => c.output).join('');
  const expectDisabledResults = expectDisabled.map((re, i) => ({ pattern: o.expectDisabled![i], matched: re.test(afterOutput) }));
  // After the disable, the checks show the original behaviour; their exit
  // status is reported, not judged (a check for the patched behaviour fails
  // there by design). --expect-disabled is what asserts the original is back.
  const ok = r.error === null
    && r.modules.every((m) => m.error === null)
    && r.checks.every((c) => c.exitCode === 0)
    && r.expect.every((e) => e.matched)
    && r.disabled.every((d) => d.ok)
    && expectDisabledResults.every((e) => e.matched);
  return {
    ok,
    check: checked,
    checks: r.checks.map((c) => ({ command: c.command, output: c.output, exitCode: c.exitCode })),
    expect: r.expect,
    checksAfterDisable: r.checksAfterDisable.map((c) => ({ command: c.command, output: c.output, exitCode: c.exitCode })),
    expectDisabled: expectDisabledResults,
    error: r.error ?? r.modules.find((m) => m.error !== null)?.error ?? r.disabled.find((d) => !d.ok)?.error ?? null,
    log: r.log,
  };
}
