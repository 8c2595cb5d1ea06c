/**
 * Passes 2 and 3 of `kelp build`, the objects: build the objects the patch
 * affects with the tree's own kbuild and -ffunction-sections -fdata-sections,
 * first unpatched (the originals, cached by content), then patched.
 *
 *  - in-tree: single-object kbuild targets in the tree itself; the patched
 *    files are written journalled by the guard (guard.ts) and the tree is
 *    restored as soon as the patched objects are built;
 *  - out-of-tree: the module directory is copied and both builds run in the
 *    copy (the user's directory is never written).
 *
 * In-tree, the includers of a patched header whose preprocessed source is
 * unchanged are left out (preprocessed.ts). Struct and union layout changes
 * are refused with the compiled layouts of both builds (layout.ts), first on
 * one object that uses the type (the probe), then on all.
 */
import { activeToolchain } from '../kernel/toolchain.js';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExitCode, KelpError } from '../errors.js';
import { kernelModuleName } from '../kmod/names.js';
import { cacheRoot } from '../target/cache.js';
import { compilerOf, preparedWithKelpFlags } from '../target/source.js';
import { compilerVersion, objectCacheKey, ObjectCache } from './cache.js';
import type { BuildContext } from './context.js';
import type { TreeGuard } from './guard.js';
import { makeFailure } from '../kernel/make.js';
import { cmdFileOf, KELP_KCFLAGS, objectsIncluding, readCmdFile, runBuildMake, type CmdInfo } from './kbuild.js';
import type { Validated } from './validate.js';
import { affectedInTree, LARGE_SET } from './affected.js';
import { layoutProbe, layoutSuspects, refuseLayoutChanges } from './layout.js';
import { unchangedWhenPreprocessed } from './preprocessed.js';

/** The original and patched builds of the objects a patch affects. */
export interface Objects {
  /** Object paths relative to the build directory (tree or module copy). */
  list: string[];
  origDir: string;
  patchedDir: string;
  info: Map<string, CmdInfo>;
  cached: Set<string>;
  /** Out-of-tree: the original module .ko (load it before the patch; its symbols for sympos). */
  origModule?: string;
}

export async function buildObjects(ctx: BuildContext, v: Validated): Promise<Objects> {
  let objects: Objects;
  if (v.oot) {
    objects = await buildOutOfTree(ctx, v);
  } else {
    try {
      objects = await buildInTree(ctx, v, ctx.interrupts.guard!);
    } finally {
      ctx.interrupts.restoreTree();
    }
  }
  ctx.checkInterrupt(v.tree);
  // Types whose members the patch's text changes: refused when their compiled layout changed.
  const suspects = layoutSuspects(v.applied, [...v.headers, ...v.patchedC]);
  await refuseLayoutChanges(suspects, objects, ctx.progress, v.applied.changes[0]?.patch ?? v.tree, false, (objs) => layoutTexts(v, objs));
  return objects;
}

/**
 * The texts a flexible-array tail is checked against (build/layout.ts): the
 * patched texts of the files the patch changes, and the .c sources of
 * `objs` as the patch leaves them.
 */
function layoutTexts(v: Validated, objs: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of v.applied.after.values()) if (typeof t === 'string') out.push(t);
  for (const o of objs) {
    const c = o.replace(/\.o$/, '.c');
    const patched = v.applied.after.get(c);
    if (typeof patched === 'string') continue;
    const p = join(v.tree, c);
    if (existsSync(p)) out.push(readFileSync(p, 'latin1'));
  }
  return out;
}

/** The source an object is compiled from, for its cache key: the .c or .S file, or nothing for a generated one (its dependencies, recorded with the entry, decide). */
function objectSource(tree: string, o: string): Buffer {
  for (const ext of ['.c', '.S']) {
    const p = join(tree, o.replace(/\.o$/, ext));
    if (existsSync(p)) return readFileSync(p);
  }
  return Buffer.alloc(0);
}

async function copyInto(from: string, to: string): Promise<void> {
  await fs.mkdir(dirname(to), { recursive: true });
  await fs.copyFile(from, to);
}

async function make(ctx: BuildContext, v: Validated, args: string[], cwd: string, what: string, onSpawn?: (pid: number) => void, total = 0): Promise<void> {
  // kbuild's "  CC [M]  path.o" lines count the objects compiled so far.
  let compiled = 0;
  const log = total > 0 ? (line: string) => { if (/^\s+CC( \[M\])?\s+\S+\.o$/.test(line)) ctx.progress.note(`${++compiled}/${total} object(s)`); } : undefined;
  const r = await runBuildMake(args, { cwd, children: ctx.interrupts.children, onSpawn, log });
  ctx.checkInterrupt(v.tree);
  if (r.exitCode !== 0) throw new KelpError(`building the ${what} failed: ${makeFailure(r.output)}`, v.tree);
}

/** In-tree: single-object kbuild targets in the tree itself, every write journalled by the guard. */
async function buildInTree(ctx: BuildContext, v: Validated, guard: TreeGuard): Promise<Objects> {
  const { tree } = v;
  const cache = ctx.options.useCache === false ? null : new ObjectCache(join(cacheRoot(ctx.options.cache), 'objects'));
  const affected = await affectedInTree({
    tree, applied: v.applied, patchedC: v.patchedC, headers: v.headers, progress: ctx.progress, kernelCache: cacheRoot(ctx.options.cache),
  });
  let objs = affected.objects;
  // What make is asked for: an object another directory's Makefile builds is named by that Makefile's path.
  const targets = (list: string[]): string[] => list.map(affected.makeTarget);
  const origDir = join(ctx.work, 'orig');
  const patchedDir = join(ctx.work, 'patched');
  const kcflags = `KCFLAGS=${KELP_KCFLAGS}`;
  if (!(await preparedWithKelpFlags(tree))) {
    ctx.progress.say(`${tree} was prepared without kelp's KCFLAGS (${KELP_KCFLAGS}): kbuild redoes its prepare step once (scripts/mod, generated headers; no source file changes)`);
  }
  const compiler = activeToolchain()?.used ?? compilerVersion(compilerOf(v.config) ?? 'gcc');
  const keys = new Map<string, string>();
  const cached = new Set<string>();
  guard.protect(objs.flatMap((o) => [o, cmdFileOf(o)]));
  guard.protect(v.applied.after.keys());
  /** Puts the originals of `list` into origDir: from the object cache, else built from the tree's sources. */
  const buildOriginals = async (list: string[]): Promise<void> => {
    for (const o of list) {
      if (keys.has(o)) continue;
      const key = objectCacheKey({ object: o, source: objectSource(tree, o), config: v.config, compilerVersion: compiler, flags: KELP_KCFLAGS });
      keys.set(o, key);
      const hit = cache ? await cache.lookup(key, tree) : undefined;
      if (hit !== undefined) {
        await copyInto(hit, join(origDir, o));
        cached.add(o);
      }
    }
    const misses = list.filter((o) => !cached.has(o) && !existsSync(join(origDir, o)));
    if (misses.length === 0) return;
    // Built afresh from the tree's sources (an object left in the tree is restored afterwards by the guard).
    for (const o of misses) guard.write(o, null);
    await make(ctx, v, [`-j${ctx.jobs}`, kcflags, ...targets(misses)], tree, `original objects (${misses.length > 20 ? `${misses.length} objects` : misses.join(', ')})`, (pid) => guard.noteGroup(pid), misses.length);
    for (const o of misses) {
      await copyInto(join(tree, o), join(origDir, o));
      if (cache) await cache.store(keys.get(o)!, join(tree, o), tree, o, readCmdFile(tree, o).deps);
    }
  };

  // A struct whose members the patch's text changes: one object that uses it is built both ways
  // first, so that a real layout change is refused before every includer is built.
  const suspects = layoutSuspects(v.applied, [...v.headers, ...v.patchedC]);
  const probe = layoutProbe(tree, objs, suspects, v.patchedC);
  if (probe !== undefined) {
    ctx.progress.phase('layout probe', probe);
    await buildOriginals([probe]);
    for (const [p, content] of v.compiled) guard.write(p, content);
    await make(ctx, v, [kcflags, ...targets([probe])], tree, `patched object ${probe}`, (pid) => guard.noteGroup(pid));
    await copyInto(join(tree, probe), join(patchedDir, probe));
    for (const p of v.compiled.keys()) guard.write(p, v.applied.before.get(p) ?? null);
    await refuseLayoutChanges(suspects, { list: [probe], origDir, patchedDir }, ctx.progress, v.applied.changes[0]?.patch ?? tree, true, (objs) => layoutTexts(v, objs));
    ctx.checkInterrupt(tree);
  }

  // Includers of a patched header whose preprocessed source is the same need no build.
  const patchedObjs = new Set(v.patchedC.map((c) => c.replace(/\.c$/, '.o')));
  const includers = v.headers.length === 0 ? [] : objs.filter((o) => !patchedObjs.has(o));
  if (includers.length > 0) {
    ctx.progress.phase('preprocess', `${includers.length} includer(s), before and after the patch`);
    const same = await unchangedWhenPreprocessed(v, guard, includers, affected.makeTarget, (units, what) => make(ctx, v, [`-j${ctx.jobs}`, kcflags, ...units], tree, what, (pid) => guard.noteGroup(pid)))
      .catch((e: unknown) => {
        // A unit kbuild cannot preprocess on its own: every includer is built, as without this step.
        if (!(e instanceof KelpError) || !/preprocessed includers failed/.test(e.message)) throw e;
        ctx.progress.say(`preprocessing the includers failed (${e.message.slice(0, 300)}): every includer is built`, true);
        return new Set<string>();
      });
    ctx.checkInterrupt(tree);
    if (same.size > 0) {
      ctx.progress.say(`${same.size} of ${includers.length} includer(s) of ${v.headers.join(', ')} preprocess to the same source as before: not rebuilt`);
      objs = objs.filter((o) => !same.has(o));
    }
    if (objs.length === 0) {
      throw new KelpError(`changes nothing this kernel's configuration builds: the ${includers.length} configured includer(s) of ${v.headers.join(', ')} preprocess to the same source as before`, v.applied.changes[0]?.patch ?? tree, ExitCode.NoChange);
    }
  }

  ctx.progress.phase('build originals', `${objs.length} object(s)`);
  if (objs.length > LARGE_SET) ctx.progress.say(`building ${objs.length} objects twice (original and patched); this takes a while`, true);
  await buildOriginals(objs);
  ctx.progress.note(`${objs.length} object(s), ${cached.size} from the cache`);
  ctx.checkInterrupt(tree);

  for (const [p, content] of v.compiled) guard.write(p, content);
  ctx.progress.phase('build patched', `${objs.length} object(s)`);
  await make(ctx, v, [`-j${ctx.jobs}`, kcflags, ...targets(objs)], tree, 'patched objects', (pid) => guard.noteGroup(pid), objs.length);
  const info = new Map<string, CmdInfo>();
  for (const o of objs) {
    await copyInto(join(tree, o), join(patchedDir, o));
    info.set(o, readCmdFile(tree, o));
  }
  return { list: objs, origDir, patchedDir, info, cached };
}

/** Out-of-tree: the module directory is copied; both builds run in the copy (the user's directory is never written). */
async function buildOutOfTree(ctx: BuildContext, v: Validated): Promise<Objects> {
  const mod = join(ctx.work, 'module');
  await fs.cp(v.tree, mod, { recursive: true, filter: (src) => !/\/\.git$/.test(src) });
  const args = ['-C', v.kdir, `M=${mod}`, `KCFLAGS=${KELP_KCFLAGS}`, `-j${ctx.jobs}`, 'modules'];
  ctx.progress.phase('build originals', 'the whole module');
  await make(ctx, v, args, mod, 'original module');
  const list = new Set(v.patchedC.map((p) => p.replace(/\.c$/, '.o')));
  if (v.headers.length > 0) for (const u of await objectsIncluding(mod, v.headers)) list.add(u);
  const objs = [...list].sort();
  const origDir = join(ctx.work, 'orig');
  const patchedDir = join(ctx.work, 'patched');
  for (const o of objs) {
    if (!existsSync(join(mod, o))) throw new KelpError(`${o} was not built by the module's Makefile`, v.tree);
    await copyInto(join(mod, o), join(origDir, o));
  }
  const info0 = readCmdFile(mod, objs[0]);
  const modName = info0.modname ?? basename(objs[0], '.o');
  const kos = (await fs.readdir(mod)).filter((f) => f.endsWith('.ko'));
  const koName = kos.find((f) => kernelModuleName(f.slice(0, -3)) === modName);
  if (koName === undefined) throw new KelpError(`the module build produced no ${modName}.ko (it made ${kos.join(', ') || 'none'})`, v.tree);
  const origModule = join(origDir, koName);
  await copyInto(join(mod, koName), origModule);

  ctx.progress.phase('build patched', `${objs.length} object(s)`);
  for (const [p, content] of v.compiled) {
    const abs = join(mod, p);
    if (content === null) await fs.rm(abs, { force: true });
    else {
      await fs.mkdir(dirname(abs), { recursive: true });
      await fs.writeFile(abs, content, 'latin1');
    }
  }
  await make(ctx, v, args, mod, 'patched module');
  const info = new Map<string, CmdInfo>();
  for (const o of objs) {
    await copyInto(join(mod, o), join(patchedDir, o));
    info.set(o, readCmdFile(mod, o));
  }
  return { list: objs, origDir, patchedDir, info, cached: new Set(), origModule };
}
