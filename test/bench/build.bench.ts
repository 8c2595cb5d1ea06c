/**
 * kelp build on the vmlinux example (examples/vmlinux/cmdline.patch) against
 * the prepared Debian source, from the start of the command to a written .ko:
 * goal under 60 s with the original objects built (cold, --no-cache) and
 * under 20 s with them cached. Prints both (median of 3) and the load average.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchTarget } from '../../src/target/fetch.js';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';
import { goal, median, timeProcess } from './measure.js';

const target = await fetchTarget({ source: true, progress: (l) => process.stdout.write(`fetch: ${l}\n`) });
const out = mkdtempSync(join(tmpdir(), 'kelp-bench-build-'));
try {
  const args = (extra: string[]) => [
    KELP_BIN, 'build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'), '--sourcedir', target.source!, '--kdir', target.kdir,
    '--symbols', target.systemMap, '-o', out, '-q', ...extra,
  ];
  const ko = join(out, 'livepatch-cmdline.ko');
  const run = (extra: string[]) => {
    rmSync(ko, { force: true });
    const r = timeProcess(process.execPath, args(extra));
    if (r.status !== 0 || !existsSync(ko)) throw new Error(`kelp build failed (exit ${r.status})`);
    return r.seconds;
  };
  process.stdout.write(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${target.release})\n`);
  const cold = median([run(['--no-cache']), run(['--no-cache']), run(['--no-cache'])]);
  run([]); // fills the cache
  const warm = median([run([]), run([]), run([])]);
  process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const ok1 = goal('kelp build, originals not cached, start to .ko under 60 s', cold < 60, `${cold.toFixed(1)} s`);
  const ok2 = goal('kelp build, originals cached, start to .ko under 20 s', warm < 20, `${warm.toFixed(1)} s`);
  process.exitCode = ok1 && ok2 ? 0 : 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
