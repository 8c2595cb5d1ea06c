/**
 * Debian 13's 6.12 kernel (the newest trixie release with source):
 *  - a cold `kelp target fetch --release R --source` into an empty cache
 *    ($KELP_CACHE of its own: kelp's package lists, the downloads, the trixie
 *    gcc-14 build root made with mmdebstrap, the source prepared in it):
 *    goal under 4 minutes;
 *  - `kelp build --release R` of the vmlinux example (examples/vmlinux/
 *    cmdline.patch) in the shared cache, compiled in the trixie root: goal
 *    under 60 s with the originals built (--no-cache) and under 20 s with
 *    them cached (medians of 3).
 * $KELP_BENCH_SKIP_COLD_FETCH=1 leaves out the cold fetch (it downloads some 300 MB).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fetchTarget } from '../../src/target/fetch.js';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';
import { trixieRelease } from '../support/target.js';
import { goal, median, timeProcess } from './measure.js';

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const release = await trixieRelease();
let ok = true;

if (process.env.KELP_BENCH_SKIP_COLD_FETCH !== '1') {
  const cache = mkdtempSync(join(tmpdir(), 'kelp-bench-cold-'));
  try {
    process.stdout.write(`cold fetch of ${release} into ${cache}; load average before: ${load()}\n`);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [KELP_BIN, 'target', 'fetch', '--release', release, '--source', '--json'], {
      env: { ...process.env, KELP_CACHE: cache }, encoding: 'utf8', maxBuffer: 64 << 20,
    });
    const seconds = (Date.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`kelp target fetch failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-20).join('\n')}`);
    for (const l of (r.stderr ?? '').trim().split('\n')) process.stdout.write(`  ${l}\n`);
    process.stdout.write(`load average after: ${load()}\n`);
    ok = goal('cold kelp target fetch --release <trixie> --source, build root included, under 240 s', seconds < 240, `${seconds.toFixed(1)} s`) && ok;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

const target = await fetchTarget({ release, source: true, progress: (l) => process.stdout.write(`fetch: ${l}\n`) });
const out = mkdtempSync(join(tmpdir(), 'kelp-bench-build612-'));
try {
  const ko = join(out, 'livepatch-cmdline.ko');
  const run = (extra: string[]) => {
    rmSync(ko, { force: true });
    const r = timeProcess(process.execPath, [KELP_BIN, 'build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'), '--release', target.release, '-o', out, '-q', ...extra]);
    if (r.status !== 0 || !existsSync(ko)) throw new Error(`kelp build --release ${target.release} failed (exit ${r.status})`);
    return r.seconds;
  };
  process.stdout.write(`load average before: ${load()} (${target.release}, ${target.compiler})\n`);
  const cold = median([run(['--no-cache']), run(['--no-cache']), run(['--no-cache'])]);
  run([]); // fills the cache
  const warm = median([run([]), run([]), run([])]);
  process.stdout.write(`load average after: ${load()}\n`);
  ok = goal('kelp build --release <trixie> (gcc-14 root), originals not cached, start to .ko under 60 s', cold < 60, `${cold.toFixed(1)} s`) && ok;
  ok = goal('kelp build --release <trixie> (gcc-14 root), originals cached, start to .ko under 20 s', warm < 20, `${warm.toFixed(1)} s`) && ok;
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
