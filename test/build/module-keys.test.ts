/**
 * Static calls and jump labels keyed in a module, built unchanged (kpatch
 * and klp-build refuse them and ask for KPATCH_STATIC_CALL/KLP_STATIC_CALL
 * and static_key_enabled()): a static call site is left out of the
 * livepatch's .static_call_sites and its call stays on the module's
 * trampoline (__SCT__name), which static_call_update() rewrites together
 * with the module's own sites; a jump label site is left out of the
 * livepatch's __jump_table and jumps to a test of the key kelp appends to
 * the function (src/diff/key-test.ts).
 *
 *  - test/fixtures/static-call-module (kelp_sc): the patched /proc show
 *    function calls the module's static call and has a static_branch_unlikely
 *    and a static_branch_likely on the module's keys (2-byte sites, as gcc 12
 *    and objtool make them, beyond a short jmp's reach of the function's
 *    end: a neighbour of each moves into its test); retargeted with
 *    static_call_update(), and the keys switched on and off with
 *    static_branch_enable()/disable() while the livepatch is on, the patched
 *    function follows each. One boot.
 *  - test/fixtures/tracepoint-module (kelp_tp, two objects) on 6.1, where
 *    objtool has already made the tracepoint's site a NOP in the object: the
 *    site tests the module's __tracepoint key too, and tracefs shows the
 *    event fired from the patched code while it is enabled.
 *  - kvm (kvm-keys.patch): a fix to arch/x86/kvm/x86.c calling
 *    static_call(kvm_x86_*), whose keys and trampolines kvm.ko defines, and
 *    one to kvm_get_cr8, whose lapic_in_kernel() is a static_branch_unlikely
 *    on kvm's kvm_has_noapic_vcpu (inlined into three more functions, with
 *    apic_hw_disabled and apic_sw_disabled sites as well, 2-byte sites far
 *    from their function's end among them: their neighbours move into the
 *    key test), load with kvm.ko in the VM. (kvm's vendor modules cannot
 *    load under software emulation, so no vCPU runs the code and the
 *    trampoline stays the NULL one; the point is the build, the load and the
 *    relocations.)
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { kelp, outputs } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('module-keys');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (pre.ok) target = await getTarget({ source: true });
}, 1_200_000);
afterAll(() => tmp.cleanup());

/** The relocation sections of a module, as readelf names them. */
function relocationSections(ko: string): string[] {
  const r = spawnSync('readelf', ['-SW', ko], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/\] (\.(?:klp\.)?rela\S*)/g)].map((m) => m[1]!);
}

test('a module\'s own static call and static keys: the patched function calls through the trampoline and tests the keys, following static_call_update() and static_branch_enable()/disable() in the VM', () => {
  if (skipUnlessReady(pre)) return;
  const mod = join(REPO_ROOT, 'test', 'fixtures', 'static-call-module');
  const out = join(tmp.dir, 'sc');
  const r = kelp([
    'build', join(mod, 'fix.patch'), '--oot-module', mod, '--target', 'kelp_sc', '--kdir', target.kdir,
    '--name', 'livepatch-sc', '-o', out, '--json', '--verify',
    '--check', [
      'cat /proc/kelp_sc', 'echo two >/proc/kelp_sc', 'cat /proc/kelp_sc', 'echo on >/proc/kelp_sc', 'cat /proc/kelp_sc',
      'echo loud >/proc/kelp_sc', 'echo off >/proc/kelp_sc', 'cat /proc/kelp_sc', 'echo quiet >/proc/kelp_sc', 'cat /proc/kelp_sc',
    ].join('; '),
  ]);
  expect([r.status, r.status === 0 ? '' : r.stderr.slice(-3000)]).toEqual([0, '']);
  expect(r.stderr).toMatch(/kelp_sc_show\+0x[0-9a-f]+: static call site of module kelp_sc \(key __SCK__kelp_sc_op\) left out of the livepatch's table: it calls through the module's trampoline/);
  for (const key of ['kelp_sc_on', 'kelp_sc_quiet']) {
    expect(r.stderr).toMatch(new RegExp(`kelp_sc_show\\+0x[0-9a-f]+: jump label of module kelp_sc \\(key ${key}\\) left out of the livepatch's table: the patched code tests the key at run time`));
  }
  const ko = join(out, 'livepatch-sc.ko');
  expect(relocationSections(ko).filter((s) => s.includes('static_call') || s.includes('jump_table'))).toEqual([]);
  // The call reaches the trampoline by a livepatch relocation against kelp_sc.
  const syms = spawnSync('readelf', ['-sW', ko], { encoding: 'utf8' }).stdout;
  expect(syms).toMatch(/\.klp\.sym\.kelp_sc\.__SCT__kelp_sc_op,0/);
  // The key tests read the keys by livepatch relocations against kelp_sc.
  expect(syms).toMatch(/\.klp\.sym\.kelp_sc\.kelp_sc_on,0/);
  expect(syms).toMatch(/\.klp\.sym\.kelp_sc\.kelp_sc_quiet,0/);
  const code = spawnSync('objdump', ['-d', '--section=.text.kelp_sc_show', ko], { encoding: 'utf8' }).stdout;
  const tests = [...code.matchAll(/^ +([0-9a-f]+):\t83 3d .*\tcmpl\s+\$0x0,0x0\(%rip\)/gm)].map((m) => parseInt(m[1], 16));
  expect(tests).toHaveLength(2);
  // Both 2-byte sites lie beyond a short jmp's reach of the function's end (gcc 12): a neighbour of each moves into its test.
  expect(r.stderr.match(/the patched code tests the key at run time \(1 instruction\(s\) next to the site move into the test to make room for a jmp\)/g)).toHaveLength(2);
  // The function covers its tests, and ORC describes them (kelp's entries are against the section):
  // each test's cmpl has the state of its site, and a copy of the section's terminator follows them.
  const size = Number(/(\d+) FUNC +LOCAL +DEFAULT +\d+ kelp_sc_show$/m.exec(syms)![1]);
  const orc = spawnSync('readelf', ['-rW', ko], { encoding: 'utf8' }).stdout.split('\n\n').find((b) => b.includes("'.rela.orc_unwind_ip'"))!;
  const added = [...orc.matchAll(/R_X86_64_PC32 +0+ \.text\.kelp_sc_show \+ ([0-9a-f]+)$/gm)].map((m) => parseInt(m[1], 16));
  expect(added.at(-1)).toBe(size);
  for (const t of tests) expect(added).toContain(t);
  const report = JSON.parse(readFileSync(join(out, 'livepatch-sc.json'), 'utf8'));
  // Each line: cat after nothing, two, on, loud+off, quiet.
  expect(outputs(report).before[0]).toBe([
    'patched value 1', 'patched value 2', 'patched value 2', 'patched key on', 'patched value 2', 'patched loud', 'patched value 2', '',
  ].join('\n'));
  // The module's own code again, its jump labels switched by the kernel.
  expect(outputs(report).after[0]).toBe(['value 2', 'value 2', 'value 2', 'key on', 'value 2', 'loud', 'value 2', ''].join('\n'));
  expect(report.verify.ok).toBe(true);
}, 900_000);

test('a tracepoint of a two-object module on 6.1, whose site objtool has already made a NOP in the object: the site tests its key at run time, so the event fires from the patched code in the VM', () => {
  if (skipUnlessReady(pre)) return;
  const mod = join(REPO_ROOT, 'test', 'fixtures', 'tracepoint-module');
  const out = join(tmp.dir, 'tp');
  // Two reads with the event enabled, one with it disabled: the trace holds what fired.
  const check = 'T=/sys/kernel/tracing; grep -q " $T " /proc/mounts || mount -t tracefs nodev $T; echo > $T/trace; '
    + 'echo 1 > $T/events/kelp_tp/kelp_tp_read/enable; cat /proc/kelp_tp; cat /proc/kelp_tp; '
    + 'echo 0 > $T/events/kelp_tp/kelp_tp_read/enable; cat /proc/kelp_tp; grep -o "kelp_tp_read: value=[0-9]*" $T/trace';
  const r = kelp([
    'build', join(mod, 'fix.patch'), '--oot-module', mod, '--target', 'kelp_tp', '--kdir', target.kdir,
    '--name', 'livepatch-tp', '-o', out, '--json', '--verify', '--check', check,
  ]);
  expect([r.status, r.status === 0 ? '' : r.stderr.slice(-3000)]).toEqual([0, '']);
  expect(r.stderr).toMatch(/kelp_tp_show\+0x[0-9a-f]+: jump label of module kelp_tp \(key __tracepoint_kelp_tp_read\) left out of the livepatch's table: the patched code tests the key at run time/);
  expect(r.stderr).not.toMatch(/stays off/);
  const ko = join(out, 'livepatch-tp.ko');
  expect(relocationSections(ko).filter((s) => s.includes('jump_table'))).toEqual([]);
  expect(spawnSync('readelf', ['-sW', ko], { encoding: 'utf8' }).stdout).toMatch(/\.klp\.sym\.kelp_tp\.__tracepoint_kelp_tp_read,0/);
  const report = JSON.parse(readFileSync(join(out, 'livepatch-tp.json'), 'utf8'));
  const fired = (v: number) => `kelp_tp_read: value=${v}\nkelp_tp_read: value=${v}\n`;
  // The patched code fires the event (value + 100) while it is enabled, and only then; disabled, the module's own code does.
  // (The last line of each: kelp's own check of the livepatch's enabled state.)
  expect(outputs(report).before).toEqual([`patched value 1\npatched value 1\npatched value 1\n${fired(101)}`, '1\n']);
  expect(outputs(report).after).toEqual([`value 1\nvalue 1\nvalue 1\n${fired(1)}`, 'disabled\n']);
  expect(report.verify.ok).toBe(true);
}, 900_000);

test('kvm: fixes calling static_call(kvm_x86_complete_emulated_msr) and testing lapic_in_kernel() build unchanged and load with kvm.ko in the VM', () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'kvm');
  const r = kelp([
    'build', join(REPO_ROOT, 'test', 'build', 'fixtures', 'kvm-keys.patch'), '--sourcedir', target.source!, '--kdir', target.kdir,
    '--symbols', target.systemMap, '--name', 'livepatch-kvm', '-o', out, '--json', '--verify',
    '--check', 'ls /sys/kernel/livepatch/livepatch_kvm/kvm', '--check', 'cat /sys/kernel/livepatch/livepatch_kvm/kvm/patched',
    '--check', 'grep -c "^kvm " /proc/modules',
  ]);
  expect([r.status, r.status === 0 ? '' : r.stderr.slice(-3000)]).toEqual([0, '']);
  expect(r.stderr).toMatch(/complete_fast_msr_access\+0x[0-9a-f]+: static call site of module kvm \(key __SCK__kvm_x86_complete_emulated_msr\) left out/);
  for (const [fn, key] of [['kvm_get_cr8', 'kvm_has_noapic_vcpu'], ['emulator_get_cr', 'kvm_has_noapic_vcpu'], ['kvm_arch_vcpu_ioctl_run', 'apic_sw_disabled']]) {
    expect(r.stderr).toMatch(new RegExp(`${fn}\\+0x[0-9a-f]+: jump label of module kvm \\(key ${key}\\) left out of the livepatch's table: the patched code tests the key at run time`));
  }
  const report = JSON.parse(readFileSync(join(out, 'livepatch-kvm.json'), 'utf8'));
  const changed = ['__get_sregs_common', 'complete_fast_msr_access', 'complete_fast_rdmsr', 'emulator_get_cr', 'kvm_arch_vcpu_ioctl_run', 'kvm_get_cr8'];
  expect(report.objects.map((o: { target: string; changedFunctions: Array<{ name: string }> }) => [o.target, o.changedFunctions.map((f) => f.name).sort()]))
    .toEqual([['kvm', changed]]);
  const ko = join(out, 'livepatch-kvm.ko');
  // The tables keep their sites keyed in vmlinux; none keyed in kvm.
  expect(relocationSections(ko).filter((s) => s.startsWith('.klp.rela.kvm.') && (s.includes('static_call') || s.includes('jump_table')))).toEqual([]);
  expect(spawnSync('readelf', ['-sW', ko], { encoding: 'utf8' }).stdout).toMatch(/\.klp\.sym\.kvm\.kvm_has_noapic_vcpu,0/);
  const [funcs, patched, kvm] = outputs(report).before;
  // complete_fast_rdmsr has the changed function inlined, as do the callers of kvm_get_cr8; the kvm object is patched.
  expect(funcs).toBe(`${changed.map((f) => `${f},1`).join('\n')}\npatched\n`);
  expect(patched).toBe('1\n');
  expect(kvm).toBe('1\n');
  expect(report.verify.ok).toBe(true);
}, 1_200_000);
