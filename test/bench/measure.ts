/** Timing helpers for the benchmarks: medians of whole-process runs with peak RSS. */
import { spawnSync } from 'node:child_process';

export interface ProcessRun { seconds: number; maxRssKiB: number; status: number }

/** Runs a command under /usr/bin/time -f and returns wall time and peak RSS. */
export function timeProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ProcessRun {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'latin1', maxBuffer: 1 << 30, stdio: ['ignore', 'ignore', 'pipe'], env });
  const last = (r.stderr ?? '').trim().split('\n').pop() ?? '';
  const [secs, rss] = last.split(' ').map(Number);
  return { seconds: secs, maxRssKiB: rss, status: r.status ?? -1 };
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Times `fn` `n` times in process; returns the median in seconds. */
export function timeInProcess(fn: () => void, n: number): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - a) / 1e9);
  }
  return median(t);
}

/** Prints a goal line and returns whether it was met. */
export function goal(label: string, ok: boolean, detail: string): boolean {
  process.stdout.write(`${ok ? 'ok  ' : 'MISS'} ${label}: ${detail}\n`);
  return ok;
}
