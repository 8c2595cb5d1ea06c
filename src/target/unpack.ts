/**
 * Unpacking .deb packages into the cache without root (`dpkg-deb -x`) and making
 * the unpacked tree self-contained: absolute symlinks and the headers' absolute
 * Makefile include are rewritten to point inside the tree.
 */
import { promises as fs } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import { TargetError } from './errors.js';
import { requireTool } from './tools.js';

/** Extracts a .deb's files into `dest` (created if needed). */
export async function extractDeb(deb: string, dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: true });
  const r = await execa(requireTool('dpkg-deb'), ['-x', deb, dest], { reject: false, stdin: 'ignore', maxBuffer: 4 << 20 });
  if (r.exitCode !== 0) {
    throw new TargetError(`dpkg-deb -x failed: ${r.stderr.trim().split('\n').pop() ?? r.exitCode}`, deb);
  }
}

async function* walk(dir: string): AsyncGenerator<{ path: string; isLink: boolean; isDir: boolean }> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isSymbolicLink()) yield { path, isLink: true, isDir: false };
    else if (e.isDirectory()) {
      yield { path, isLink: false, isDir: true };
      yield* walk(path);
    } else yield { path, isLink: false, isDir: false };
  }
}

/**
 * Rewrites every absolute symlink under `root` (a link to /usr/src/X means
 * `root`/usr/src/X) as a relative one, so nothing resolves outside the tree.
 * Returns the links rewritten, as [link, new target].
 */
export async function relativizeSymlinks(root: string): Promise<Array<[string, string]>> {
  const changed: Array<[string, string]> = [];
  for await (const e of walk(root)) {
    if (!e.isLink) continue;
    const target = await fs.readlink(e.path);
    if (!target.startsWith('/')) continue;
    const inside = join(root, target);
    let rel = relative(dirname(e.path), inside);
    if (rel === '') rel = '.';
    await fs.unlink(e.path);
    await fs.symlink(rel, e.path);
    changed.push([e.path, rel]);
  }
  return changed;
}

/**
 * Debian's per-flavour headers Makefile is one line, `include /usr/src/<common>/Makefile`.
 * Rewrite it to find the common tree next to itself, wherever the cache lives.
 */
export async function relocateHeadersMakefile(kdir: string): Promise<void> {
  const makefile = join(kdir, 'Makefile');
  const text = await fs.readFile(makefile, 'utf8');
  const out = text.replace(/^include\s+\/usr\/src\/([^/\s]+)\/Makefile\s*$/m, (_all, common: string) => {
    return `include $(dir $(lastword $(MAKEFILE_LIST)))../${common}/Makefile`;
  });
  if (/^include\s+\//m.test(out)) throw new TargetError('includes an absolute path kelp cannot relocate', makefile);
  if (out !== text) await fs.writeFile(makefile, out);
}

/** Fails when a link under `root` still points at an absolute path. */
export async function assertSelfContained(root: string): Promise<void> {
  for await (const e of walk(root)) {
    if (e.isLink && (await fs.readlink(e.path)).startsWith('/')) {
      throw new TargetError('still links outside the cache', e.path);
    }
  }
}
