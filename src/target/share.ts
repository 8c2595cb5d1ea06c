/**
 * Releases of one upstream version share their source files. Debian's
 * 6.1.192-1, -2 and -3 (6.1.0-55, -56, -57) unpack the same upstream tree
 * with different Debian patches, so most of a new release's tree is byte for
 * byte a tree already in the cache: unpacking it writes only the files that
 * differ and hard-links the others to that tree, so each release keeps only
 * its own files, its own objects and its own preparation.
 *
 * Safe because nothing writes a tree's source files in place: kbuild writes
 * only objects and generated files, paths no source tarball ships (an O=
 * build never writes into its source tree at all), and kelp's tree guard
 * replaces a file by renaming a new one over it, and restores it the same way
 * (a new inode: the other tree keeps the original). The base tree is locked
 * while it is compared (a kelp build may have a patched file in it).
 */
import { spawn } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, promises as fs, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TreeGuard } from '../build/guard.js';
import { TargetError } from './errors.js';
import { readTar } from './tar-stream.js';
import { requireTools } from './tools.js';

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
  /** Regular files of the archive. */
  files: number;
  /** Of those, hard links to the base tree's file at the same path (same bytes and mode). */
  linked: number;
  bytesLinked: number;
  /** Bytes written: the files that are this release's own. */
  bytesWritten: number;
  seconds: number;
}

/** Whether `file` is a regular file with exactly `data` and `mode`. */
function sameAsBase(file: string, data: Buffer, mode: number): boolean {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return false;
  }
  return st.isFile() && st.size === data.length && (st.mode & 0o7777) === mode && readFileSync(file).equals(data);
}

/**
 * Unpacks the .tar.xz `tarball` (a linux-source package's) into `dest` in one
 * pass, writing only the files that differ from `base` (the prepared tree of
 * another revision of the same upstream version): a regular file whose bytes
 * and mode equal the base's file at the same path (below the archive's top
 * directory) is a hard link to it. Returns the unpacked top directory.
 */
export async function unpackSharing(tarball: string, dest: string, base: string, cacheRoot: string, say: (l: string) => void = () => {}): Promise<{ tree: string; share: ShareResult }> {
  const started = process.hrtime.bigint();
  const share: ShareResult = { base, files: 0, linked: 0, bytesLinked: 0, bytesWritten: 0, seconds: 0 };
  const guard = await TreeGuard.acquire(cacheRoot, base, {
    onWait: (pid) => say(`waiting for the tree: another kelp build (pid ${pid}) is building in ${base}`),
  });
  const xz = spawn(requireTools(['xz'])['xz']!, ['-dc', tarball], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Read from now on (the first read is started here): a child's stdout that nobody reads when the child exits
  // is drained and lost (child_process flushStdio).
  const reader = xz.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: Promise<IteratorResult<Buffer>> | undefined = reader.next();
  first.catch(() => { /* seen by whoever awaits it; none when an earlier step failed */ });
  const output: AsyncIterator<Buffer> = {
    next: () => {
      const r = first ?? reader.next();
      first = undefined;
      return r;
    },
  };
  let stderr = '';
  xz.stderr.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
  const exited = new Promise<number | null>((res) => xz.on('close', (code) => res(code)));
  try {
    await fs.mkdir(dest, { recursive: true });
    const made = new Set<string>([dest]);
    const symlinks = new Set<string>();
    const dirModes: Array<[string, number]> = [];
    const parentOf = (abs: string) => {
      const d = dirname(abs);
      if (!made.has(d)) {
        mkdirSync(d, { recursive: true });
        made.add(d);
      }
    };
    let top: string | undefined;
    for await (const m of readTar({ [Symbol.asyncIterator]: () => output }, tarball)) {
      const parts = m.path.split('/');
      if (symlinks.has(m.path)) throw new TargetError(`member ${m.path} comes again after a symbolic link of that name`, tarball);
      for (let i = 1; i < parts.length; i++) {
        const up = parts.slice(0, i).join('/');
        if (symlinks.has(up)) throw new TargetError(`member ${m.path} lies under the symbolic link ${up}`, tarball);
      }
      top ??= parts[0];
      const abs = join(dest, m.path);
      if (m.kind === 'dir') {
        mkdirSync(abs, { recursive: true });
        made.add(abs);
        dirModes.push([abs, m.mode]);
      } else if (m.kind === 'symlink') {
        symlinks.add(m.path);
        parentOf(abs);
        symlinkSync(m.linkname, abs);
      } else if (m.kind === 'hardlink') {
        const target = join(dest, m.linkname.replace(/^\.\//, ''));
        if (m.linkname.startsWith('/') || m.linkname.split('/').includes('..')) throw new TargetError(`member ${m.path} links outside the archive`, tarball);
        parentOf(abs);
        linkSync(target, abs);
      } else if (m.kind === 'file') {
        share.files++;
        parentOf(abs);
        // Synchronous: one file at a time, in the main thread, is faster here than tens of thousands of small
        // requests through libuv's four-thread pool (xz waits on the pipe meanwhile).
        if (parts.length > 1 && sameAsBase(join(base, ...parts.slice(1)), m.data, m.mode)) {
          linkSync(join(base, ...parts.slice(1)), abs);
          share.linked++;
          share.bytesLinked += m.data.length;
        } else {
          writeFileSync(abs, m.data, { mode: m.mode });
          chmodSync(abs, m.mode);
          utimesSync(abs, m.mtime, m.mtime);
          share.bytesWritten += m.data.length;
        }
      }
    }
    // The archive's end marker is followed by padding up to tar's record size: read to the end, so xz can close.
    while ((await output.next()).done !== true) { /* padding */ }
    const code = await exited;
    if (code !== 0) throw new TargetError(`xz failed: ${stderr.trim().split('\n').pop() ?? code}`, tarball);
    for (const [d, mode] of dirModes.reverse()) await fs.chmod(d, mode);
    if (top === undefined) throw new TargetError('is an empty archive', tarball);
    share.seconds = Math.round(Number(process.hrtime.bigint() - started) / 1e7) / 100;
    return { tree: join(dest, top), share };
  } finally {
    if (xz.exitCode === null) xz.kill('SIGKILL');
    guard.restore();
  }
}
