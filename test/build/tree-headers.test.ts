/**
 * kelp build on the prepared Debian 6.1 tree, where the objects a patch
 * affects come from the tree's Makefiles and include graph rather than from
 * earlier builds: the configured objects match the image's module list, a
 * header fix rebuilds every includer (built before or not) and patches the
 * functions that changed, a struct that gains a member is refused with its
 * name, and a file the configuration does not build exits 3 naming the
 * CONFIG option. No source of the tree changes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configuredObjects } from '../../src/kernel/configured.js';
import { cacheRoot } from '../../src/target/cache.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { hashFiles, kelp, sourcesModifiedSince, stamp } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
let tree: string;
const tmp = makeTmpDir('build-tree-headers');
const FIX = (name: string) => join(REPO_ROOT, 'test', 'build', 'fixtures', name);
const WATCHED = ['fs/fat/fat.h', 'fs/ext4/ext4.h', 'fs/ext4/inode-test.c', 'fs/ntfs/aops.c'];

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (!pre.ok) return;
  target = await getTarget({ source: true });
  tree = target.source!;
}, 1_200_000);
afterAll(() => tmp.cleanup());

function buildArgs(patch: string, out: string, extra: string[] = []): string[] {
  return ['build', patch, '--sourcedir', tree, '--kdir', target.kdir, '--symbols', target.systemMap, '-o', out, ...extra];
}

function unchanged<T>(label: string, fn: () => T): T {
  const before = hashFiles(tree, WATCHED);
  const since = stamp(join(tmp.dir, `${label}.stamp`));
  const r = fn();
  expect(hashFiles(tree, WATCHED)).toEqual(before);
  expect(sourcesModifiedSince(tree, since)).toEqual([]);
  return r;
}

test('the configured objects computed from the Makefiles name exactly the modules the Debian image ships, and its built-in modules', async () => {
  if (skipUnlessReady(pre)) return;
  const conf = await configuredObjects(tree, cacheRoot());
  const order = readFileSync(join(target.modules, 'modules.order'), 'utf8').split('\n').filter((l) => l !== '')
    .map((l) => l.replace(/^kernel\//, '').replace(/\.ko$/, '').split('/').pop()!.replace(/-/g, '_')).sort();
  expect(conf.modules).toEqual([...new Set(order)].sort());
  // Every tristate option built in (modules.builtin) is a vmlinux object or composite of the listing.
  const vmlinuxDirs = new Set([...conf.objects.values()].filter((o) => o.target === 'vmlinux').map((o) => o.object.replace(/\/[^/]+$/, '')));
  const builtin = readFileSync(join(target.modules, 'modules.builtin'), 'utf8').split('\n').filter((l) => l !== '').map((l) => l.replace(/^kernel\//, '').replace(/\/[^/]+$/, ''));
  expect(builtin.filter((d) => !vmlinuxDirs.has(d))).toEqual([]);
  expect(conf.objects.get('fs/ext4/inode.o')).toEqual({ object: 'fs/ext4/inode.o', target: 'ext4', lib: false });
  expect(conf.objects.get('kernel/sys.o')).toEqual({ object: 'kernel/sys.o', target: 'vmlinux', lib: false });
}, 600_000);

test('a header fix whose includers were never built: every configured includer is rebuilt, in two modules, and the changed functions are patched (verified in the VM)', () => {
  if (skipUnlessReady(pre)) return;
  // fs/fat/fat.h: the fat module's objects, vfat's and msdos's.
  const includers = ['cache', 'dir', 'fatent', 'file', 'inode', 'misc', 'namei_msdos', 'namei_vfat', 'nfs'].map((n) => `fs/fat/${n}.o`);
  const cmdFile = (o: string) => join(tree, o.replace(/([^/]+)$/, '.$1.cmd'));
  // kbuild's records of earlier builds (which the old search relied on) play no part: note which exist.
  const recorded = includers.filter((o) => existsSync(cmdFile(o)));
  const out = join(tmp.dir, 'fat');
  const r = unchanged('fat', () => kelp(buildArgs(FIX('fat-checksum-header.patch'), out, ['--json', '--no-cache', '--verify'])));
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  expect(r.stderr).toMatch(/fs\/fat\/fat\.h: included by 9 object\(s\) of this kernel's configuration/);
  const report = JSON.parse(r.stdout);
  expect(report.objects.map((o: { object: string }) => o.object)).toEqual(includers);
  expect(report.objects.every((o: { cached: boolean }) => !o.cached)).toBe(true);
  // fat_checksum's callers: fat_parse_long (dir.c, module fat) and vfat_build_slots (namei_vfat.c, module vfat).
  const changed = Object.fromEntries(report.objects.filter((o: { result: string }) => o.result === 'changed')
    .map((o: { object: string; changedFunctions: Array<{ name: string }> }) => [o.object, o.changedFunctions.map((f) => f.name).sort()]));
  expect(changed).toEqual({ 'fs/fat/dir.o': ['fat_parse_long.constprop.0'], 'fs/fat/namei_vfat.o': ['vfat_add_entry'] });
  expect(report.targets).toEqual({ fat: ['fs/fat/dir.o'], vfat: ['fs/fat/namei_vfat.o'] });
  expect(readdirSync(out).sort()).toEqual(['livepatch-fat-checksum-header.json', 'livepatch-fat-checksum-header.ko']);
  // In the VM: fat and vfat (the originals) loaded, then the livepatch, enabled.
  expect(report.verify.ok).toBe(true);
  // The tree's build records are as they were (the guard removes what kelp built).
  expect(includers.filter((o) => existsSync(cmdFile(o)))).toEqual(recorded);
}, 1_800_000);

test('a struct that gains a member in a header is refused, naming the struct and the member, before anything is built', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'struct');
  const r = unchanged('struct', () => kelp(buildArgs(FIX('ext4-struct-member.patch'), out)));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/fs\/ext4\/ext4\.h:225: struct ext4_io_end_vec changes layout \(adds `unsigned int kelp_flags`\)/);
  expect(r.stderr).not.toMatch(/build originals/);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}, 600_000);

test('a .c file the configuration does not build: exit 3 naming the CONFIG option, no compiler error', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'unconfigured');
  // A composite's part whose module is off (ext4-inode-test.o, obj-$(CONFIG_EXT4_KUNIT_TESTS)).
  const a = unchanged('kunit', () => kelp(buildArgs(FIX('ext4-kunit-unconfigured.patch'), out)));
  expect(a.status).toBe(3);
  expect(a.stderr).toMatch(/fs\/ext4\/inode-test\.c: not built by this kernel's configuration: fs\/ext4\/Makefile builds it with CONFIG_EXT4_KUNIT_TESTS \(CONFIG_EXT4_KUNIT_TESTS is not set\)/);
  // A directory kbuild never enters (fs/ntfs/, obj-$(CONFIG_NTFS_FS)).
  const b = unchanged('ntfs', () => kelp(buildArgs(FIX('ntfs-unconfigured.patch'), out)));
  expect(b.status).toBe(3);
  expect(b.stderr).toMatch(/fs\/ntfs\/aops\.c: not built by this kernel's configuration: fs\/Makefile enters fs\/ntfs\/ with CONFIG_NTFS_FS \(CONFIG_NTFS_FS is not set\)/);
  for (const r of [a, b]) expect(r.stderr).not.toMatch(/error:|build originals/);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}, 600_000);
