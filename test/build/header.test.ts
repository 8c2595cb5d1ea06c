/**
 * kelp build with a changed header and with several patches: the objects to
 * rebuild come from kbuild's dependency records (.cmd files), an object the
 * header change leaves identical is reported as no change, and patches apply
 * in order into one module (verified in the VM).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { hashTree, kelp } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('build-header');
const FIX = join(REPO_ROOT, 'test', 'build', 'fixtures');
const MOD = join(FIX, 'hdr-mod');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (pre.ok) target = await getTarget();
}, 900_000);
afterAll(() => tmp.cleanup());

test('a header change rebuilds every object that includes it and patches only those it changes', () => {
  if (skipUnlessReady(pre)) return;
  const before = hashTree(MOD);
  const out = join(tmp.dir, 'header');
  const r = kelp(['build', join(FIX, 'hdr-scale.patch'), '--oot-module', MOD, '--kdir', target.kdir, '-o', out, '--json']);
  expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.objects.map((o: { object: string; result: string }) => [o.object, o.result])).toEqual([['a.o', 'changed'], ['b.o', 'no-change']]);
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name)).toEqual(['kelp_hdr_show']);
  expect(report.targets).toEqual({ kelp_hdr: ['a.o'] });
  expect(readdirSync(out).sort()).toEqual(['livepatch-hdr-scale.json', 'livepatch-hdr-scale.ko']);
  expect(hashTree(MOD)).toEqual(before);
}, 300_000);

test('two patches apply in order into one module; both changes run in the VM', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'two');
  const r = kelp([
    'build', join(FIX, 'hdr-scale.patch'), join(FIX, 'hdr-b.patch'), '--oot-module', MOD, '--target', 'kelp_hdr', '--kdir', target.kdir,
    '--name', 'kelp-two-patches', '-o', out, '--json', '--verify', '--check', 'cat /proc/kelp_hdr', '--expect', '^scaled 63, b 8$',
  ]);
  expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.moduleName).toBe('kelp_two_patches');
  expect(report.objects.map((o: { object: string; changedFunctions: Array<{ name: string }> }) => [o.object, o.changedFunctions.map((f) => f.name)]))
    .toEqual([['a.o', ['kelp_hdr_show']], ['b.o', ['kelp_hdr_b']]]);
  expect(report.verify.checks[0].output).toBe('scaled 63, b 8\n');
  expect(readFileSync(join(out, 'kelp-two-patches.ko')).length).toBe(report.sizes.ko);
}, 600_000);
