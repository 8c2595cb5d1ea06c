/** A worker thread running `kelp diff` on one object at a time for `kelp build` (see diff-pool.ts). */
import { parentPort } from 'node:worker_threads';
import { asKelpError } from '../errors.js';
import { runDiff, type DiffOptions } from '../diff/run.js';

parentPort!.on('message', (msg: { id: number; opts: DiffOptions }) => {
  let log = '';
  try {
    const r = runDiff({ ...msg.opts, log: (t) => { log += t; } });
    parentPort!.postMessage({ id: msg.id, ok: true, exitCode: r.exitCode, report: r.report, log });
  } catch (e) {
    const k = asKelpError(e);
    const err = k !== undefined ? { message: k.message, file: k.file, exitCode: k.exitCode, kelp: true } : { message: (e as Error).message ?? String(e), kelp: false };
    parentPort!.postMessage({ id: msg.id, ok: false, error: err, log });
  }
});
