/**
 * End to end on the real Debian kernel under QEMU: livepatch modules made by
 * kelp link load, enable, finish their transition and change behaviour; the
 * kernel really applies their .klp.rela sections (vmlinux and module), and
 * kpatch-macros.h callbacks run.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { linkModule } from '../../src/link/index.js';
import type { RunResult } from '../../src/target/run.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { buildKbuildModule, getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { cmdlineDiff, moduleDiff } from './support/fixtures.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('link-vm');
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
}, 900_000);

afterAll(() => {
  for (const c of cleanups) c();
  tmp.cleanup();
});

function describeRun(r: RunResult): string {
  return JSON.stringify({ error: r.error, modules: r.modules, checks: r.checks, disabled: r.disabled, checksAfterDisable: r.checksAfterDisable, kernelMessages: r.kernelMessages }, null, 1);
}

describe('kelp link modules on the target kernel', () => {
  test('vmlinux: cmdline_proc_show reads non-exported saved_command_line through .klp.rela.vmlinux; callbacks run', async () => {
    if (skipUnlessReady(pre)) return;
    // saved_command_line is a vmlinux symbol the module loader cannot resolve.
    expect(await fs.readFile(target.symvers, 'latin1')).not.toMatch(/\tsaved_command_line\t/);
    const diff = await cmdlineDiff(tmp.dir, target.kdir);
    const ko = join(tmp.dir, 'kelp-vm-cmdline.ko');
    await linkModule({ inputs: [diff], kdir: target.kdir, name: 'kelp-vm-cmdline', output: ko, replace: true, symbols: target.systemMap });
    const r = await runOnTarget('link-vmlinux', {
      kernel: target.kernel,
      load: [ko],
      check: [
        'cat /proc/cmdline',
        'cat /sys/kernel/livepatch/kelp_vm_cmdline/enabled /sys/kernel/livepatch/kelp_vm_cmdline/transition',
        'dmesg | grep kelp-link-test',
      ],
      disable: ['kelp_vm_cmdline'],
    });
    const why = describeRun(r);
    expect([r.error, why]).toEqual([null, why]);
    expect(r.modules.map((m) => [m.name, m.loaded, m.enabled, m.error])).toEqual([['kelp_vm_cmdline', true, true, null]]);
    const [cmdline, state, log] = r.checks.map((c) => c.output);
    expect(cmdline).toMatch(/^\S.* kelp_link_test=patched\n$/);
    // The patched line starts with the real command line, read through the klp relocation.
    expect(cmdline).toContain('console=ttyS0');
    expect(state).toBe('1\n0\n');
    expect(log).toMatch(/kelp-link-test: post-patch callback ran for vmlinux/);
    expect(r.disabled.map((d) => [d.name, d.ok, d.error])).toEqual([['kelp_vm_cmdline', true, null]]);
    expect(r.checksAfterDisable[0].output).not.toContain('kelp_link_test=patched');
    expect(r.checksAfterDisable[2].output).toMatch(/kelp-link-test: post-unpatch callback ran/);
    expect(r.kernelMessages.join('\n')).toMatch(/'kelp_vm_cmdline': patching complete/);
  }, 300_000);

  test('out-of-tree module: a static variable, the second of two static helper()s (sympos 2), and vmlinux from a module patch', async () => {
    if (skipUnlessReady(pre)) return;
    const mod = await buildKbuildModule('test/fixtures/link/target-mod', target.kdir);
    cleanups.push(mod.cleanup);
    const diff = await moduleDiff(tmp.dir, target.kdir);
    const ko = join(tmp.dir, 'kelp-vm-mod.ko');
    await linkModule({ inputs: [diff], kdir: target.kdir, name: 'kelp-vm-mod', output: ko, replace: true });
    const r = await runOnTarget('link-module', {
      kernel: target.kernel,
      load: [mod.modules[0], ko],
      check: [
        'cat /proc/kelp_target_mod',
        'cat /proc/kelp_target_mod',
        'cat /sys/kernel/livepatch/kelp_vm_mod/enabled /sys/kernel/livepatch/kelp_vm_mod/transition',
        'grep -w helper /proc/kallsyms',
      ],
      disable: ['kelp_vm_mod'],
    });
    const why = describeRun(r);
    expect([r.error, why]).toEqual([null, why]);
    expect(r.modules.map((m) => [m.name, m.loaded, m.error])).toEqual([['kelp_target_mod', true, null], ['kelp_vm_mod', true, null]]);
    const [first, second, state] = r.checks.map((c) => c.output);
    // helper() is b.c's (returns 2), not a.c's (returns 1); the counter is the module's own.
    expect(first).toMatch(/^patched helper=2 counter=1 cmdline=.*console=ttyS0.*\n$/);
    expect(second).toMatch(/^patched helper=2 counter=2 cmdline=/);
    expect(state).toBe('1\n0\n');
    // Unpatched, the original function sees the counter the patch advanced.
    expect(r.checksAfterDisable[0].output).toBe('original helper=2 a=1 counter=2\n');
  }, 300_000);
});
