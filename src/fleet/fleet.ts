/**
 * `kelp build PATCH... --release R1 --release R2 …` (or --releases FILE, or
 * --all): the same fix built for every release of a fleet, each in its own
 * child `kelp build` (run-one.ts), at most `parallel` at a time. One release
 * failing never stops the others. Writes OUTDIR/R/NAME.{ko,json} per release
 * and the summary OUTDIR/fleet.json (atomically, releases in the order given).
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { KelpError, signalExitCode } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { FleetSignals } from './signals.js';
import { exitCodeOf, OUTCOME_LABEL, worstOutcome, type Outcome } from './outcome.js';
import { runRelease, type ReleaseResult } from './run-one.js';
import { formatTable } from './table.js';

export interface FleetOptions {
  patches: string[];
  releases: string[];
  /** Release → its own backport (replaces `patches` for it). */
  patchFor: Map<string, string>;
  outdir: string;
  /** The module name, the same for every release. */
  name: string;
  /** Releases built at once. */
  parallel: number;
  /** The other `kelp build` options passed to every release. */
  args: string[];
  say: (line: string) => void;
}

/** The summary written to OUTDIR/fleet.json and printed by --json. */
export interface FleetSummary {
  moduleName: string;
  patches: string[];
  worst: Outcome;
  exitCode: number;
  releases: ReleaseResult[];
}

/** Runs every release's build; returns the summary (never throws for a failed release). */
export async function runFleet(o: FleetOptions): Promise<{ summary: FleetSummary; table: string; path: string }> {
  const outdir = resolve(o.outdir);
  const results: ReleaseResult[] = [];
  const signals = new FleetSignals(o.say);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= o.releases.length) return;
      const release = o.releases[i]!;
      if (signals.stopped(release)) return;
      const dir = join(outdir, release);
      mkdirSync(dir, { recursive: true });
      const own = o.patchFor.get(release);
      o.say(`${release}: building${own !== undefined ? ` with its own patch ${own}` : ''}`);
      const shown = own !== undefined ? [own] : o.patches;
      const r = await runRelease({ release, patches: shown.map((p) => resolve(p)), shown, name: o.name, outdir: dir, args: o.args }, (c) => signals.track(c));
      if (r.ko === undefined) rmEmptyDir(dir);
      o.say(`${release}: ${OUTCOME_LABEL[r.outcome]}${r.reason !== undefined ? `: ${r.reason}` : ''} (${r.seconds.toFixed(1)} s)`);
      results[i] = r;
    }
  };
  const n = Math.max(1, Math.min(o.parallel, o.releases.length));
  signals.install();
  try {
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    signals.uninstall();
  }
  if (signals.signal !== null) throw new KelpError(`${signals.signal}: fleet build stopped; no fleet.json written`, undefined, signalExitCode(signals.signal));
  const worst = worstOutcome(results.map((r) => r.outcome));
  const summary: FleetSummary = { moduleName: o.name, patches: o.patches, worst, exitCode: exitCodeOf(worst), releases: results };
  const path = join(outdir, 'fleet.json');
  await writeFileAtomic(path, `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, table: formatTable(results), path };
}

/** make jobs for each release when `parallel` releases build at once on this machine. */
export function jobsPerRelease(parallel: number): number {
  return Math.max(1, Math.floor(availableParallelism() / parallel));
}

/** Removes a release's output directory when the build left nothing in it. */
function rmEmptyDir(dir: string): void {
  try { rmdirSync(dir); } catch { /* not empty (--keep-tmp, an earlier run's files): keep it */ }
}
