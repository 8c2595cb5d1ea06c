/**
 * The target's module tree: where the .ko files of the modules a patch
 * changes (and the modules they depend on) are found.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kdirRelease } from '../link/index.js';
import { moduleStem } from '../util/decompress.js';

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
      else {
        // Debian's 6.12 modules are compressed (.ko.xz): indexed by their .ko name.
        const stem = moduleStem(e.name);
        if (stem !== null && !index.has(`${stem}.ko`)) index.set(`${stem}.ko`, join(dir, e.name));
      }
    }
  }
  moduleIndexes.set(modulesDir, index);
  return index;
}

/** The module file of `name` (kernel spelling, `_`; the file may use `-`, and be compressed) under a module tree. */
export function findModuleFile(modulesDir: string, name: string): string | undefined {
  const index = moduleIndex(modulesDir);
  return index.get(`${name}.ko`) ?? index.get(`${name.replace(/_/g, '-')}.ko`);
}
