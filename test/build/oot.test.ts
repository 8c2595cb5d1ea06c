/**
 * kelp build on the bundled out-of-tree example, end to end: README's main
 * job (`npm run example`, i.e. examples/oot/run.sh) fetches the target,
 * builds examples/oot/fix.patch into a livepatch for kelp_demo and proves it
 * in the VM. Also: a tree whose kernel configuration lacks CONFIG_LIVEPATCH
 * is refused before anything is built.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { hashTree, kelp, outputs } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('build-oot');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (pre.ok) target = await getTarget();
}, 900_000);
afterAll(() => tmp.cleanup());

test('npm run example: fix.patch becomes a verified livepatch of kelp_demo; the example directory is untouched', () => {
  if (skipUnlessReady(pre)) return;
  const example = join(REPO_ROOT, 'examples', 'oot');
  const before = hashTree(example);
  const out = join(tmp.dir, 'example-out');
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // The same command `npm run example` runs.
  const [cmd, ...args] = pkg.scripts.example.split(' ');
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, KELP_EXAMPLE_OUT: out }, maxBuffer: 64 << 20 });
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  expect(r.stdout).toMatch(/livepatch-fix\.ko: livepatch livepatch_fix, 1 function\(s\) in kelp_demo/);
  expect(r.stdout).toMatch(/^verified/m);
  expect(r.stderr).toMatch(/^kelp: build originals done in \d+\.\d s/m);
  expect(r.stderr).toMatch(/^kelp: verify done in \d+\.\d s/m);
  expect(readdirSync(out).sort()).toEqual(['livepatch-fix.json', 'livepatch-fix.ko']);
  const report = JSON.parse(readFileSync(join(out, 'livepatch-fix.json'), 'utf8'));
  expect(report.moduleName).toBe('livepatch_fix');
  expect(report.targets).toEqual({ kelp_demo: ['kelp_demo.o'] });
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'kelp_demo_show', oldName: 'kelp_demo_show' }]);
  expect(report.sizes.ko).toBe(readFileSync(join(out, 'livepatch-fix.ko')).length);
  for (const phase of ['validate', 'build originals', 'build patched', 'diff', 'link', 'verify']) expect(report.timings[phase]).toEqual(expect.any(Number));
  // In the VM: kelp_demo loaded first, then the livepatch; the patched show() keeps the module's own counter.
  expect(report.verify.ok).toBe(true);
  expect(report.verify.check.ok).toBe(true);
  expect(outputs(report).before).toEqual([
    'hello from kelp_demo, read 1 time(s), fixed by a livepatch\n',
    'hello from kelp_demo, read 2 time(s), fixed by a livepatch\n',
    '1\n',
  ]);
  // Disabled in the VM: the original line is back and the module's counter carries on.
  expect(outputs(report).after).toEqual([
    'hello from kelp_demo, read 3 time(s)\n',
    'hello from kelp_demo, read 4 time(s)\n',
    'disabled\n',
  ]);
  expect(report.verify.expectDisabled).toEqual([{ pattern: '^hello from kelp_demo, read 4 time\\(s\\)$', matched: true }]);
  expect(report.verify.check.ok).toBe(true);
  expect(hashTree(example)).toEqual(before);
  expect(target.kdir).toBe(report.kdir);
}, 600_000);

test('a failed verification (an --expect the patched module does not meet) exits 4 and writes nothing', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'verify-fails');
  const r = kelp([
    'build', join(REPO_ROOT, 'examples', 'oot', 'fix.patch'), '--oot-module', join(REPO_ROOT, 'examples', 'oot'), '--kdir', target.kdir,
    '-o', out, '--verify', '--check', 'cat /proc/kelp_demo', '--expect', '^hello from kelp_demo, read 1 time\\(s\\)$',
  ]);
  expect(r.status).toBe(4);
  expect(r.stderr.trim().split('\n').pop()).toMatch(/^kelp: .*livepatch-fix\.ko: verification failed: --expect \/.*\/ not matched \(output: "hello from kelp_demo, read 1 time\(s\), fixed by a livepatch\\n1\\n"\)/);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}, 600_000);

test('a constant passed to printk changed by the patch is a change; lines the patch only moves are not', () => {
  if (skipUnlessReady(pre)) return;
  // kelp_demo with a pr_err("... %d") whose constant becomes a __LINE__ look-alike: mov $imm, %esi; call _printk.
  const mod = join(tmp.dir, 'printk-mod');
  cpSync(join(REPO_ROOT, 'examples', 'oot'), mod, { recursive: true, filter: (f) => !/\/out$/.test(f) });
  const c = join(mod, 'kelp_demo.c');
  const orig = readFileSync(c, 'utf8').replace('\treads++;\n', '\treads++;\n\tif (!v && reads < 0)\n\t\tpr_err("kelp_demo: %d\\n", 700);\n');
  writeFileSync(c, orig);
  const patchOf = (after: string, name: string): string => {
    const d = spawnSync('diff', ['-u', '--label', 'a/kelp_demo.c', '--label', 'b/kelp_demo.c', c, '-'], { input: after, encoding: 'utf8' });
    expect(d.status).toBe(1);
    const f = join(tmp.dir, name);
    writeFileSync(f, d.stdout);
    return f;
  };
  // Three comment lines on top: every line moves, the code does not change.
  const moved = patchOf(orig.replace('#include <linux/module.h>', '/*\n * moved\n */\n#include <linux/module.h>'), 'moved.patch');
  const build = (patch: string, out: string) => kelp(['build', patch, '--oot-module', mod, '--kdir', target.kdir, '-o', join(tmp.dir, out), '--json']);
  const r1 = build(moved, 'moved-out');
  expect(r1.status).toBe(3);
  expect(r1.stderr).toMatch(/changes no function of kelp_demo\.o/);
  // The constant itself: 700 becomes 900 (and lines move too).
  const changed = patchOf(orig.replace('#include <linux/module.h>', '/* moved */\n#include <linux/module.h>').replace('%d\\n", 700)', '%d\\n", 900)'), 'const.patch');
  const r2 = build(changed, 'const-out');
  expect([r2.status, r2.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  // pr_err's call sits in the function's .cold part.
  expect(r2.stderr).toMatch(/changed function: kelp_demo_show: its part kelp_demo_show\.cold changed \(the constant passed to _printk changed from 700 to 900, and the patch moves no line from 700 to 900\)/);
  const report = JSON.parse(readFileSync(join(tmp.dir, 'const-out', 'livepatch-const.json'), 'utf8'));
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'kelp_demo_show', oldName: 'kelp_demo_show' }]);
  // The replaced function's old .cold part is named: a task asleep there would escape the livepatch core's stack check.
  expect(report.objects[0].coldParts).toEqual([{ name: 'kelp_demo_show', parts: ['kelp_demo_show.cold'] }]);
  expect(r2.stderr).toMatch(/old \.cold parts: kelp_demo_show: kelp_demo_show\.cold \(tasks asleep there escape/);
}, 600_000);

test('a kpatch-style patch (#include "kpatch-macros.h", a post-patch callback) builds unchanged and its callback runs in the VM', () => {
  if (skipUnlessReady(pre)) return;
  const example = join(REPO_ROOT, 'examples', 'oot');
  const before = hashTree(example);
  const out = join(tmp.dir, 'kpatch-style');
  const r = kelp([
    'build', join(REPO_ROOT, 'test', 'build', 'fixtures', 'kpatch-style.patch'), '--oot-module', example, '--kdir', target.kdir, '-o', out, '--json',
    '--verify', '--check', 'cat /proc/kelp_demo', '--check', 'dmesg | grep -c "kpatch-style post-patch callback ran"',
  ]);
  expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'kelp_demo_greeting', oldName: 'kelp_demo_greeting' }]);
  expect(report.objects[0].newFunctions).toEqual(['kelp_demo_post_patch']);
  expect(outputs(report).before).toEqual(['hello from a kpatch-style patch, read 1 time(s)\n', '1\n', '1\n']);
  expect(outputs(report).after).toEqual(['hello from kelp_demo, read 2 time(s)\n', '1\n', 'disabled\n']);
  expect(hashTree(example)).toEqual(before);
}, 600_000);

test('a module function with a pr_debug() site: the livepatch carries its own dynamic-debug descriptor, switched on through the livepatch module\'s entry in the VM', () => {
  if (skipUnlessReady(pre)) return;
  const mod = join(REPO_ROOT, 'test', 'fixtures', 'dyndbg-module');
  const out = join(tmp.dir, 'dyndbg');
  const r = kelp([
    'build', join(REPO_ROOT, 'test', 'build', 'fixtures', 'dyndbg.patch'), '--oot-module', mod, '--kdir', target.kdir, '-o', out, '--json',
    '--verify', '--check', 'cat /proc/kelp_dbg', '--check', 'grep -o "\\[[a-z_]*\\]kelp_dbg_show =[a-z_]*" /proc/dynamic_debug/control',
    '--check', 'echo "module livepatch_dyndbg +p" > /proc/dynamic_debug/control && cat /proc/kelp_dbg > /dev/null && dmesg | grep -c "kelp_dbg: show called"',
  ]);
  expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  expect(r.stderr).toMatch(/__UNIQUE_ID_ddebug\d+(\.\d+)?: the dynamic debug site gets the livepatch's own descriptor/);
  const report = JSON.parse(r.stdout);
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'kelp_dbg_show', oldName: 'kelp_dbg_show' }]);
  const { before, after } = outputs(report);
  // Two entries for the site: the module's and the livepatch's own; only the livepatch's is switched on, and it prints.
  expect(before).toEqual(['kelp_dbg patched, read 1 time(s)\n', '[kelp_dbg]kelp_dbg_show =_\n[livepatch_dyndbg]kelp_dbg_show =_\n', '1\n', '1\n']);
  // Disabled: the module's own function runs again, its site still off (no second message).
  expect(after).toEqual(['kelp_dbg original, read 3 time(s)\n', '[kelp_dbg]kelp_dbg_show =_\n[livepatch_dyndbg]kelp_dbg_show =p\n', '1\n', 'disabled\n']);
}, 600_000);

test('a module calling an export of a module it depends on: the livepatch reaches it by a livepatch relocation applied with the module, so it does not pin or need that module (as klp-build does)', () => {
  if (skipUnlessReady(pre)) return;
  const mod = join(REPO_ROOT, 'test', 'fixtures', 'dep-module');
  const out = join(tmp.dir, 'dep');
  const r = kelp([
    'build', join(mod, 'fix.patch'), '--oot-module', mod, '--target', 'kelp_user', '--kdir', target.kdir, '--name', 'livepatch-dep', '-o', out, '--json',
    '--verify', '--check', 'cat /proc/kelp_user 2>/dev/null || echo none',
    '--check', 'rmmod kelp_user && rmmod kelp_base && echo removed; grep -c "^kelp_" /proc/modules || true',
  ]);
  expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  const ko = join(out, 'livepatch-dep.ko');
  // No dependency on kelp_base, and no ordinary undefined reference to its export.
  expect(spawnSync('modinfo', ['-F', 'depends', ko], { encoding: 'utf8' }).stdout.trim()).toBe('');
  const syms = spawnSync('readelf', ['-sW', ko], { encoding: 'utf8' }).stdout;
  expect(syms).toMatch(/\[0xff20\] \.klp\.sym\.kelp_base\.kelp_base_value,0$/m);
  expect(syms).not.toMatch(/UND kelp_base_value$/m);
  // The relocation is applied with kelp_user, which loads after kelp_base.
  expect(spawnSync('readelf', ['-SW', ko], { encoding: 'utf8' }).stdout).toMatch(/\.klp\.rela\.kelp_user\.\.text\.kelp_user_show/);
  const { before, after } = outputs(JSON.parse(r.stdout));
  // Patched: the export called with the fix's argument; then both modules unload under the enabled livepatch.
  expect(before).toEqual(['patched value 20\n', 'removed\n0\n', '1\n']);
  expect(after[0]).toBe('none\n');
}, 600_000);

test('a check for the patched behaviour that fails once the patch is disabled is reported, not a verification failure', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'grep-check');
  const r = kelp([
    'build', join(REPO_ROOT, 'examples', 'oot', 'fix.patch'), '--oot-module', join(REPO_ROOT, 'examples', 'oot'), '--kdir', target.kdir,
    '-o', out, '--json', '--verify', '--check', 'grep "fixed by a livepatch" /proc/kelp_demo', '--expect-disabled', '^disabled$',
  ]);
  expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.verify.checks.map((c: { exitCode: number }) => c.exitCode)).toEqual([0, 0]);
  expect(report.verify.checksAfterDisable.map((c: { exitCode: number; output: string }) => [c.exitCode, c.output])).toEqual([[1, ''], [0, 'disabled\n']]);
  expect(report.verify.ok).toBe(true);
}, 600_000);

test('a kernel configuration without CONFIG_LIVEPATCH is refused before any build; nothing is written', () => {
  // A minimal tree: a configuration with livepatch support unset, a Makefile, one source.
  const tree = join(tmp.dir, 'no-livepatch');
  mkdirSync(join(tree, 'fs', 'proc'), { recursive: true });
  writeFileSync(join(tree, '.config'), 'CONFIG_MODULES=y\n# CONFIG_LIVEPATCH is not set\nCONFIG_CC_VERSION_TEXT="gcc-12"\n');
  writeFileSync(join(tree, 'Makefile'), 'all:\n\t@echo this tree must not be built; exit 1\n');
  writeFileSync(join(tree, 'Module.symvers'), '');
  writeFileSync(join(tree, 'fs', 'proc', 'cmdline.c'), readFileSync(join(REPO_ROOT, 'test', 'build', 'fixtures', 'cmdline.c')));
  const before = hashTree(tree);
  const out = join(tmp.dir, 'no-livepatch-out');
  const r = kelp(['build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'), '--sourcedir', tree, '-o', out]);
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n').pop()).toBe(`kelp: ${join(tree, '.config')}: CONFIG_LIVEPATCH is not set: this kernel cannot load livepatch modules`);
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  expect(hashTree(tree)).toEqual(before);
});
