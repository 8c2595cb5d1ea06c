/**
 * `kelp diff` speed and memory: N=20000 must take under 3 s (also with DWARF
 * debug sections), N=40000 at most 2.2 times N=20000, and peak memory (RSS) stay under 4 times the two
 * inputs' size (the two .o files). Each measurement runs the whole CLI in a
 * fresh process under GNU time (wall, user+sys CPU, peak RSS), three times:
 * times are medians, memory the worst run; the load average is printed
 * since the machine may be shared.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePair } from './gen-objects.js';

const KELP = join(process.cwd(), 'bin/kelp');
const RUNS = 3;

interface Run { seconds: number; cpu: number; peakMiB: number; exit: number | null; changed: number }
interface Measure { n: number; debug: boolean; inputMiB: number; runs: Run[]; seconds: number; cpu: number; peakMiB: number; ok: boolean }

/** One whole `kelp diff` process under GNU time: wall and CPU (user+sys) seconds, peak RSS. */
function once(orig: string, patched: string, out: string): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', 'node', KELP, 'diff', orig, patched, '-o', out], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = r.stderr.trim().split('\n');
  const [user, sys, peakKiB] = lines[lines.length - 1].split(' ').map(Number);
  const changed = lines.filter((l) => l.startsWith('changed function: ')).length;
  return { seconds, cpu: user + sys, peakMiB: peakKiB / 1024, exit: r.status, changed };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function measure(dir: string, n: number, debug = false): Measure {
  const changes = 5;
  const { orig, patched } = generatePair(dir, n, changes, debug);
  const inputBytes = statSync(orig).size + statSync(patched).size;
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(once(orig, patched, join(dir, `out-${n}.o`)));
  return {
    n,
    debug,
    inputMiB: inputBytes / 1048576,
    runs,
    seconds: median(runs.map((r) => r.seconds)),
    cpu: median(runs.map((r) => r.cpu)),
    // Memory: the worst run.
    peakMiB: Math.max(...runs.map((r) => r.peakMiB)),
    ok: runs.every((r) => r.exit === 0 && r.changed === changes),
  };
}

export function run(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'kelp-bench-diff-'));
  try {
    const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
    process.stdout.write(`load average before: ${load()} (${cpus().length} CPUs); medians of ${RUNS} runs, peak RSS the worst run\n`);
    const a = measure(dir, 20000);
    const b = measure(dir, 40000);
    // The same pair with DWARF (a kernel built with CONFIG_DEBUG_INFO): held to the N=20000 goals too.
    const g = measure(dir, 20000, true);
    let ok = true;
    for (const m of [a, b, g]) {
      const ratio = m.peakMiB / m.inputMiB;
      process.stdout.write(`kelp diff N=${m.n}${m.debug ? ' with -g' : ''}: ${m.seconds.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU, peak RSS ${m.peakMiB.toFixed(1)} MiB, inputs ${m.inputMiB.toFixed(1)} MiB (x${ratio.toFixed(2)}, limit 4)${m.ok ? '' : ', WRONG RESULT (exit or changed functions)'}\n`);
      if (!m.ok) ok = false;
      if (ratio >= 4) ok = false;
    }
    const growth = b.seconds / a.seconds;
    const cpuGrowth = b.cpu / a.cpu;
    process.stdout.write(`kelp diff growth N=40000/N=20000: x${growth.toFixed(2)} wall, x${cpuGrowth.toFixed(2)} CPU (limit 2.2, judged on CPU: wall is noisy on a shared machine); N=20000 limit 3 s wall\n`);
    process.stdout.write(`load average after: ${load()}\n`);
    if (a.seconds >= 3 || g.seconds >= 3 || cpuGrowth > 2.2) ok = false;
    process.stdout.write(`kelp diff bench: ${ok ? 'PASS' : 'FAIL'}\n`);
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && process.argv[1].endsWith('diff.bench.js')) {
  process.exitCode = run() ? 0 : 1;
}
