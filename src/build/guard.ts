/**
 * Keeping a kernel tree unmodified while kelp builds patched objects in it.
 *
 * Before kelp writes any file of the tree (a patched source, or an object and
 * its .cmd file that kbuild rebuilds), the file's original bytes, mode and
 * mtime (or its absence) go into a journal under the cache, and the journal
 * is flushed before the write. `restore()` puts everything back; it runs on
 * every exit path (success, error, SIGINT/SIGTERM/SIGHUP through the
 * interrupt handler). A process killed outright leaves the journal behind;
 * the next `kelp build` on that tree finds it, sees the owner is gone, and
 * repairs the tree before doing anything else.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync,
  rmSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { KelpError } from '../errors.js';

interface JournalEntry {
  /** Path relative to the tree. */
  path: string;
  /** File under the journal's directory holding the original bytes; null when the file did not exist. */
  saved: string | null;
  mode: number;
  atimeMs: number;
  mtimeMs: number;
}

interface Journal {
  tree: string;
  pid: number;
  started: string;
  entries: JournalEntry[];
  /** Process groups (make) writing into the tree; a repair stops any still running. */
  groups?: number[];
  /** The run's private work directory, removed by a repair. */
  work?: string;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops the make process groups a killed kelp left running (they would go on
 * writing objects into the tree): only groups whose leader is still a make.
 */
function stopOrphans(groups: number[]): void {
  const alive = (g: number) => {
    try {
      process.kill(-g, 0);
      return true;
    } catch {
      return false;
    }
  };
  const ours = groups.filter((g) => {
    try {
      return /^make$/.test(readFileSync(`/proc/${g}/comm`, 'utf8').trim()) && alive(g);
    } catch {
      return false;
    }
  });
  for (const g of ours) {
    try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ }
  }
  const until = Date.now() + 5000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (ours.some(alive) && Date.now() < until) Atomics.wait(pause, 0, 0, 50);
}

/** Writes `data` to `file` through a flushed temporary sibling and a rename. */
function writeDurable(file: string, data: string | Buffer): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** The journal directory of a tree: one per tree path. */
export function guardDir(cacheRoot: string, tree: string): string {
  const key = createHash('sha256').update(resolve(tree)).digest('hex').slice(0, 16);
  return join(cacheRoot, 'build', 'trees', key);
}

export class TreeGuard {
  private journal: Journal;
  private readonly dir: string;
  private readonly journalFile: string;
  private readonly lockFile: string;
  private released = false;
  /** What repair() restored of an earlier, interrupted run (paths), for the report. */
  repaired: string[] = [];

  private constructor(readonly tree: string, dir: string) {
    this.dir = dir;
    this.journalFile = join(dir, 'journal.json');
    this.lockFile = join(dir, 'lock');
    this.journal = { tree, pid: process.pid, started: new Date().toISOString(), entries: [] };
  }

  /**
   * Takes the tree for this process: refuses when another live kelp holds it,
   * repairs what a dead one left behind.
   */
  static acquire(cacheRoot: string, tree: string): TreeGuard {
    const abs = resolve(tree);
    const dir = guardDir(cacheRoot, abs);
    mkdirSync(join(dir, 'files'), { recursive: true });
    const g = new TreeGuard(abs, dir);
    g.lock();
    g.repair();
    return g;
  }

  private lock(): void {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(this.lockFile, 'wx', 0o644);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        let owner = NaN;
        try {
          owner = Number(readFileSync(this.lockFile, 'utf8').trim());
        } catch { /* vanished meanwhile */ }
        if (owner !== process.pid && pidAlive(owner)) {
          throw new KelpError(`another kelp build (pid ${owner}) is building in this tree; wait for it to finish`, this.tree);
        }
        try { unlinkSync(this.lockFile); } catch { /* raced with another cleaner */ }
      }
    }
    throw new KelpError('cannot lock the tree for building', this.tree);
  }

  /** Restores a journal an earlier process left (it was killed before restoring). */
  private repair(): void {
    if (!existsSync(this.journalFile)) return;
    let old: Journal;
    try {
      old = JSON.parse(readFileSync(this.journalFile, 'utf8')) as Journal;
    } catch {
      // A journal is written atomically; an unreadable one is not ours to trust.
      throw new KelpError(`the build journal ${this.journalFile} is unreadable; check the tree by hand and remove it`, this.tree);
    }
    stopOrphans(old.groups ?? []);
    this.restoreEntries(old.entries);
    if (old.work !== undefined && /kelp-build-/.test(old.work)) rmSync(old.work, { recursive: true, force: true });
    this.repaired = old.entries.map((e) => e.path);
    rmSync(this.journalFile, { force: true });
    rmSync(join(this.dir, 'files'), { recursive: true, force: true });
    mkdirSync(join(this.dir, 'files'), { recursive: true });
  }

  /** Records the current state of each path (once per path) before it may change. */
  protect(paths: Iterable<string>): void {
    if (this.released) throw new Error('tree guard already released');
    const known = new Set(this.journal.entries.map((e) => e.path));
    let added = false;
    for (const rel of paths) {
      if (known.has(rel)) continue;
      known.add(rel);
      const abs = join(this.tree, rel);
      let entry: JournalEntry;
      if (existsSync(abs)) {
        const st = statSync(abs);
        if (!st.isFile()) throw new KelpError('not a regular file', abs);
        const saved = `${this.journal.entries.length}`;
        copyFileSync(abs, join(this.dir, 'files', saved));
        entry = { path: rel, saved, mode: st.mode & 0o7777, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs };
      } else {
        entry = { path: rel, saved: null, mode: 0, atimeMs: 0, mtimeMs: 0 };
      }
      this.journal.entries.push(entry);
      added = true;
    }
    if (added) writeDurable(this.journalFile, `${JSON.stringify(this.journal)}\n`);
  }

  /** Records the run's work directory (outside the tree), for a repair to remove. */
  noteWork(dir: string): void {
    this.journal.work = dir;
  }

  /** Records a process group that builds in the tree, so a repair can stop it should this process die first. */
  noteGroup(pgid: number): void {
    if (this.released) return;
    (this.journal.groups ??= []).push(pgid);
    writeDurable(this.journalFile, `${JSON.stringify(this.journal)}\n`);
  }

  /** Writes a protected file's new content (null deletes it). */
  write(rel: string, content: string | null): void {
    if (!this.journal.entries.some((e) => e.path === rel)) throw new Error(`${rel} is not protected`);
    const abs = join(this.tree, rel);
    if (content === null) {
      rmSync(abs, { force: true });
      return;
    }
    mkdirSync(dirname(abs), { recursive: true });
    const entry = this.journal.entries.find((e) => e.path === rel)!;
    const tmp = join(dirname(abs), `.${basename(abs)}.kelp-${process.pid}.tmp`);
    writeFileSync(tmp, content, { encoding: 'latin1', mode: entry.saved === null ? 0o644 : entry.mode });
    renameSync(tmp, abs);
  }

  private restoreEntries(entries: JournalEntry[]): void {
    // Later entries first does not matter (one entry per path); errors are collected so every file is tried.
    const failed: string[] = [];
    for (const e of entries) {
      const abs = join(this.tree, e.path);
      try {
        if (e.saved === null) {
          rmSync(abs, { force: true });
          continue;
        }
        const tmp = join(dirname(abs), `.${basename(abs)}.kelp-restore.tmp`);
        mkdirSync(dirname(abs), { recursive: true });
        copyFileSync(join(this.dir, 'files', e.saved), tmp);
        chmodSync(tmp, e.mode);
        utimesSync(tmp, e.atimeMs / 1000, e.mtimeMs / 1000);
        renameSync(tmp, abs);
      } catch (err) {
        failed.push(`${e.path} (${(err as Error).message})`);
      }
    }
    if (failed.length > 0) throw new KelpError(`could not restore ${failed.join(', ')}; the journal is kept in ${this.dir}`, this.tree);
  }

  /** Puts every protected file back as it was and releases the tree. Idempotent; synchronous (safe in signal handlers). */
  restore(): void {
    if (this.released) return;
    this.restoreEntries(this.journal.entries);
    this.released = true;
    rmSync(this.journalFile, { force: true });
    rmSync(join(this.dir, 'files'), { recursive: true, force: true });
    try { unlinkSync(this.lockFile); } catch { /* gone */ }
  }

  get active(): boolean {
    return !this.released;
  }
}
