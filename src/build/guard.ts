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
  chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync,
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

export interface AcquireOptions {
  /** Called once per holder while waiting for the tree, with its pid. */
  onWait?: (pid: number) => void;
  /** Called between polls; throws to stop waiting. */
  check?: () => void;
  /** Gives up (KelpError) after this long; default: waits as long as the holder lives. */
  waitMs?: number;
  pollMs?: number;
}

/** The pid a lock file names; NaN when unreadable as one, undefined when the file is gone. */
function readOwner(file: string): number | undefined {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return /^[0-9]+$/.test(t) ? Number(t) : NaN;
  } catch {
    return undefined;
  }
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
 * Whether process `pid` started after `file` was last written: then it is not
 * the process that wrote it (the pid was reused after a crash).
 */
function startedAfter(pid: number, file: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // starttime, field 22 of proc(5)
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return false;
    const startMs = (btime + ticks / 100) * 1000;
    return startMs > statSync(file).mtimeMs + 2000; // btime has 1 s resolution
  } catch {
    return false;
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

/** Lock files this process holds: a lock naming our own pid is stale only when it is not one of them. */
const heldHere = new Set<string>();

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
   * Takes the tree for this process, waiting while another live kelp holds it
   * (`onWait(pid)` is called once per holder), and repairs what a dead one
   * left behind. `check()` runs between polls (it throws to stop waiting, on
   * Ctrl-C); `waitMs` bounds the wait (default: none).
   */
  static async acquire(cacheRoot: string, tree: string, opts: AcquireOptions = {}): Promise<TreeGuard> {
    const abs = resolve(tree);
    const dir = guardDir(cacheRoot, abs);
    mkdirSync(dir, { recursive: true });
    const g = new TreeGuard(abs, dir);
    const started = Date.now();
    let announced = NaN;
    for (;;) {
      const holder = g.tryLock();
      if (holder === null) break;
      if (opts.waitMs !== undefined && Date.now() - started >= opts.waitMs) {
        throw new KelpError(`another kelp build (pid ${holder}) is building in this tree; waited ${Math.round(opts.waitMs / 1000)} s`, abs);
      }
      if (holder !== announced) {
        announced = holder;
        opts.onWait?.(holder);
      }
      opts.check?.();
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
      opts.check?.();
    }
    try {
      // The backups' directory, made now that the tree is ours: a holder we
      // waited for removed it when it released the tree.
      mkdirSync(join(dir, 'files'), { recursive: true });
      g.repair();
    } catch (e) {
      try { unlinkSync(g.lockFile); } catch { /* gone */ }
      heldHere.delete(g.lockFile);
      throw e;
    }
    return g;
  }

  /**
   * One attempt at the lock: null when taken, else the live holder's pid. The
   * lock file is linked into place with its content already written (a reader
   * never sees it empty); a lock naming a dead pid is moved aside and removed
   * only if it still names that pid (two takers of one stale lock do not
   * remove each other's).
   */
  private tryLock(): number | null {
    const mine = `${this.lockFile}.${process.pid}`;
    writeFileSync(mine, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(mine, this.lockFile);
          heldHere.add(this.lockFile);
          return null;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const owner = readOwner(this.lockFile);
        if (owner === undefined) continue; // vanished meanwhile: try again
        if (owner === process.pid ? heldHere.has(this.lockFile) : pidAlive(owner) && !startedAfter(owner, this.lockFile)) return owner;
        // Stale: move it aside atomically, and drop it only if it is the one we judged.
        const aside = `${this.lockFile}.stale.${process.pid}`;
        try {
          renameSync(this.lockFile, aside);
        } catch {
          continue; // another taker moved it first
        }
        const moved = readOwner(aside);
        if (moved !== owner && moved !== undefined && pidAlive(moved)) {
          // A live taker's lock was caught in between: put it back if the place is still free.
          try { linkSync(aside, this.lockFile); } catch { /* someone else holds it now */ }
        }
        rmSync(aside, { force: true });
      }
      throw new KelpError('cannot lock the tree for building', this.tree);
    } finally {
      rmSync(mine, { force: true });
    }
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
        try {
          copyFileSync(abs, join(this.dir, 'files', saved));
        } catch (e) {
          throw new KelpError(`cannot save its original in the build journal ${join(this.dir, 'files')}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, abs);
        }
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
    heldHere.delete(this.lockFile);
  }

  get active(): boolean {
    return !this.released;
  }
}
