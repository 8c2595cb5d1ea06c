/**
 * Running `kelp diff` on many objects at once: a pool of worker threads
 * (diff-worker.js beside this file). Where the compiled worker is not there
 * (ts-jest runs the sources), the diffs run in this thread, one at a time.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ExitCode, KelpError } from '../errors.js';
import { runDiff, type DiffOptions, type DiffResult } from '../diff/run.js';

export interface DiffJob { opts: Omit<DiffOptions, 'log' | 'env'> }
export interface DiffOutcome extends DiffResult { log: string }

function workerFile(): string | null {
  const url = new URL('./diff-worker.js', import.meta.url);
  const path = fileURLToPath(url);
  return existsSync(path) ? path : null;
}

/** Runs every job with at most `parallel` workers; results in job order. Rejects with the first KelpError. */
export async function runDiffs(jobs: DiffJob[], parallel: number, onDone?: (i: number) => void, register?: (stop: () => Promise<void>) => void): Promise<DiffOutcome[]> {
  const file = workerFile();
  const results: DiffOutcome[] = new Array(jobs.length);
  if (file === null || jobs.length === 0) {
    for (let i = 0; i < jobs.length; i++) {
      let log = '';
      const r = runDiff({ ...jobs[i].opts, log: (t) => { log += t; } });
      results[i] = { ...r, log };
      onDone?.(i);
    }
    return results;
  }
  const n = Math.max(1, Math.min(parallel, jobs.length));
  const workers: Worker[] = [];
  register?.(async () => { await Promise.all(workers.map((w) => w.terminate())); });
  let next = 0;
  let failure: Error | null = null;
  const runOn = (w: Worker): Promise<void> => new Promise((res) => {
    const step = () => {
      if (failure !== null || next >= jobs.length) { res(); return; }
      const id = next++;
      const onMsg = (m: { id: number; ok: boolean; exitCode?: ExitCode; report?: DiffResult['report']; log: string; error?: { message: string; file?: string; exitCode?: number; kelp: boolean } }) => {
        if (m.id !== id) return;
        w.off('message', onMsg);
        w.off('error', onErr);
        w.off('exit', onExit);
        if (m.ok) {
          results[id] = { exitCode: m.exitCode!, report: m.report!, log: m.log };
          onDone?.(id);
        } else if (failure === null) {
          const e = m.error!;
          failure = e.kelp ? new KelpError(e.message, e.file, e.exitCode) : new Error(`kelp diff of ${jobs[id].opts.patched}: ${e.message}`);
        }
        step();
      };
      const onErr = (e: Error) => { if (failure === null) failure = e; res(); };
      const onExit = () => { if (failure === null) failure = new KelpError('the diff worker stopped', jobs[id].opts.patched, ExitCode.Interrupted); res(); };
      w.on('message', onMsg);
      w.once('error', onErr);
      w.once('exit', onExit);
      w.postMessage({ id, opts: jobs[id].opts });
    };
    step();
  });
  for (let i = 0; i < n; i++) workers.push(new Worker(file));
  try {
    await Promise.all(workers.map(runOn));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure !== null) throw failure;
  return results;
}
