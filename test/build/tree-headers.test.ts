/**
 * kelp build on the prepared Debian 6.1 tree, where the objects a patch
 * affects come from the tree's Makefiles and include graph rather than from
 * earlier builds: the configured objects match the image's module list, a
 * header fix rebuilds every includer (built before or not) and patches the
 * functions that changed, a struct that gains a member is refused with its
 * name (its compiled layout changed) while one whose new member is configured
 * out is not, and a file the configuration does not build exits 3 naming the
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
const WATCHED = ['fs/fat/fat.h', 'fs/ext4/ext4.h', 'fs/ext4/inode-test.c', 'fs/cramfs/inode.c', 'arch/x86/purgatory/purgatory.c'];

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
  // amdgpu's Makefile builds amdkfd's files as ../amdkfd/*.o: that is the make target with amdgpu's flags.
  expect(conf.objects.get('drivers/gpu/drm/amd/amdkfd/kfd_module.o')).toEqual({
    object: 'drivers/gpu/drm/amd/amdkfd/kfd_module.o', target: 'amdgpu', lib: false, make: 'drivers/gpu/drm/amd/amdgpu/../amdkfd/kfd_module.o',
  });
}, 600_000);

test('a file another directory\'s Makefile builds (amdkfd, built by amdgpu\'s) is compiled through that Makefile, with its flags and module', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'amdkfd');
  const r = unchanged('amdkfd', () => kelp(buildArgs(FIX('amdkfd-module-exit.patch'), out, ['--json'])));
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr.slice(-3000) }).toEqual({ status: 0, stderr: '' });
  const report = JSON.parse(r.stdout);
  expect(report.targets).toEqual({ amdgpu: ['drivers/gpu/drm/amd/amdkfd/kfd_module.o'] });
  expect(report.objects.find((o: { object: string }) => o.object === 'drivers/gpu/drm/amd/amdkfd/kfd_module.o').changedFunctions.map((f: { name: string }) => f.name)).toEqual(['kgd2kfd_exit']);
}, 1_200_000);

test('a header fix whose includers were never built: every configured includer is rebuilt, in two modules, and the changed functions are patched (verified in the VM)', () => {
  if (skipUnlessReady(pre)) return;
  // fs/fat/fat.h: the fat module's objects, vfat's and msdos's.
  const includers = ['cache', 'dir', 'fatent', 'file', 'inode', 'misc', 'namei_msdos', 'namei_vfat', 'nfs'].map((n) => `fs/fat/${n}.o`);
  const cmdFile = (o: string) => join(tree, o.replace(/([^/]+)$/, '.$1.cmd'));
  // kbuild's records of earlier builds (which the old search relied on) play no part: note which exist.
  const recorded = includers.filter((o) => existsSync(cmdFile(o)));
  const out = join(tmp.dir, 'fat');
  const r = unchanged('fat', () => kelp(buildArgs(FIX('fat-checksum-header.patch'), out, ['--json', '--no-cache', '--verify'])));
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr.slice(-3000) }).toEqual({ status: 0, stderr: '' });
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

test('a struct that gains a member in a header is refused, naming the struct and the member, after one includer is built both ways (not all of them)', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'struct');
  const r = unchanged('struct', () => kelp(buildArgs(FIX('ext4-struct-member.patch'), out)));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/fs\/ext4\/ext4\.h:225: struct ext4_io_end_vec changes layout \(adds `unsigned int kelp_flags`\) \(compiled layout in fs\/ext4\/\S+\.o: size 32 -> 40 bytes\)/);
  // The probe (an includer that names the type) decided; the other ext4 objects were never built.
  expect(r.stderr).toMatch(/layout probe/);
  expect(r.stderr).not.toMatch(/build originals/);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}, 900_000);

test('a struct member the configuration leaves out (under a CONFIG option that is not set): the other includers preprocess to the same source and are not built, the patched file\'s compiled layout is the same, no refusal, no change (exit 3)', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'unconfigured-member');
  // fat.h gains a member under #ifdef CONFIG_FAT_KUNIT_TEST (not set); misc.c changes a comment.
  const r = unchanged('unconfigured-member', () => kelp(buildArgs(FIX('fat-struct-unconfigured-member.patch'), out, ['--json'])));
  expect([r.status, r.stderr.slice(-2000)]).toEqual([3, expect.any(String)]);
  expect(r.stderr).toMatch(/8 of 8 includer\(s\) of fs\/fat\/fat\.h preprocess to the same source as before: not rebuilt/);
  expect(r.stderr).toMatch(/fs\/fat\/fat\.h:63: struct msdos_sb_info: the source changes its members, the compiled layout is the same \(fs\/fat\/misc\.o\): no layout change/);
  expect(r.stderr).toMatch(/changes no function of fs\/fat\/misc\.o/);
  expect(r.stderr).not.toMatch(/layout-change/);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}, 900_000);

test('a .c file the configuration does not build: exit 3 naming the CONFIG option, no compiler error; one built outside the objects is refused', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'unconfigured');
  // A composite's part whose module is off (ext4-inode-test.o, obj-$(CONFIG_EXT4_KUNIT_TESTS)).
  const a = unchanged('kunit', () => kelp(buildArgs(FIX('ext4-kunit-unconfigured.patch'), out)));
  expect([a.status, a.stderr]).toEqual([3, expect.any(String)]);
  expect(a.stderr).toMatch(/fs\/ext4\/inode-test\.c: not built by this kernel's configuration: fs\/ext4\/Makefile builds it with CONFIG_EXT4_KUNIT_TESTS \(CONFIG_EXT4_KUNIT_TESTS is not set\)/);
  // A directory kbuild never enters (fs/cramfs/, obj-$(CONFIG_CRAMFS)).
  const b = unchanged('cramfs', () => kelp(buildArgs(FIX('cramfs-unconfigured.patch'), out)));
  expect([b.status, b.stderr]).toEqual([3, expect.any(String)]);
  expect(b.stderr).toMatch(/fs\/cramfs\/inode\.c: not built by this kernel's configuration: fs\/Makefile enters fs\/cramfs\/ with CONFIG_CRAMFS \(CONFIG_CRAMFS is not set\)/);
  // Built by its Makefile but outside vmlinux's and the modules' objects (the kexec purgatory blob): refused, never "no change".
  const c = unchanged('purgatory', () => kelp(buildArgs(FIX('purgatory-outside-objects.patch'), out)));
  expect([c.status, c.stderr]).toEqual([2, expect.any(String)]);
  expect(c.stderr).toMatch(/arch\/x86\/purgatory\/purgatory\.c: built by arch\/x86\/purgatory\/Makefile outside vmlinux's and the modules' objects \(purgatory-y := purgatory\.o/);
  for (const r of [a, b, c]) expect(r.stderr).not.toMatch(/error:|build originals/);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}, 600_000);
