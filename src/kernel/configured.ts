/**
 * The objects a configured kernel tree builds: every object linked into
 * vmlinux and every module's objects, computed by GNU make itself from the
 * tree's Makefiles and include/config/auto.conf (templates/kbuild-objects.mk),
 * without building anything, whether or not an object was ever built.
 * Cached per tree and configuration under <cache>/kernel/.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { KelpError } from '../errors.js';
import { templatesDir } from '../link/template.js';
import { writeFileAtomic } from '../target/atomic.js';
import { treeStamp } from './stamp.js';
import { makeInvocation } from './toolchain.js';

export interface ConfiguredObject {
  /** The object's path relative to the tree (a composite module: its parts carry the module). */
  object: string;
  /** vmlinux, or the module (kernel spelling, `_`) the object is linked into. */
  target: string;
  /** A lib-y object: archived into lib.a and linked into vmlinux only when something uses it. */
  lib: boolean;
  /**
   * The path kbuild's Makefiles name it by, when another directory's Makefile
   * builds it (amdgpu's `../amdkfd/kfd_chardev.o`): the make target that
   * compiles it with that directory's flags and module name.
   */
  make?: string;
}

export interface ConfiguredTree {
  /** Every compiled object (composites resolved to their parts), by path. */
  objects: Map<string, ConfiguredObject>;
  /** Directory → its include-related compiler flags (-I, -include, -iquote) as kbuild passes them. */
  dirFlags: Map<string, string[]>;
  /** Object → include-related flags of its CFLAGS_<file>.o. */
  objectFlags: Map<string, string[]>;
  /** Directories visited (Makefiles read). */
  dirs: string[];
  /** The modules the configuration builds (kernel spelling). */
  modules: string[];
}

/** Bumped when the listing's format or rules change (old cache entries are then ignored). */
const FORMAT = 2;

/** Only the flags that change where #include finds files. */
export function includeFlags(words: string[], dir: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let opt: string | null = null;
    let val: string | undefined;
    for (const o of ['-include', '-iquote', '-isystem', '-idirafter', '-I']) {
      if (w === o) { opt = o; val = words[++i]; break; }
      if (w.startsWith(o) && o !== '-include') { opt = o; val = w.slice(o.length); break; }
    }
    if (opt === null || val === undefined || val === '') continue;
    out.push(opt, normalizePath(val, dir));
  }
  return out;
}

/** A path as kbuild passes it (./x, $(srctree)/x, relative to the tree's top) → relative to the tree. */
function normalizePath(p: string, dir: string): string {
  void dir;
  let q = p.replace(/^\$\(srctree\)\//, '').replace(/^\$\(objtree\)\//, '');
  if (q.startsWith('/')) return q;
  q = posix.normalize(q).replace(/(.)\/+$/, '$1');
  return q === '' ? '.' : q;
}

/** Module name as the kernel spells it. */
function moduleName(obj: string): string {
  return posix.basename(obj, '.o').replace(/-/g, '_');
}

/** Parses the helper makefile's output. */
export function parseListing(text: string): ConfiguredTree {
  const objects = new Map<string, ConfiguredObject>();
  const dirFlags = new Map<string, string[]>();
  const objectFlags = new Map<string, string[]>();
  const dirs: string[] = [];
  const modules = new Set<string>();
  const add = (object: string, target: string, lib: boolean) => {
    const o = posix.normalize(object);
    const had = objects.get(o);
    // Built in wins over module, a module over lib (kbuild filters obj-m by obj-y).
    if (had === undefined || (had.target !== 'vmlinux' && target === 'vmlinux') || (had.lib && !lib)) {
      objects.set(o, o === object ? { object: o, target, lib } : { object: o, target, lib, make: object });
    }
  };
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/);
    const [tag, first, ...rest] = w;
    if (first === undefined) continue;
    switch (tag) {
      case 'D':
        dirs.push(posix.normalize(first));
        break;
      case 'Y':
      case 'M': {
        const parts = rest.filter((p) => p !== '-');
        const target = tag === 'Y' ? 'vmlinux' : moduleName(first);
        if (tag === 'M') modules.add(target);
        if (rest.length === 0) add(first, target, false);
        else for (const p of parts) add(p, target, false);
        break;
      }
      case 'L':
        add(first, 'vmlinux', true);
        break;
      case 'F':
        dirFlags.set(posix.normalize(first), includeFlags(rest, first));
        break;
      case 'C': {
        const f = includeFlags(rest, posix.dirname(first));
        if (f.length > 0) objectFlags.set(posix.normalize(first), f);
        break;
      }
      default:
        break;
    }
  }
  return { objects, dirFlags, objectFlags, dirs, modules: [...modules].sort() };
}

/** Runs make (reading Makefiles only: nothing is built), as kelp's builds run it, and collects its output. */
function runMake(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    // With the kernel's own toolchain (a build root's make and gcc when the host's gcc is not the kernel's).
    const run = makeInvocation(args, cwd, { LC_ALL: 'C' });
    const child = spawn(run.file, run.args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: run.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errSize = 0;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      if (errSize < (1 << 20)) { err.push(d); errSize += d.length; }
    });
    child.on('error', (e) => rej(new KelpError(`cannot run make: ${e.message}`, cwd)));
    child.on('close', (code) => res({ code, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') }));
  });
}

/**
 * The variables the top-level Kbuild reads from the top Makefile (ARCH_CORE,
 * ARCH_LIB, ARCH_DRIVERS from the arch Makefile; SRCARCH; BITS), as the
 * tree's own Makefile computes them, for the helper's command line.
 */
async function topVariables(tree: string): Promise<{ vars: string[]; libDirs: string[] }> {
  const names = ['SRCARCH', 'ARCH', 'BITS', 'ARCH_CORE', 'ARCH_LIB', 'ARCH_DRIVERS'];
  const recipe = names.map((n) => `echo '${n}=$(strip $(${n}))'`).join('; ');
  const r = await runMake(['-s', '--no-print-directory', '--eval', `kelp-top-vars: ; @${recipe}`, 'kelp-top-vars'], tree);
  if (r.code !== 0) throw new KelpError(`cannot read the top-level directories from the tree's Makefile: ${r.stderr.trim().split('\n').pop() ?? ''}`, join(tree, 'Makefile'));
  const vars: string[] = [];
  let libDirs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m || !names.includes(m[1])) continue;
    vars.push(`${m[1]}=${m[2]}`);
    if (m[1] === 'ARCH_LIB') libDirs = m[2].split(/\s+/).filter((d) => d !== '').map((d) => posix.normalize(d.replace(/\/$/, '')));
  }
  if (!vars.some((v) => v.startsWith('SRCARCH=') && v.length > 'SRCARCH='.length)) throw new KelpError('the top Makefile names no SRCARCH', join(tree, 'Makefile'));
  return { vars, libDirs };
}

/** The Makefiles a listing was computed from: each directory's Kbuild or Makefile, and the top ones. */
function makefilesOf(tree: string, dirs: string[]): string[] {
  const files = ['Makefile', 'Kbuild', 'arch/x86/Makefile', 'scripts/Kbuild.include'];
  for (const d of dirs) files.push(existsSync(join(tree, d, 'Kbuild')) ? `${d}/Kbuild` : `${d}/Makefile`);
  return files;
}

/** The cache file of a tree's listing: keyed by the tree, its configuration and the Makefiles' listing format. */
function cacheFile(cacheDir: string, tree: string, config: string): string {
  const h = createHash('sha256').update(`${FORMAT}\0${tree}\0`).update(config).digest('hex').slice(0, 32);
  return join(cacheDir, 'kernel', `objects-${h}.txt`);
}

/**
 * The configured objects of `tree` (a configured kernel tree with
 * include/config/auto.conf, as `make prepare` leaves it).
 */
export async function configuredObjects(tree: string, cacheDir: string | null): Promise<ConfiguredTree> {
  const autoConf = join(tree, 'include', 'config', 'auto.conf');
  if (!existsSync(autoConf)) throw new KelpError('no include/config/auto.conf: prepare the tree first (make prepare)', tree);
  const config = readFileSync(join(tree, '.config'));
  const file = cacheDir === null ? null : cacheFile(cacheDir, tree, Buffer.concat([config, readFileSync(autoConf)]).toString('latin1'));
  if (file !== null) {
    try {
      const text = await fs.readFile(file, 'latin1');
      const [first, rest] = [text.slice(0, text.indexOf('\n')), text.slice(text.indexOf('\n') + 1)];
      const listing = parseListing(rest);
      if (first === `# stamp ${await treeStamp(tree, makefilesOf(tree, listing.dirs))}`) return listing;
    } catch { /* not cached yet */ }
  }
  const top = await topVariables(tree);
  const mk = join(templatesDir(), 'kbuild-objects.mk');
  // The top-level Kbuild lists the directories (obj-y += kernel/ ...).
  const r = await runMake(['-s', '-r', '-R', '--no-print-directory', '-f', mk, 'KELP_DIRS=V:.', `KELP_LIBDIRS=${top.libDirs.join(' ')}`, ...top.vars, 'kelp-list'], tree);
  if (r.code !== 0) throw new KelpError(`evaluating the tree's Makefiles failed: ${r.stderr.trim().split('\n').filter((l) => /error|Error/.test(l)).slice(0, 2).join(' / ') || r.stderr.trim().split('\n').pop()}`, tree);
  const listing = parseListing(r.stdout);
  if (listing.objects.size === 0) throw new KelpError('the tree\'s Makefiles list no objects for this configuration', tree);
  if (file !== null) {
    await fs.mkdir(join(cacheDir!, 'kernel'), { recursive: true });
    await writeFileAtomic(file, `# stamp ${await treeStamp(tree, makefilesOf(tree, listing.dirs))}\n${r.stdout}`);
  }
  return listing;
}
