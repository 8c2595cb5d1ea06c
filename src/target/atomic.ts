/**
 * File helpers for the cache: atomic writes (from util/atomic), tree removal, and a
 * small directory lock so two fetches into one cache do not interleave.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { TargetError } from './errors.js';

export { tempSibling, writeFileAtomic } from '../util/atomic.js';

/** Removes a directory tree if it exists. */
export async function removeTree(path: string): Promise<void> {
  await fs.rm(path, { recursive: true, force: true });
}

/** True when something exists at `path` (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding the lock directory `lockDir`. A lock left by a process
 * that no longer exists is taken over; a live holder is waited for up to `waitMs`.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, waitMs = 30 * 60_000): Promise<T> {
  const started = Date.now();
  const owner = join(lockDir, 'owner');
  for (;;) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(owner, `${process.pid}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number.parseInt(await fs.readFile(owner, 'utf8'), 10);
      } catch {
        // the holder may be between mkdir and writing its pid
      }
      const stale = Number.isFinite(holder) ? !processAlive(holder) : await olderThan(lockDir, 10_000);
      if (stale) {
        await fs.rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > waitMs) {
        throw new TargetError(`locked by process ${Number.isFinite(holder) ? holder : '?'} for too long`, lockDir);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    const st = await fs.stat(path);
    return Date.now() - st.mtimeMs > ms;
  } catch {
    return false;
  }
}
