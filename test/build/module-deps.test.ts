/**
 * Module dependencies for --verify: a target module's `depends=` followed
 * through the Debian image's module tree, dependencies first.
 */
import { basename } from 'node:path';
import { findModuleFile, targetModulesDir } from '../../src/kernel/module-tree.js';
import { withDependencies } from '../../src/build/module-deps.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';

let pre: PrereqStatus;
let target: TargetInfo;

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (pre.ok) target = await getTarget();
}, 900_000);

test('ext4 comes after jbd2, mbcache and crc16; a module without dependencies stays alone; each file once', () => {
  if (skipUnlessReady(pre)) return;
  const dir = targetModulesDir(target.kdir)!;
  expect(dir).toBeDefined();
  const find = (n: string) => findModuleFile(dir, n);
  const ext4 = find('ext4')!;
  const binfmt = find('binfmt_misc')!;
  const r = withDependencies([ext4, binfmt, ext4], find);
  expect(r.missing).toEqual([]);
  const names = r.order.map((f) => basename(f, '.ko'));
  expect(new Set(names).size).toBe(names.length);
  expect(names.slice(-2)).toEqual(['ext4', 'binfmt_misc']);
  expect([...names.slice(0, -2)].sort()).toEqual(['crc16', 'jbd2', 'mbcache']);
  // A name the tree does not have is reported, not guessed.
  const none = withDependencies([ext4], (n) => (n === 'jbd2' ? undefined : find(n)));
  expect(none.missing).toEqual(['jbd2']);
  expect(none.order.map((f) => basename(f, '.ko'))).not.toContain('jbd2');
});

test('a soft dependency (libcrc32c: softdep=pre: crc32c) brings the generic provider of that alias first', () => {
  if (skipUnlessReady(pre)) return;
  const dir = targetModulesDir(target.kdir)!;
  const find = (n: string) => findModuleFile(dir, n);
  const r = withDependencies([find('libcrc32c')!], find);
  expect(r.order.map((f) => basename(f, '.ko'))).toEqual(['crc32c_generic', 'libcrc32c']);
  expect(r.missing).toEqual([]);
});
