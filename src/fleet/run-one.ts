/**
 * One release of a fleet build, in its own `kelp build --release R --json`
 * process: the per-build global state (the toolchain choice, the signal
 * handlers, the tree lock) stays in that process, while downloads, prepared
 * trees and the object cache are shared through the cache directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { classify, errorLine, type Outcome } from './outcome.js';

/** The CLI script the children run (bin/kelp next to dist/). */
const KELP_BIN = fileURLToPath(new URL('../../../bin/kelp', import.meta.url));

/** Bytes of a release build's stderr kept for its error line. */
const STDERR_KEEP = 64 * 1024;

/** What one release's run is given. */
export interface ReleaseJob {
  release: string;
  patches: string[];
  /** The module's file name (NAME of NAME.ko), the same for every release. */
  name: string;
  /** The patches as the user named them (for the summary). */
  shown: string[];
  /** OUTDIR/RELEASE. */
  outdir: string;
  /** The other `kelp build` options, the same for every release. */
  args: string[];
}

/** What one release's run gave. */
export interface ReleaseResult {
  release: string;
  outcome: Outcome;
  /** The patches used (the --patch-for backport, or the fleet's). */
  patches: string[];
  exitCode: number | null;
  seconds: number;
  functions: number;
  /** NAME.ko and NAME.json, when built. */
  ko?: string;
  json?: string;
  /** The refusal, the hunk that does not apply, the failure. */
  reason?: string;
}

interface ChildReport { objects?: Array<{ changedFunctions?: unknown[] }>; verify?: unknown }

/** Runs one release's build to the end; never throws for a failed build. */
export function runRelease(job: ReleaseJob, onStart?: (child: ChildProcess) => void): Promise<ReleaseResult> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const argv = [KELP_BIN, 'build', ...job.patches, '--release', job.release, '-o', job.outdir, '--json', '-q', ...job.args];
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    onStart?.(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    // Only the end of stderr is kept (the error line is last), so a noisy build cannot grow memory.
    let errBytes = 0;
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      errBytes += d.length;
      while (errBytes > STDERR_KEEP && err.length > 1) errBytes -= err.shift()!.length;
    });
    const finish = (status: number | null, why?: string) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let report: ChildReport | undefined;
      if (status === 0) {
        try { report = JSON.parse(Buffer.concat(out).toString('utf8')) as ChildReport; } catch { report = undefined; }
      }
      const error = why ?? errorLine(Buffer.concat(err).toString('utf8'));
      const outcome = status === 0 && report === undefined ? 'failed' : classify(status, report?.verify !== undefined && report.verify !== null, error);
      const functions = (report?.objects ?? []).reduce((n, o) => n + (o.changedFunctions?.length ?? 0), 0);
      const r: ReleaseResult = { release: job.release, outcome, patches: job.shown, exitCode: status, seconds: Math.round(seconds * 10) / 10, functions };
      if (report !== undefined) {
        r.ko = `${job.release}/${job.name}.ko`;
        r.json = `${job.release}/${job.name}.json`;
      }
      if (outcome !== 'built' && outcome !== 'verified') r.reason = error ?? (status === 0 ? 'kelp build printed no report' : `kelp build exited with status ${status}`);
      resolve(r);
    };
    child.on('error', (e) => finish(null, `cannot run kelp build: ${e.message}`));
    child.on('close', (status, signal) => finish(status, signal !== null ? `stopped by ${signal}` : undefined));
  });
}
