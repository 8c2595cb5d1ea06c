/**
 * The target's module tree: where the .ko files of the modules a patch
 * changes (and the modules they depend on) are found.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KelpError } from '../errors.js';
import { moduleNameOfFile } from '../kmod/names.js';
import { moduleStem } from '../util/decompress.js';
import { kdirRelease } from './kdir.js';

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

/**
 * Calls `visit` with the file name and path of every .ko under `dir` (depth
 * at most 12); `onError` decides what an unreadable directory means.
 */
function walkModules(dir: string, visit: (name: string, path: string) => void, onError: (dir: string, e: NodeJS.ErrnoException) => void, depth = 0): void {
  if (depth > 12) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    onError(dir, e as NodeJS.ErrnoException);
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkModules(p, visit, onError, depth + 1);
    else if (moduleStem(e.name) !== null) visit(e.name, p);
  }
}

/** File name → path of every .ko under a module tree (kernel/, updates/, extra/), walked once per tree. */
const moduleIndexes = new Map<string, Map<string, string>>();

function moduleIndex(modulesDir: string): Map<string, string> {
  const hit = moduleIndexes.get(modulesDir);
  if (hit) return hit;
  const index = new Map<string, string>();
  // extra/ and updates/ before kernel/: a module there overrides the distribution's.
  for (const sub of ['extra', 'updates', 'kernel']) {
    // Debian's 6.12 modules are compressed (.ko.xz): indexed by their .ko name.
    walkModules(join(modulesDir, sub), (name, path) => {
      const ko = `${moduleStem(name)}.ko`;
      if (!index.has(ko)) index.set(ko, path);
    }, () => { /* absent: none there */ });
  }
  moduleIndexes.set(modulesDir, index);
  return index;
}

/** Every .ko under `root`, by the kernel's module name (the first found wins); an unreadable directory is an error. */
export function modulesUnder(root: string): Map<string, string> {
  const out = new Map<string, string>();
  walkModules(root, (name, path) => {
    const mod = moduleNameOfFile(name);
    if (!out.has(mod)) out.set(mod, path);
  }, (dir, e) => {
    throw new KelpError(`cannot read the module tree: ${e.code ?? e.message}`, dir);
  });
  return out;
}

/** The module file of `name` (kernel spelling, `_`; the file may use `-`, and be compressed) under a module tree. */
export function findModuleFile(modulesDir: string, name: string): string | undefined {
  const index = moduleIndex(modulesDir);
  return index.get(`${name}.ko`) ?? index.get(`${name.replace(/_/g, '-')}.ko`);
}
