/**
 * Pass 1 of `kelp build`, validate: parse the patches, refuse unsupported
 * files and paths that leave the tree, check the options and the kernel's
 * config (CONFIG_LIVEPATCH), take the tree (repairing what an interrupted
 * earlier run left patched) and apply the hunks in memory: a hunk that does
 * not apply stops here, before anything is built.
 */
import { chooseToolchain, setToolchain } from '../kernel/toolchain.js';
import { templatesDir } from '../link/template.js';
import { existsSync, promises as fs, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { KelpError } from '../errors.js';
import { withLineDirectives } from '../patch/line-directives.js';
import { cacheRoot } from '../target/cache.js';
import type { BuildContext } from './context.js';
import { TreeGuard } from './guard.js';
import { requireLivepatchConfig } from '../kernel/config.js';
import { applyChanges, describeMovedHunk, readPatchFile, unsupportedReason, type AppliedPatches, type FileChange } from './patch.js';

/** What the later passes build from: the trees, the applied patches and the output names. */
export interface Validated {
  /** The kernel tree (in-tree) or the module directory (out-of-tree). */
  tree: string;
  oot: boolean;
  kdir: string;
  /** The kernel's .config text. */
  config: string;
  changes: FileChange[];
  applied: AppliedPatches;
  /** Path → what the patched build compiles (null: deleted); see withLineDirectives. */
  compiled: Map<string, string | null>;
  patchedC: string[];
  headers: string[];
  name: string;
  outdir: string;
  symbols: string | undefined;
  symvers: string;
  /** Files restored from an earlier, interrupted run. */
  repaired: string[];
}

/** The default module name: livepatch-<first patch's basename without .patch/.diff>, cleaned for the kernel. */
export function defaultModuleName(patch: string): string {
  const base = basename(patch).replace(/\.(patch|diff)$/, '');
  const clean = base.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'patch';
  return `livepatch-${clean}`.slice(0, 55).replace(/-+$/, '');
}

export async function validate(ctx: BuildContext): Promise<Validated> {
  const o = ctx.options;
  ctx.progress.phase('validate');
  if (o.patches.length === 0) throw new KelpError('no patch given');
  const changes: FileChange[] = o.patches.flatMap((p) => readPatchFile(p));
  const refused = changes.map((c) => ({ c, why: unsupportedReason(c.path) })).filter((x) => x.why !== null);
  if (refused.length > 0) {
    throw new KelpError(refused.map((x) => `${x.c.path}: ${x.why}`).join('; '), refused[0].c.patch);
  }
  const oot = o.ootModule !== undefined;
  if (oot && o.sourcedir !== undefined) throw new KelpError('--oot-module and --sourcedir exclude each other');
  if (!oot && o.sourcedir === undefined) throw new KelpError('needs --release (a Debian kernel release), --sourcedir (a configured kernel tree) or --oot-module (a module directory)');
  const tree = resolve(oot ? o.ootModule! : o.sourcedir!);
  if (!existsSync(tree) || !statSync(tree).isDirectory()) throw new KelpError('no such directory', oot ? o.ootModule : o.sourcedir);
  if (oot && o.kdir === undefined) throw new KelpError('--oot-module needs --release or --kdir (the target kernel\'s build directory)');
  let repaired: string[] = [];
  if (!oot) {
    // First of all: take the tree, and repair it should an earlier kelp have been killed while it was patched.
    // Another kelp building in it: wait (said once per holder), Ctrl-C still stops.
    const guard = await TreeGuard.acquire(cacheRoot(o.cache), tree, {
      onWait: (pid) => ctx.progress.say(`waiting for the tree: another kelp build (pid ${pid}) is building in ${tree}`),
      check: () => ctx.checkInterrupt(tree),
    });
    ctx.interrupts.guard = guard;
    guard.noteWork(ctx.work);
    repaired = guard.repaired;
    if (repaired.length > 0) ctx.progress.say(`repaired the tree left patched by an earlier, interrupted kelp build (${repaired.length} file(s) restored)`);
  }
  const kdir = resolve(o.kdir ?? tree);
  if (!existsSync(join(kdir, 'Makefile'))) throw new KelpError('not a kernel build directory (no Makefile)', kdir);
  const configFile = join(oot ? kdir : tree, '.config');
  const config = requireLivepatchConfig(configFile);
  // The kernel's own compiler: the host's when it is exactly that gcc, else the release's build root.
  ctx.toolchain = await chooseToolchain({
    config, configFile, codename: ctx.fetched?.codename || undefined, cache: cacheRoot(o.cache), binds: [cacheRoot(o.cache), tree, kdir, templatesDir()],
    skipCheck: o.skipCompilerCheck, say: (l) => ctx.progress.say(l),
  });
  setToolchain(ctx.toolchain);
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
  for (const m of applied.moved) ctx.progress.say(`warning: ${m.patch}: ${describeMovedHunk(m)}`, true);
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
  const { compiled, directives } = compiledSources(applied);
  ctx.progress.note(`${changes.length} file change(s) in ${o.patches.length} patch(es), ${directives} #line directive(s) keeping unchanged lines' numbers`);
  ctx.checkInterrupt(tree);
  return { tree, oot, kdir, config, changes, applied, compiled, patchedC, headers, name, outdir, symbols, symvers, repaired };
}

/** What the patched build compiles: the patched C sources and headers with #line directives keeping unchanged lines' numbers. */
function compiledSources(applied: AppliedPatches): { compiled: Map<string, string | null>; directives: number } {
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
  return { compiled, directives };
}
