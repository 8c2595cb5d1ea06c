/**
 * End to end on the real Debian kernel: `kelp target fetch` gives a usable
 * kdir, a livepatch built against it changes /proc/cmdline under QEMU and
 * disabling it brings the original back; broken inputs are reported clearly.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { RunResult } from '../../src/target/run.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { KELP_BIN } from '../support/paths.js';
import { artifactsDir, buildKbuildModule, getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

const PATCHED = 'kelp livepatch-cmdline: this line comes from the patch';

let pre: PrereqStatus | undefined;
let target: TargetInfo;
let livepatch: { dir: string; modules: string[]; cleanup: () => void } | undefined;

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
  livepatch = await buildKbuildModule('test/fixtures/livepatch-cmdline', target.kdir);
  await fs.mkdir(artifactsDir(), { recursive: true });
}, 900_000);

afterAll(() => livepatch?.cleanup());

async function kelp(args: string[], timeoutMs = 180_000) {
  return execa(KELP_BIN, args, { reject: false, timeout: timeoutMs, env: { LC_ALL: 'C' } });
}

/** The --json result of `kelp target run`, or a failure that shows what kelp said instead. */
function parseRun(r: { stdout: string; stderr: string; exitCode?: number }): RunResult {
  try {
    return JSON.parse(r.stdout) as RunResult;
  } catch {
    throw new Error(`kelp target run printed no JSON (exit ${r.exitCode}): ${r.stderr}`);
  }
}

function logFile(name: string): string {
  return join(artifactsDir(), `${name}.log`);
}

describe('kelp target fetch', () => {
  test('prints the cached kernel, headers and maps as JSON, and a second call returns at once', async () => {
    if (skipUnlessReady(pre)) return;
    const first = await kelp(['target', 'fetch', '--json']);
    expect(first.stderr).not.toMatch(/internal error/);
    expect(first.exitCode).toBe(0);
    const info = JSON.parse(first.stdout) as TargetInfo;
    expect(info.release).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+-\d+/);
    expect(info.kernel).toBe(target.kernel);
    for (const p of [info.kernel, info.systemMap, info.config, info.symvers, join(info.kdir, 'Makefile')]) {
      expect((await fs.stat(p)).size).toBeGreaterThan(0);
    }
    expect((await fs.stat(join(info.modules, 'kernel'))).isDirectory()).toBe(true);
    expect(await fs.readFile(info.config, 'utf8')).toMatch(/^CONFIG_LIVEPATCH=y$/m);
    // A real symbol table (Debian ships a placeholder), at link-time addresses.
    const map = await fs.readFile(info.systemMap, 'utf8');
    expect(map).toMatch(/^ffffffff81000000 T _text$/m);
    expect(map).toMatch(/^ffffffff[0-9a-f]{8} t cmdline_proc_show$/m);
    expect(map.split('\n').length).toBeGreaterThan(50_000);
    expect(map).not.toMatch(/\[\w+\]$/m);
    // The headers' links now stay inside the cache.
    expect(await fs.realpath(join(info.kdir, 'scripts'))).toContain(info.kdir.split('/root/usr/src/')[0]!);
    expect(await fs.readlink(join(info.modules, 'build'))).not.toMatch(/^\//);

    const started = Date.now();
    const second = await kelp(['target', 'fetch', '--json']);
    const elapsed = Date.now() - started;
    expect(second.exitCode).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual(info);
    expect(elapsed).toBeLessThan(5000);
  });
});

describe('kelp target run', () => {
  test('livepatch-cmdline: patched /proc/cmdline, enabled, original output after --disable', async () => {
    if (skipUnlessReady(pre)) return;
    expect(livepatch!.modules.map((m) => m.split('/').pop())).toEqual(['livepatch-cmdline.ko']);
    const r = await kelp([
      'target', 'run', '--kernel', target.kernel, '--load', livepatch!.modules[0]!,
      '--check', 'cat /proc/cmdline', '--expect', 'comes from the patch',
      '--disable', 'livepatch_cmdline', '--json', '--log', logFile('livepatch-cmdline'),
    ]);
    const result = parseRun(r);
    expect(result.error).toBeNull();
    expect(result.modules).toEqual([expect.objectContaining({ name: 'livepatch_cmdline', loaded: true, enabled: true, error: null })]);
    expect(result.checks).toEqual([{ command: 'cat /proc/cmdline', output: `${PATCHED}\n`, exitCode: 0 }]);
    expect(result.expect).toEqual([{ pattern: 'comes from the patch', matched: true }]);
    expect(result.disabled).toEqual([{ name: 'livepatch_cmdline', ok: true, enabled: null, error: null }]);
    expect(result.checksAfterDisable).toHaveLength(1);
    expect(result.checksAfterDisable[0]!.exitCode).toBe(0);
    // The original function again: the kernel's real command line.
    expect(result.checksAfterDisable[0]!.output).toMatch(/^console=ttyS0 .*panic=-1/);
    expect(result.checksAfterDisable[0]!.output).not.toContain(PATCHED);
    expect(result.kernelMessages.join('\n')).toMatch(/livepatch: 'livepatch_cmdline': patching complete/);
    expect(result.kernelMessages.join('\n')).toMatch(/livepatch: 'livepatch_cmdline': unpatching complete/);
    expect(result.taint).not.toBeNull();
    expect(result.taint! & (1 << 15)).toBe(1 << 15); // TAINT_LIVEPATCH
    expect(result.bootTime).toBeGreaterThan(0);
    expect(result.totalTime).toBeGreaterThanOrEqual(result.bootTime!);
    // Software emulation boots the image's vmlinux through its PVH entry (src/target/pvh.ts).
    expect(result.pvh).toBe(true);
    expect(result.ok).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(await fs.readFile(logFile('livepatch-cmdline'), 'utf8')).toContain('@@KELP:');
  });

  test('in process: an ordinary module is inserted before the livepatch, kelpctl is in the initramfs', async () => {
    if (skipUnlessReady(pre)) return;
    const src = makeTmpDir('plainmod');
    try {
      await fs.writeFile(join(src.dir, 'kelp-plain.c'), [
        '#include <linux/module.h>',
        'static int __init plain_init(void) { pr_info("kelp-plain: hello from an ordinary module\\n"); return 0; }',
        'static void __exit plain_exit(void) { }',
        'module_init(plain_init);',
        'module_exit(plain_exit);',
        'MODULE_LICENSE("GPL");',
        '',
      ].join('\n'));
      await fs.writeFile(join(src.dir, 'Kbuild'), 'obj-m := kelp-plain.o\n');
      const plain = await buildKbuildModule(src.dir, target.kdir);
      try {
        const r = await runOnTarget('plain-then-livepatch', {
          kernel: target.kernel, load: [plain.modules[0]!, livepatch!.modules[0]!],
          check: ['command -v kelpctl', 'cat /proc/cmdline', 'cat /sys/module/kelp_plain/initstate'],
          timeout: 120,
        });
        expect(r.error).toBeNull();
        expect(r.modules.map((m) => [m.name, m.loaded, m.enabled, m.error])).toEqual([
          ['kelp_plain', true, null, null],
          ['livepatch_cmdline', true, true, null],
        ]);
        expect(r.modules[1]!.output).toMatch(/livepatch_cmdline: loaded, transition complete/);
        expect(r.checks.map((c) => c.output)).toEqual(['/bin/kelpctl\n', `${PATCHED}\n`, 'live\n']);
        expect(r.kernelMessages.join('\n')).toContain('kelp-plain: hello from an ordinary module');
        expect(r.checksAfterDisable).toEqual([]);
        expect(r.ok).toBe(true);
        expect(r.log).toBe(join(artifactsDir(), 'plain-then-livepatch.log'));
      } finally {
        plain.cleanup();
      }
    } finally {
      src.cleanup();
    }
  });

  test('an --expect that does not match fails the run with exit 1', async () => {
    if (skipUnlessReady(pre)) return;
    const r = await kelp([
      'target', 'run', '--kernel', target.kernel, '--load', livepatch!.modules[0]!, '--bzimage',
      '--check', 'cat /proc/cmdline', '--check', 'exit 3', '--expect', '^console=ttyS0', '--json', '--log', logFile('expect-mismatch'),
    ], 360_000);
    const result = parseRun(r);
    expect(result.error).toBeNull();
    // --bzimage: the image as it is, through its own decompressor.
    expect(result.pvh).toBe(false);
    expect(result.modules[0]!.loaded).toBe(true);
    expect(result.checks.map((c) => c.exitCode)).toEqual([0, 3]);
    expect(result.expect).toEqual([{ pattern: '^console=ttyS0', matched: false }]);
    expect(result.ok).toBe(false);
    expect(r.exitCode).toBe(1);
  }, 400_000);

  test('a file that is not a module is reported for that module, and the run exits non-zero', async () => {
    if (skipUnlessReady(pre)) return;
    const tmp = makeTmpDir('notamodule');
    try {
      const bogus = join(tmp.dir, 'not-a-module.ko');
      await fs.writeFile(bogus, 'this is text, not an ELF kernel module\n');
      const r = await kelp([
        'target', 'run', '--kernel', target.kernel, '--load', bogus, '--load', livepatch!.modules[0]!,
        '--check', 'cat /proc/cmdline', '--json', '--log', logFile('not-a-module'),
      ]);
      const result = parseRun(r);
      expect(result.error).toBeNull();
      expect(result.modules).toHaveLength(2);
      expect(result.modules[0]).toEqual(expect.objectContaining({ name: 'not_a_module', loaded: false, enabled: null }));
      expect(result.modules[0]!.error).toMatch(/not an ELF file|invalid module format|insmod/i);
      // The next module still loads.
      expect(result.modules[1]).toEqual(expect.objectContaining({ name: 'livepatch_cmdline', loaded: true, enabled: true, error: null }));
      expect(result.checks[0]!.output).toBe(`${PATCHED}\n`);
      expect(result.ok).toBe(false);
      expect(r.exitCode).toBe(1);
    } finally {
      tmp.cleanup();
    }
  });

  test('a file that is not a kernel image is refused with one clear line', async () => {
    if (skipUnlessReady(pre)) return;
    const r = await kelp(['target', 'run', '--kernel', target.config, '--check', 'true']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.trim()).toBe(`kelp: ${target.config}: not an x86 Linux kernel image (no bzImage boot header)`);
    const missing = await kelp(['target', 'run', '--kernel', '/nonexistent/vmlinuz']);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr.trim()).toBe('kelp: /nonexistent/vmlinuz: no such kernel image');
  });

  test('a kernel that cannot boot is killed at the timeout and its console log is kept', async () => {
    if (skipUnlessReady(pre)) return;
    const tmp = makeTmpDir('badkernel');
    try {
      // A real bzImage with part of its compressed payload zeroed: the boot
      // header is fine, the decompressor never gets to start the kernel.
      const image = await fs.readFile(target.kernel);
      image.fill(0, 3_000_000, 3_000_000 + 65536);
      const broken = join(tmp.dir, 'vmlinuz-broken');
      await fs.writeFile(broken, image);
      const log = logFile('broken-kernel');
      await fs.rm(log, { force: true });
      const started = Date.now();
      const r = await kelp(['target', 'run', '--kernel', broken, '--check', 'true', '--timeout', '5', '--json', '--log', log]);
      const elapsed = Date.now() - started;
      const result = parseRun(r);
      expect(result.timedOut).toBe(true);
      expect(result.completed).toBe(false);
      expect(result.error).toBe('killed after 5s: the kernel did not reach the init');
      expect(result.checks).toEqual([{ command: 'true', output: '', exitCode: null }]);
      expect(result.log).toBe(log);
      expect(await fs.readFile(log, 'utf8')).toMatch(/SeaBIOS|Booting/);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/^kelp: .*vmlinuz-broken: killed after 5s: the kernel did not reach the init \(console log: /);
      expect(elapsed).toBeLessThan(20_000);
    } finally {
      tmp.cleanup();
    }
  });
});
