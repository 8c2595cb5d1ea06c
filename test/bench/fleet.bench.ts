/**
 * Fleet builds of the vmlinux example (examples/vmlinux/cmdline.patch) for
 * three releases: two bookworm ABIs and one trixie (its own gcc 14 root).
 *
 * Warm (trees prepared, objects cached): the fleet build of the three, two at
 * a time, against one release alone (6.1.0-57). Goal: under 2x.
 *
 * Cold (KELP_BENCH_COLD=1, or =only without the warm part; an empty cache of its own, removed afterwards,
 * with --verify): the same fleet build from nothing, reported per phase:
 * download, prepare (unpack, System.map, source preparation and the build
 * root), build, link, verify, summed over the releases (the releases overlap
 * in time). Goal: downloads and preparation take most of it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheEntry } from '../../src/target/cache.js';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';
import { goal, median, timeProcess } from './measure.js';

const BOOKWORM = ['6.1.0-57-amd64', '6.1.0-50-amd64'];
const TRIXIE = process.env.KELP_TEST_TRIXIE_RELEASE || '6.12.118+deb13-amd64';
const RELEASES = [...BOOKWORM, TRIXIE];
const PATCH = join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch');
const out = mkdtempSync(join(tmpdir(), 'kelp-bench-fleet-'));

function build(dir: string, releases: string[], extra: string[] = [], env: NodeJS.ProcessEnv = process.env, mayFail = false): number {
  rmSync(dir, { recursive: true, force: true });
  const args = [KELP_BIN, 'build', PATCH, ...releases.flatMap((r) => ['--release', r]), '-o', dir, '-q', ...extra];
  const r = timeProcess(process.execPath, args, env);
  if (r.status !== 0 && !mayFail) throw new Error(`kelp build ${releases.join(' ')} failed (exit ${r.status})`);
  return r.seconds;
}

let ok = true;
try {
  process.stdout.write(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  if (process.env.KELP_BENCH_COLD !== 'only') {
    // Fills the caches (a first fetch of a release, the object cache).
    build(join(out, 'fill'), RELEASES, ['-j', '2']);
    const one = median([0, 1, 2].map(() => build(join(out, 'one'), [BOOKWORM[0]!])));
    const three = median([0, 1, 2].map(() => build(join(out, 'three'), RELEASES, ['-j', '2'])));
    process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    ok = goal(`warm fleet build of ${RELEASES.length} releases (-j 2) under 2x one release (${BOOKWORM[0]})`, three < 2 * one,
      `${three.toFixed(1)} s against ${one.toFixed(1)} s (${(three / one).toFixed(2)}x)`) && ok;
  }

  if (process.env.KELP_BENCH_COLD === '1' || process.env.KELP_BENCH_COLD === 'only') {
    const cache = mkdtempSync(join(tmpdir(), 'kelp-bench-cold-cache-'));
    try {
      const dir = join(out, 'cold');
      // A release that fails is reported (its phases so far still count), not the end of the measurement.
      const total = build(dir, RELEASES, ['-j', '3', '--verify', '--check', 'cat /proc/cmdline', '--expect', 'kelp_example=patched'], { ...process.env, KELP_CACHE: cache }, true);
      const fleet = JSON.parse(readFileSync(join(dir, 'fleet.json'), 'utf8')) as { releases: Array<{ release: string; outcome: string; reason?: string }> };
      for (const r of fleet.releases) {
        ok = goal(`cold ${r.release}`, r.outcome === 'verified', `${r.outcome}${r.reason !== undefined ? `: ${r.reason}` : ''}`) && ok;
      }
      const phases: Record<string, number> = { download: 0, prepare: 0, build: 0, link: 0, verify: 0 };
      for (const entry of readdirSync(join(cache, 'debian')).filter((n) => RELEASES.some((r) => n.startsWith(`${r}_`)))) {
        for (const [step, s] of Object.entries(await new CacheEntry(join(cache, 'debian', entry)).stepSeconds())) {
          phases[step.startsWith('download-') ? 'download' : 'prepare']! += s;
        }
      }
      for (const r of fleet.releases.filter((x) => x.outcome === 'verified').map((x) => x.release)) {
        const report = JSON.parse(readFileSync(join(dir, r, 'livepatch-cmdline.json'), 'utf8')) as { timings: Record<string, number> };
        for (const [phase, s] of Object.entries(report.timings)) {
          const p = phase === 'link' || phase === 'verify' ? phase : 'build';
          phases[p]! += s;
        }
      }
      const sum = Object.values(phases).reduce((a, b) => a + b, 0);
      process.stdout.write(`cold fleet build of ${RELEASES.length} releases (-j 3, --verify): ${total.toFixed(0)} s wall; per phase, summed over the releases:\n`);
      for (const [p, s] of Object.entries(phases)) process.stdout.write(`  ${p.padEnd(9)} ${s.toFixed(1).padStart(7)} s  ${((100 * s) / sum).toFixed(0).padStart(3)}%\n`);
      const du = spawnSync('du', ['-sh', cache], { encoding: 'utf8' }).stdout.trim();
      process.stdout.write(`  cache filled: ${du}\n`);
      ok = goal('cold fleet build dominated by downloads and preparation', phases.download! + phases.prepare! > sum / 2,
        `${(phases.download! + phases.prepare!).toFixed(0)} s of ${sum.toFixed(0)} s`) && ok;
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  } else {
    process.stdout.write('cold fleet build: not run (KELP_BENCH_COLD=1 runs it: downloads three kernels and a trixie build root into an empty cache)\n');
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
