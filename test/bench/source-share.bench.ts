/**
 * Releases of one upstream version share their source (src/target/share.ts):
 * Debian's linux-source-6.1 at 6.1.192-1 and 6.1.192-2 (6.1.0-55, -56)
 * unpacked twice each: by tar, as a fetch does without another revision in
 * the cache, and next to the cached, prepared 6.1.192-3 tree (6.1.0-57),
 * writing only what differs. Measured: disk (du, hard links counted once)
 * and seconds. Goals: under a tenth of the disk, and no slower than tar. The debs are kept
 * in the cache (downloads/), the unpacked trees are removed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeGuard } from '../../src/build/guard.js';
import { AptState } from '../../src/kernel/apt.js';
import { cacheRoot } from '../../src/target/cache.js';
import { fetchTarget } from '../../src/target/fetch.js';
import { unpackSharing } from '../../src/target/share.js';
import { sourceTarball, unpackSourceTarball } from '../../src/target/source.js';
import { extractDeb } from '../../src/target/unpack.js';
import { goal } from './measure.js';

const BASE_RELEASE = '6.1.0-57-amd64';
const OTHERS = ['6.1.192-1', '6.1.192-2'];

const base = await fetchTarget({ release: BASE_RELEASE, source: true, progress: (l) => process.stdout.write(`fetch: ${l}\n`) });
const apt = new AptState(cacheRoot());
const downloads = join(cacheRoot(), 'bench', 'source-share');
mkdirSync(downloads, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'kelp-bench-share-'));

/** Disk used by the directories together, each block counted once (du's rule for hard links), in MiB. */
function duMiB(...dirs: string[]): number {
  const r = spawnSync('du', ['-sck', '--', ...dirs], { encoding: 'utf8' });
  const total = /^(\d+)\s+total$/m.exec(r.stdout);
  if (r.status !== 0 || total === null) throw new Error(`du failed: ${r.stderr}`);
  return Number(total[1]) / 1024;
}

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;
let ok = true;
try {
  const held = await TreeGuard.acquire(cacheRoot(), base.source!);
  const baseMiB = duMiB(base.source!);
  held.restore();
  process.stdout.write(`base: ${base.source} (${base.version}), ${baseMiB.toFixed(0)} MiB prepared\n`);
  for (const version of OTHERS) {
    const deb = join(downloads, `linux-source-6.1_${version}.deb`);
    if (!existsSync(deb)) {
      const partial = join(downloads, `partial-${version}`);
      rmSync(partial, { recursive: true, force: true });
      renameSync(await apt.download('linux-source-6.1', version, partial), deb);
      rmSync(partial, { recursive: true, force: true });
    }
    const dest = join(work, version);
    await extractDeb(deb, join(dest, 'deb'));
    // Unpacked as a fetch without a base does it (tar), then as one next to the base (only what differs written).
    let t = process.hrtime.bigint();
    const full = await unpackSourceTarball(join(dest, 'deb'), join(dest, 'full'));
    const unpackS = seconds(t);
    const fullMiB = duMiB(full);
    rmSync(join(dest, 'full'), { recursive: true });
    spawnSync('sync');
    t = process.hrtime.bigint();
    const { tree, share: s } = await unpackSharing(await sourceTarball(join(dest, 'deb')), join(dest, 'shared'), base.source!, cacheRoot());
    const shareS = seconds(t);
    // What the tree adds beyond the base: du counts the shared blocks under the base only (locked: no build's files come and go).
    const held = await TreeGuard.acquire(cacheRoot(), base.source!);
    let ownMiB: number;
    try {
      ownMiB = duMiB(base.source!, tree) - duMiB(base.source!);
    } finally {
      held.restore();
    }
    process.stdout.write(`${version}: tar unpacks ${fullMiB.toFixed(0)} MiB in ${unpackS.toFixed(1)} s; next to ${base.version}: ${s.linked} of ${s.files} files shared `
      + `(${(s.bytesLinked / 2 ** 20).toFixed(0)} MiB), ${s.files - s.linked} written (${(s.bytesWritten / 2 ** 20).toFixed(2)} MiB), in ${shareS.toFixed(1)} s; the tree takes ${ownMiB.toFixed(1)} MiB of its own\n`);
    ok = goal(`${version} next to ${base.version}: under a tenth of the disk`, ownMiB < fullMiB / 10, `${ownMiB.toFixed(1)} MiB of ${fullMiB.toFixed(0)} MiB`) && ok;
    ok = goal(`${version} next to ${base.version}: no slower than tar`, shareS <= unpackS, `${shareS.toFixed(1)} s against ${unpackS.toFixed(1)} s`) && ok;
    rmSync(dest, { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  for (const f of readdirSync(downloads)) if (f.startsWith('partial-')) rmSync(join(downloads, f), { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
