/**
 * The target cache: where fetched kernels live, and the per-step completion
 * markers that make a second fetch return at once and an interrupted fetch
 * never look complete.
 */
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { exists, writeFileAtomic } from './atomic.js';

/** The cache root: --cache, else $KELP_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/kelp. */
export function cacheRoot(option?: string): string {
  if (option !== undefined && option !== '') return resolve(option);
  const env = process.env.KELP_CACHE;
  if (env !== undefined && env !== '') return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache');
  return resolve(base, 'kelp');
}

/** One fetched kernel's directory in the cache, with its step markers. */
export class CacheEntry {
  constructor(readonly dir: string) {}

  private marker(step: string): string {
    return join(this.dir, 'steps', `${step}.done`);
  }

  /** True when `step` completed (its marker was written after all its output). */
  async isDone(step: string): Promise<boolean> {
    return exists(this.marker(step));
  }

  /** Records that `step` completed; written last, atomically. */
  async markDone(step: string, detail: unknown = {}): Promise<void> {
    await fs.mkdir(join(this.dir, 'steps'), { recursive: true });
    await writeFileAtomic(this.marker(step), `${JSON.stringify({ step, at: new Date().toISOString(), detail })}\n`);
  }

  /** Forgets a step (its output is about to be rebuilt). */
  async clear(step: string): Promise<void> {
    await fs.rm(this.marker(step), { force: true });
  }

  /** Runs `fn` unless `step` is already done, then marks it done with the seconds it took. Returns whether it ran. */
  async step(step: string, fn: () => Promise<void>): Promise<boolean> {
    if (await this.isDone(step)) return false;
    const started = process.hrtime.bigint();
    await fn();
    await this.markDone(step, { seconds: Math.round(Number(process.hrtime.bigint() - started) / 1e7) / 100 });
    return true;
  }

  /** The seconds each completed step took (steps marked before their time was recorded are left out). */
  async stepSeconds(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    let names: string[];
    try {
      names = await fs.readdir(join(this.dir, 'steps'));
    } catch {
      return out;
    }
    for (const n of names.filter((f) => f.endsWith('.done')).sort()) {
      try {
        const m = JSON.parse(await fs.readFile(join(this.dir, 'steps', n), 'utf8')) as { detail?: { seconds?: unknown } };
        if (typeof m.detail?.seconds === 'number') out[n.slice(0, -'.done'.length)] = m.detail.seconds;
      } catch {
        // a marker being replaced: left out
      }
    }
    return out;
  }
}
