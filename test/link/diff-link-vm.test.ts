/**
 * The real pipeline on an out-of-tree module: `kelp diff` of the original and
 * patched builds of kelp_target_mod's b.c, `kelp link`, and the module patch
 * under QEMU (static variable, second of two static helper()s: sympos 2).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';
import { getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('diff-link');

async function build(dir: string): Promise<void> {
  const r = await execa('make', ['-C', target.kdir, `M=${dir}`, 'KCFLAGS=-ffunction-sections -fdata-sections', 'modules'], { reject: false, all: true, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) throw new Error(`building ${dir} failed:\n${(r.all ?? '').split('\n').slice(-20).join('\n')}`);
}

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
}, 900_000);

afterAll(() => tmp.cleanup());

test('kelp diff then kelp link: the module patch loads and reaches the module\'s static counter and helper(),2', async () => {
  if (skipUnlessReady(pre)) return;
  const orig = join(tmp.dir, 'orig');
  const patched = join(tmp.dir, 'patched');
  await fs.cp(join(REPO_ROOT, 'test/fixtures/link/target-mod'), orig, { recursive: true });
  await fs.cp(orig, patched, { recursive: true });
  await fs.copyFile(join(REPO_ROOT, 'test/fixtures/link/target-mod-patched/b.c'), join(patched, 'b.c'));
  await build(orig);
  await build(patched);
  const diff = join(tmp.dir, 'diff.o');
  const d = await execa(KELP_BIN, ['diff', join(orig, 'b.o'), join(patched, 'b.o'), '--target', 'kelp_target_mod',
    '--symbols', join(orig, 'kelp_target_mod.ko'), '--symvers', target.symvers, '-o', diff], { reject: false });
  // kelp diff reports what changed on stderr.
  expect([d.exitCode, d.stderr]).toEqual([0, expect.stringContaining('changed function: kelp_target_show')]);
  const ko = join(tmp.dir, 'kelp-diff-link.ko');
  const l = await execa(KELP_BIN, ['link', diff, '--kdir', target.kdir, '--name', 'kelp-diff-link', '-o', ko], { reject: false });
  expect([l.exitCode, l.stderr]).toEqual([0, '']);
  const r = await runOnTarget('link-diff-module', {
    kernel: target.kernel,
    load: [join(orig, 'kelp_target_mod.ko'), ko],
    check: ['cat /proc/kelp_target_mod; cat /proc/kelp_target_mod', 'cat /sys/kernel/livepatch/kelp_diff_link/enabled /sys/kernel/livepatch/kelp_diff_link/transition'],
    disable: ['kelp_diff_link'],
  });
  expect(r.error).toBeNull();
  expect(r.modules.map((m) => [m.name, m.loaded, m.error])).toEqual([['kelp_target_mod', true, null], ['kelp_diff_link', true, null]]);
  expect(r.checks.map((c) => c.output)).toEqual(['patched helper=2 counter=1\npatched helper=2 counter=2\n', '1\n0\n']);
  expect(r.disabled.map((x) => x.ok)).toEqual([true]);
  expect(r.checksAfterDisable[0].output).toBe('original helper=2 a=1 counter=2\noriginal helper=2 a=1 counter=2\n');
}, 300_000);
