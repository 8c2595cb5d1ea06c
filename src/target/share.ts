/**
 * Releases of one upstream version share their source files. Debian's
 * 6.1.192-1, -2 and -3 (6.1.0-55, -56, -57) unpack the same upstream tree
 * with different Debian patches, so most of a newly unpacked tree is byte for
 * byte a tree already in the cache: those files become hard links to it, and
 * each release keeps only what differs (its own patched files, its own
 * objects and its own preparation).
 *
 * Safe because nothing writes a tree's source files in place: kbuild writes
 * only objects and generated files, paths no source tarball ships (an O=
 * build never writes into its source tree at all), and kelp's tree guard
 * replaces a file by renaming a new one over it, and restores it the same way
 * (a new inode: the other tree keeps the original). The base tree is locked
 * while it is compared (a kelp build may have a patched file in it).
 */
import { promises as fs, type Dirent } from 'node:fs';
import { basename, join } from 'node:path';
import { TreeGuard } from '../build/guard.js';

/** The upstream part of a Debian version: 6.1.192-3 → 6.1.192, 6.12.115-2~deb12u1 → 6.12.115. */
export function upstreamOf(version: string): string {
  const cut = version.lastIndexOf('-');
  return cut > 0 ? version.slice(0, cut) : version;
}

interface TargetLike { version?: unknown; source?: unknown }

/**
 * A prepared source tree in the cache of the same upstream version and
 * source package as `version`/`treeName` (e.g. linux-source-6.1), other than
 * `self` (a cache entry directory); undefined when there is none.
 */
export async function findBaseTree(distroDir: string, self: string, version: string, treeName: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await fs.readdir(distroDir)).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    const dir = join(distroDir, name);
    if (dir === self) continue;
    try {
      const info = JSON.parse(await fs.readFile(join(dir, 'target.json'), 'utf8')) as TargetLike;
      if (typeof info.version !== 'string' || typeof info.source !== 'string') continue;
      if (upstreamOf(info.version) !== upstreamOf(version) || basename(info.source) !== treeName) continue;
      await fs.access(join(dir, 'steps', 'source.done'));
      await fs.access(join(info.source, 'Makefile'));
      return info.source;
    } catch {
      // not a completed entry with source
    }
  }
  return undefined;
}

export interface ShareResult {
  base: string;
  /** Regular files of the tree looked at. */
  files: number;
  /** Of those, now hard links to the base tree's file at the same path. */
  linked: number;
  bytesLinked: number;
  seconds: number;
}

/** Files compared at once. */
const PARALLEL = 16;

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.readFile(a), fs.readFile(b)]);
  return x.equals(y);
}

/**
 * Replaces each regular file of `tree` that is byte-identical to the file at
 * the same path in `base` by a hard link to it (through a rename: never half
 * a file). Symbolic links, directories and files only one tree has are left.
 */
export async function linkIdenticalFiles(tree: string, base: string, cacheRoot: string, say: (l: string) => void = () => {}): Promise<ShareResult> {
  const started = process.hrtime.bigint();
  const result: ShareResult = { base, files: 0, linked: 0, bytesLinked: 0, seconds: 0 };
  const guard = await TreeGuard.acquire(cacheRoot, base, {
    onWait: (pid) => say(`waiting for the tree: another kelp build (pid ${pid}) is building in ${base}`),
  });
  try {
    const pending: string[] = [''];
    const files: string[] = [];
    while (pending.length > 0) {
      const rel = pending.pop()!;
      const entries: Dirent[] = await fs.readdir(join(tree, rel), { withFileTypes: true });
      for (const e of entries) {
        const p = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) pending.push(p);
        else if (e.isFile()) files.push(p);
      }
    }
    result.files = files.length;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= files.length) return;
        const rel = files[i]!;
        const mine = join(tree, rel);
        const theirs = join(base, rel);
        const [a, b] = await Promise.all([fs.lstat(mine), fs.lstat(theirs).catch(() => undefined)]);
        if (b === undefined || !b.isFile() || b.size !== a.size || b.ino === a.ino) continue;
        if (!(await sameBytes(mine, theirs))) continue;
        const tmp = join(tree, `${rel}.kelp-link.tmp`);
        await fs.rm(tmp, { force: true });
        await fs.link(theirs, tmp);
        await fs.rename(tmp, mine);
        result.linked++;
        result.bytesLinked += a.size;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  } finally {
    guard.restore();
  }
  result.seconds = Math.round(Number(process.hrtime.bigint() - started) / 1e7) / 100;
  return result;
}
