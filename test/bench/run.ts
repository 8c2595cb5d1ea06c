/**
 * `npm run bench`: runs every compiled *.bench.js in this folder, one process
 * each, in name order (or those named on the command line), and fails when any
 * benchmark reports a missed goal (a non-zero exit).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_PACKAGES } from '../../src/target/packages.js';
import { ensureDebianPackages } from '../support/prereq.js';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
// GNU time (peak memory) and binutils; installed when root, a failure under CI when missing.
await ensureDebianPackages(BENCH_PACKAGES);
let failed = 0;
for (const b of benches) {
  process.stdout.write(`\n== ${b.replace(/\.bench\.js$/, '')}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, b)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`!! ${b}: goal missed or failed (exit ${r.status})\n`);
  }
}
process.stdout.write(`\n${benches.length - failed} benchmarks met their goals, ${failed} did not\n`);
process.exitCode = failed === 0 ? 0 : 1;
