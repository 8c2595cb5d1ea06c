/**
 * Linux 6.12 end to end on Debian 13's own kernel (the newest trixie release
 * with source: IBT, call padding, gcc 14): `kelp build --release R` of the OOT
 * example and of the vmlinux example, both compiled in the trixie build root
 * (the host is bookworm, gcc 12), checked with `kelp check`, then proved in
 * one shared boot: kelp_demo and both livepatches load, /proc/kelp_demo and
 * /proc/cmdline show the patched lines, and once both patches are disabled
 * the original lines are back.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { chooseToolchain, makeInvocation, withToolchain } from '../../src/kernel/toolchain.js';
import { cacheRoot } from '../../src/target/cache.js';
import { BUILD_ROOT_PACKAGES } from '../../src/target/packages.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTrixieTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { kelp } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('build-trixie');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages({ source: true }), ...BUILD_ROOT_PACKAGES]);
  if (!pre.ok) return;
  target = await getTrixieTarget();
}, 3_000_000);

interface Report {
  moduleName: string;
  targets: Record<string, string[]>;
  compiler: { kernel: string | null; used: string | null; where: string; checkSkipped: boolean };
  objects: Array<{ changedFunctions: Array<{ name: string }> }>;
}

const built: Record<string, { ko: string; report: Report }> = {};

function build(name: string, args: string[]): { ko: string; report: Report } {
  const out = join(tmp.dir, name);
  const r = kelp(['build', ...args, '--release', target.release, '--no-replace', '-o', out, '--json']);
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout) as Report;
  // Compiled by the kernel's own gcc 14, in the trixie build root.
  expect(target.compiler).toMatch(/gcc-14 /);
  expect(report.compiler).toEqual({ kernel: target.compiler, used: target.compiler, where: join(cacheRoot(), 'roots', 'trixie-gcc-14'), checkSkipped: false });
  const ko = join(out, `livepatch-${name}.ko`);
  const check = kelp(['check', ko, '--symbols', target.systemMap, '--kdir', target.kdir]);
  expect([check.status, check.stdout + check.stderr]).toEqual([0, expect.any(String)]);
  return { ko, report };
}

describe(`Debian 13's 6.12 kernel (${process.env.KELP_TEST_TRIXIE_RELEASE ?? 'newest trixie release with source'})`, () => {
  test('the fetch describes a trixie 6.12 kernel built by gcc 14, its source prepared in the root', () => {
    if (skipUnlessReady(pre)) return;
    expect(target.release).toMatch(/^6\.12\.\d+\+deb13(\.\d+)?-amd64$/);
    expect([target.codename, target.flavour]).toEqual(['trixie', 'amd64']);
    const config = readFileSync(target.config, 'utf8');
    for (const o of ['X86_KERNEL_IBT', 'CALL_PADDING', 'LIVEPATCH']) expect(config).toMatch(new RegExp(`^CONFIG_${o}=y$`, 'm'));
    expect(readFileSync(join(target.source!, 'scripts', 'mod', '.empty.o.cmd'), 'latin1')).toMatch(/^savedcmd_.*gcc-14 /);
  });

  test('kelp build --release: the OOT example (fix.patch) in the trixie root', () => {
    if (skipUnlessReady(pre)) return;
    built.fix = build('fix', [join(REPO_ROOT, 'examples/oot/fix.patch'), '--oot-module', join(REPO_ROOT, 'examples/oot'), '--target', 'kelp_demo']);
    expect(built.fix.report.targets).toEqual({ kelp_demo: ['kelp_demo.o'] });
  }, 900_000);

  test('kelp build --release: the vmlinux example (cmdline.patch) from the prepared 6.12 source', () => {
    if (skipUnlessReady(pre)) return;
    built.cmdline = build('cmdline', [join(REPO_ROOT, 'examples/vmlinux/cmdline.patch')]);
    expect(built.cmdline.report.targets).toEqual({ vmlinux: ['fs/proc/cmdline.o'] });
    expect(built.cmdline.report.objects[0]!.changedFunctions.map((f) => f.name)).toEqual(['cmdline_proc_show']);
  }, 900_000);

  test('one boot: kelp_demo and both livepatches load, patch, and unpatch', async () => {
    if (skipUnlessReady(pre) || built.fix === undefined || built.cmdline === undefined) return;
    // The original kelp_demo.ko, built by the kernel's own kbuild in the root as kelp builds it.
    const mod = join(tmp.dir, 'kelp_demo');
    await fs.cp(join(REPO_ROOT, 'examples', 'oot'), mod, { recursive: true, filter: (s) => !s.includes('/out') });
    const config = await fs.readFile(target.config, 'utf8');
    const toolchain = await chooseToolchain({ config, configFile: target.config, codename: target.codename, cache: cacheRoot(), binds: [cacheRoot(), mod] });
    const r = await withToolchain(toolchain, async () => {
      const run = makeInvocation(['-C', target.kdir, `M=${mod}`, 'modules'], mod, { LC_ALL: 'C' });
      return execa(run.file, run.args, { cwd: mod, env: run.env, extendEnv: run.file === 'make', reject: false, all: true });
    });
    expect([r.exitCode, (r.all ?? '').slice(-2000)]).toEqual([0, expect.any(String)]);
    expect(existsSync(join(mod, 'kelp_demo.ko'))).toBe(true);
    const names = [built.fix.report.moduleName, built.cmdline.report.moduleName];
    const boot = await runOnTarget('trixie-examples', {
      kernel: target.kernel,
      load: [join(mod, 'kelp_demo.ko'), built.fix.ko, built.cmdline.ko],
      check: ['cat /proc/kelp_demo', 'cat /proc/kelp_demo', 'cat /proc/cmdline'],
      disable: names,
      timeout: 600,
    });
    expect([boot.error, boot.modules.map((m) => [m.name, m.error])]).toEqual([null, boot.modules.map((m) => [m.name, null])]);
    expect(boot.checks.map((c) => c.output)).toEqual([
      'hello from kelp_demo, read 1 time(s), fixed by a livepatch\n',
      'hello from kelp_demo, read 2 time(s), fixed by a livepatch\n',
      expect.stringMatching(/console=ttyS0.* kelp_example=patched\n$/),
    ]);
    expect(boot.disabled.map((d) => [d.name, d.ok])).toEqual(names.map((n) => [n, true]));
    expect(boot.checksAfterDisable.map((c) => c.output)).toEqual([
      'hello from kelp_demo, read 3 time(s)\n',
      'hello from kelp_demo, read 4 time(s)\n',
      expect.not.stringMatching(/kelp_example=patched/),
    ]);
  }, 900_000);
});
