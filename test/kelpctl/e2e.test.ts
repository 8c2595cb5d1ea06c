/**
 * kelpctl on the real Debian kernel under QEMU: `kelp target run` puts
 * bin/kelpctl into the initramfs as /bin/kelpctl, loads the modules with it
 * (under busybox ash), and runs the checks, which drive kelpctl further.
 *
 * Fixtures: test/fixtures/kelpctl-replace builds kelpctl_fixture_a and
 * kelpctl_fixture_b, both replacing cmdline_proc_show (so /proc/cmdline says
 * "kelpctl fixture a|b") with .replace = true.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { buildKbuildModule, getTarget, runOnTarget, targetPackages, type RunResult, type TargetInfo } from '../support/target.js';

let pre: PrereqStatus;
let target: TargetInfo;
let built: { dir: string; modules: string[]; cleanup: () => void } | undefined;
let modA: string;
let modB: string;
let modOther: string;
let otherRelease: string;

/** The same length as `release` but different, so the .modinfo layout is unchanged. */
function anotherRelease(release: string): string {
  const i = release.search(/[0-9]/);
  if (i < 0) throw new Error(`no digit in release ${release}`);
  const d = String((Number(release[i]) + 1) % 10);
  return release.slice(0, i) + d + release.slice(i + 1);
}

/** A copy of a module whose vermagic names another kernel release. */
async function withOtherRelease(file: string, release: string, other: string, out: string): Promise<void> {
  const buf = await fs.readFile(file);
  const from = Buffer.from(`vermagic=${release} `);
  const at = buf.indexOf(from);
  if (at < 0 || buf.indexOf(from, at + 1) >= 0) throw new Error(`expected one vermagic=${release} in ${file}`);
  Buffer.from(`vermagic=${other} `).copy(buf, at);
  await fs.writeFile(out, buf);
}

function describeRun(r: RunResult): string {
  return JSON.stringify({ ...r, kernelMessages: r.kernelMessages.slice(-20) }, null, 2);
}

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
  built = await buildKbuildModule('test/fixtures/kelpctl-replace', target.kdir);
  modA = built.modules.find((m) => m.endsWith('/kelpctl_fixture_a.ko'))!;
  modB = built.modules.find((m) => m.endsWith('/kelpctl_fixture_b.ko'))!;
  expect(modA).toBeDefined();
  expect(modB).toBeDefined();
  otherRelease = anotherRelease(target.release);
  // Same module name, so that a wrongly accepted load would show up in sysfs.
  modOther = join(built.dir, 'kelpctl_fixture_a-other-release.ko');
  await withOtherRelease(modA, target.release, otherRelease, modOther);
}, 900_000);

afterAll(() => built?.cleanup());

/** A check's output, failing with the whole run when it did not exit 0. */
function checkOutput(r: RunResult, i: number, after = false): string {
  const c = (after ? r.checksAfterDisable : r.checks)[i];
  if (c === undefined || c.exitCode !== 0) throw new Error(`check ${i} (${c?.command}) failed:\n${describeRun(r)}`);
  return c.output;
}

test('load, list, info and unload on the real kernel; a module for another release is refused', async () => {
  if (skipUnlessReady(pre)) return;
  const r = await runOnTarget('kelpctl-load-unload', {
    kernel: target.kernel,
    load: [modOther, modA],
    check: [
      'cat /proc/cmdline',
      'kelpctl list',
      'kelpctl info "$(find / -xdev -name kelpctl_fixture_a.ko | head -n 1)"',
      'kelpctl unload kelpctl_fixture_a && cat /proc/cmdline && test ! -d /sys/module/kelpctl_fixture_a && ' +
        'test ! -d /sys/kernel/livepatch/kelpctl_fixture_a && echo module-gone',
      'kelpctl list',
      'kelpctl unload kelpctl_fixture_a; echo "exit $?"',
    ],
    timeout: 300,
  });
  if (!r.completed) throw new Error(`the target did not finish:\n${describeRun(r)}`);

  // The module for another release: refused by kelpctl, never inserted.
  const [other, a] = r.modules;
  expect(other!.loaded).toBe(false);
  expect(other!.output).toBe(
    `kelpctl: ${other!.output.match(/^kelpctl: (\S+-other-release\.ko):/)?.[1]}: ` +
      `built for kernel ${otherRelease}, running kernel is ${target.release}\n`,
  );
  // The init falls back to insmod only for non-livepatch modules (exit 6), so exit 5 stays.
  expect(other!.error).toContain(`built for kernel ${otherRelease}`);

  // The real one: loaded through kelpctl, transition complete.
  expect(a!.error).toBeNull();
  expect(a!.loaded).toBe(true);
  expect(a!.enabled).toBe(true);
  expect(a!.output).toContain('kelpctl: kelpctl_fixture_a: loaded, transition complete');

  expect(checkOutput(r, 0)).toBe('kelpctl fixture a\n');
  expect(checkOutput(r, 1)).toBe(
    'Loaded patch modules:\n' +
      '  kelpctl_fixture_a  enabled=1 transition=0 objects=vmlinux\n' +
      `Installed patch modules (${target.release}):\n` +
      '  (none)\n',
  );
  const info = checkOutput(r, 2);
  expect(info).toContain('name:      kelpctl_fixture_a\n');
  expect(info).toContain(`release:   ${target.release} (running kernel)\n`);
  expect(info).toContain('livepatch: Y\n');
  expect(info).toContain('state:     applied, enabled=1 transition=0\n');
  expect(info).toContain('object:    vmlinux: cmdline_proc_show,1\n');

  // Unloaded: the original /proc/cmdline is back and the module is gone.
  const unload = checkOutput(r, 3);
  expect(unload).toMatch(/^kelpctl: kelpctl_fixture_a: unloaded\n/);
  expect(unload).not.toContain('kelpctl fixture');
  expect(unload).toMatch(/console=ttyS0/);
  expect(unload).toMatch(/module-gone\n$/);
  expect(checkOutput(r, 4)).toBe(`Loaded patch modules:\n  (none)\nInstalled patch modules (${target.release}):\n  (none)\n`);
  expect(checkOutput(r, 5)).toBe('kelpctl: kelpctl_fixture_a: no such patch or module is loaded\nexit 7\n');
}, 900_000);

test('a second .replace patch atomically replaces the first; disabling it restores the original', async () => {
  if (skipUnlessReady(pre)) return;
  const r = await runOnTarget('kelpctl-replace', {
    kernel: target.kernel,
    load: [modA, modB],
    check: ['cat /proc/cmdline', 'kelpctl list', 'cat /sys/kernel/livepatch/kelpctl_fixture_b/transition'],
    disable: ['kelpctl_fixture_b'],
    timeout: 300,
  });
  if (!r.completed) throw new Error(`the target did not finish:\n${describeRun(r)}`);
  for (const m of r.modules) {
    expect(m.error).toBeNull();
    expect(m.output).toContain(`kelpctl: ${m.name}: loaded, transition complete`);
  }
  expect(checkOutput(r, 0)).toBe('kelpctl fixture b\n');
  // a is replaced: its patch left sysfs, its module stays until unloaded.
  expect(checkOutput(r, 1)).toBe(
    'Loaded patch modules:\n' +
      '  kelpctl_fixture_b  enabled=1 transition=0 objects=vmlinux\n' +
      '  kelpctl_fixture_a  enabled=0 (module loaded, patch not applied)\n' +
      `Installed patch modules (${target.release}):\n` +
      '  (none)\n',
  );
  expect(checkOutput(r, 2)).toBe('0\n');

  // kelpctl disable b: not back to a (replaced), but to the original function.
  expect(r.disabled).toEqual([{ name: 'kelpctl_fixture_b', ok: true, enabled: null, error: null }]);
  const after = checkOutput(r, 0, true);
  expect(after).not.toContain('kelpctl fixture');
  expect(after).toMatch(/console=ttyS0/);
  expect(checkOutput(r, 1, true)).toBe(
    'Loaded patch modules:\n' +
      '  kelpctl_fixture_a  enabled=0 (module loaded, patch not applied)\n' +
      '  kelpctl_fixture_b  enabled=0 (module loaded, patch not applied)\n' +
      `Installed patch modules (${target.release}):\n` +
      '  (none)\n',
  );
}, 900_000);
