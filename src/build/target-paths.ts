/**
 * Where `kelp build` finds the target's pieces when the user names no paths:
 * `--release R` fetches (or finds in the cache) that Debian kernel and takes
 * its prepared source tree, kdir, System.map and image; a `--sourcedir` that
 * kelp prepared knows its own target (the fetch's target.json beside it).
 * Paths given explicitly always win.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KelpError } from '../errors.js';
import { registeredTarget } from '../target/custom.js';
import type { TargetInfo } from '../target/fetch.js';

export interface TargetPathOptions {
  release?: string;
  sourcedir?: string;
  ootModule?: string;
  kdir?: string;
  symbols?: string;
  kernel?: string;
  cache?: string;
}

/**
 * The fetched target a kelp-prepared source tree belongs to: the fetch keeps
 * the tree at <entry>/source/<tree> and describes it in <entry>/target.json.
 */
export function targetOfPreparedTree(sourcedir: string): TargetInfo | undefined {
  const tree = resolve(sourcedir);
  const file = join(dirname(dirname(tree)), 'target.json');
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as TargetInfo;
    return info.source !== undefined && resolve(info.source) === tree ? info : undefined;
  } catch {
    return undefined;
  }
}

/** The fetched target whose headers tree is `kdir` (<entry>/root/usr/src/linux-headers-R). */
export function targetOfKdir(kdir: string): TargetInfo | undefined {
  const dir = resolve(kdir);
  const file = join(dir, '..', '..', '..', '..', 'target.json');
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as TargetInfo;
    return resolve(info.kdir) === dir ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Fills the paths `o` leaves out from its target; returns the options and the target, if any. */
export async function withTargetPaths<T extends TargetPathOptions>(o: T, say: (l: string) => void): Promise<{ opts: T; target?: TargetInfo }> {
  let target: TargetInfo | undefined;
  if (o.release !== undefined) {
    // A kernel registered with `kelp target add` under this name, else a Debian release.
    target = registeredTarget(o.release, o.cache);
    if (target === undefined) {
      const { fetchTarget } = await import('../target/fetch.js');
      // In-tree patches need the prepared source; a module patch only the headers.
      target = await fetchTarget({ release: o.release, source: o.ootModule === undefined && o.sourcedir === undefined, cache: o.cache, progress: say });
    } else if (o.ootModule === undefined && o.sourcedir === undefined && target.source !== target.kdir) {
      throw new KelpError(`kelp build compiles a patch's objects in the kernel's own tree, but ${o.release} was built in ${target.kdir}, apart from its source (make O=); register a kernel built in its source tree, or pass --sourcedir with one (a module patch, --oot-module, works with either)`, target.source!);
    }
  } else if (o.sourcedir !== undefined) {
    target = targetOfPreparedTree(o.sourcedir);
  }
  // A kdir of a fetched target tells its release (and so its compiler), but fills in nothing.
  if (target === undefined) return { opts: o, target: o.kdir !== undefined ? targetOfKdir(o.kdir) : undefined };
  const opts = { ...o };
  if (opts.ootModule === undefined) opts.sourcedir ??= target.source;
  opts.kdir ??= target.kdir;
  opts.symbols ??= target.systemMap;
  opts.kernel ??= target.kernel;
  return { opts, target };
}
