/**
 * The entry-size probe against the real target kbuild (the newest bookworm
 * kernel's headers): the sizes it reads, and its cache entry, which a second
 * build for the same kernel reuses and which a changed header invalidates.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ObjectCache } from '../../src/build/cache.js';
import { kernelEntrySizes } from '../../src/build/entry-sizes.js';
import { Children } from '../../src/kernel/make.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('entry-sizes');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
}, 1_800_000);

test('a probe built once for a kernel is reused, and rebuilt when a header it read changed', async () => {
  if (skipUnlessReady(pre)) return;
  const config = await fs.readFile(join(target.kdir, '.config'), 'utf8');
  const probeCache = { cache: new ObjectCache(join(tmp.dir, 'objects')), config, compilerVersion: 'test-compiler' };
  const children = new Children();

  const first = await kernelEntrySizes(target.kdir, join(tmp.dir, 'p1'), children, probeCache);
  expect(first.why).toBe('');
  expect(first.cached).toBe(false);
  // bookworm's 6.1: relative jump labels (16 bytes), 12-byte alt_instr, and paravirt patch sites.
  expect(first.sizes).toEqual(expect.arrayContaining(['__jump_table=16', '.altinstructions=12', '__ex_table=12']));

  const second = await kernelEntrySizes(target.kdir, join(tmp.dir, 'p2'), children, probeCache);
  expect(second).toEqual({ ...first, cached: true });

  // The entry records the headers kbuild listed; one whose content no longer matches makes it a miss.
  const metas: string[] = [];
  for (const d of await fs.readdir(join(tmp.dir, 'objects'))) {
    for (const e of await fs.readdir(join(tmp.dir, 'objects', d))) metas.push(join(tmp.dir, 'objects', d, e, 'meta.json'));
  }
  expect(metas).toHaveLength(1);
  const meta = JSON.parse(await fs.readFile(metas[0], 'utf8')) as { deps: Record<string, string | null> };
  const headers = Object.keys(meta.deps);
  expect(headers).toEqual(expect.arrayContaining([expect.stringMatching(/include\/linux\/jump_label\.h$/)]));
  expect(headers.every((h) => !h.startsWith(join(tmp.dir, 'p1')))).toBe(true);
  meta.deps[headers.find((h) => h.endsWith('jump_label.h'))!] = '0'.repeat(40);
  await fs.writeFile(metas[0], JSON.stringify(meta));
  const third = await kernelEntrySizes(target.kdir, join(tmp.dir, 'p3'), children, probeCache);
  expect(third).toEqual({ ...first, cached: false });

  // Without a cache, the probe is built every time.
  const none = await kernelEntrySizes(target.kdir, join(tmp.dir, 'p4'), children);
  expect(none).toEqual({ ...first, cached: false });
}, 600_000);
