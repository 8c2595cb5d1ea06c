/**
 * `kelp target add`: a kernel kelp did not fetch, registered under a name and
 * then used as `--release NAME` by build (with --verify) and check. The
 * kernel is one the suite builds itself (test/support/selfbuilt.ts: Debian's
 * 6.12 source, tinyconfig plus livepatch, the host's gcc 12, cached), so the
 * compiler rule picks the host's gcc. Bad registrations are refused in one
 * line and leave nothing registered.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheRoot } from '../../src/target/cache.js';
import { BUILD_ROOT_PACKAGES, SOURCE_PACKAGES } from '../../src/target/packages.js';
import { kelp } from '../build/support.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getSelfBuiltKernel, type SelfBuilt } from '../support/selfbuilt.js';
import { getTrixieTarget, targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus;
let tiny: SelfBuilt;
const NAME = 'kelp-test-tiny';
const tmp = makeTmpDir('target-add');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages({ source: true }), ...SOURCE_PACKAGES, ...BUILD_ROOT_PACKAGES]);
  if (!pre.ok) return;
  // The trixie target's prepared 6.12 source is the one the small kernel is built from.
  tiny = await getSelfBuiltKernel(await getTrixieTarget(), (l) => process.stderr.write(`selfbuilt: ${l}\n`));
}, 3_600_000);

interface Info { kernel: string; systemMap: string; kdir: string; source: string; release: string; suite: string; codename: string; compiler: string | null }

function add(name: string, extra: string[]): ReturnType<typeof kelp> {
  return kelp(['target', 'add', name, '--source', tiny.tree, '--image', tiny.image, ...extra, '--json']);
}

describe('kelp target add', () => {
  let info: Info;

  test('registers a self-built kernel from its vmlinux: release, compiler and paths', async () => {
    if (skipUnlessReady(pre)) return;
    const r = add(NAME, ['--vmlinux', tiny.vmlinux]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    info = JSON.parse(r.stdout) as Info;
    const release = readFileSync(join(tiny.tree, 'include', 'config', 'kernel.release'), 'utf8').trim();
    expect(release).toMatch(/^6\.12\.\d+-kelp-tiny$/);
    const host = (await execa('gcc', ['--version'], { env: { LC_ALL: 'C' } })).stdout.split('\n')[0];
    expect(info).toMatchObject({ release, suite: 'custom', kernel: tiny.image, kdir: tiny.tree, source: tiny.tree, compiler: host, codename: 'bookworm' });
    expect(info.systemMap).toBe(join(cacheRoot(), 'targets', NAME, `System.map-${release}`));
    // The symbols the kernel's own System.map has (nm's view of vmlinux, as scripts/mksysmap filters it).
    const own = readFileSync(tiny.systemMap, 'latin1');
    const mine = readFileSync(info.systemMap, 'latin1');
    for (const s of ['cmdline_proc_show', 'saved_command_line', 'klp_enable_patch', 'linux_banner']) {
      const line = new RegExp(`^[0-9a-f]{16} \\w ${s}$`, 'm');
      expect([s, line.exec(mine)?.[0]]).toEqual([s, line.exec(own)?.[0]]);
    }
  });

  test('a registered kernel is listed by name and "fetched" as it is', () => {
    if (skipUnlessReady(pre)) return;
    const list = kelp(['target', 'list', '--json']);
    expect(list.status).toBe(0);
    const rows = JSON.parse(list.stdout) as { release: string; version: string; suite: string; headers: boolean; source: boolean }[];
    expect(rows.filter((r) => r.release === NAME)).toEqual([expect.objectContaining({ version: info.release, suite: 'custom', headers: true, source: true })]);
    // Debian's releases come first, the registered ones after them.
    const suites = rows.map((r) => (r.suite === 'custom' ? 'custom' : 'debian'));
    expect(suites.join(' ')).toMatch(/^(debian )+(custom ?)+$/);
    const fetched = kelp(['target', 'fetch', '--release', NAME, '--source', '--json']);
    expect(fetched.status).toBe(0);
    expect(JSON.parse(fetched.stdout)).toEqual(info);
    expect(fetched.stderr).toMatch(/is a registered kernel \(kelp target add\).*nothing to fetch/);
  });

  test('bad registrations: one line each, nothing registered', () => {
    if (skipUnlessReady(pre)) return;
    const cases: Array<[string[], RegExp]> = [
      [['--vmlinux', tiny.vmlinux, '--system-map', tiny.systemMap], /: give the kernel's symbols with exactly one of --vmlinux and --system-map$/],
      [['--system-map', join(tiny.tree, 'Makefile')], /Makefile: not a System\.map/],
      [['--vmlinux', join(tiny.tree, 'Makefile')], /Makefile: nm cannot read it/],
    ];
    for (const [extra, message] of cases) {
      const r = add('kelp-test-bad', extra);
      expect([extra, r.status, r.stderr.trim().split('\n')]).toEqual([extra, 1, [expect.stringMatching(message)]]);
      expect(r.stderr).toMatch(/^kelp: /);
    }
    const notImage = kelp(['target', 'add', 'kelp-test-bad', '--source', tiny.tree, '--image', tiny.vmlinux, '--vmlinux', tiny.vmlinux]);
    expect([notImage.status, notImage.stderr.trim()]).toEqual([1, `kelp: ${tiny.vmlinux}: not an x86 Linux kernel image (no bzImage boot header)`]);
    const badName = add('../escape', ['--vmlinux', tiny.vmlinux]);
    expect([badName.status, badName.stderr.trim()]).toEqual([1, expect.stringMatching(/^kelp: \.\.\/escape: not a target name/)]);
    expect(existsSync(join(cacheRoot(), 'targets', 'kelp-test-bad'))).toBe(false);
    // A build directory whose kernel cannot load livepatches.
    const noLp = join(tmp.dir, 'no-livepatch');
    mkdirSync(noLp, { recursive: true });
    writeFileSync(join(noLp, '.config'), readFileSync(join(tiny.tree, '.config'), 'utf8').replace(/^CONFIG_LIVEPATCH=y$/m, '# CONFIG_LIVEPATCH is not set'));
    copyFileSync(join(tiny.tree, 'Makefile'), join(noLp, 'Makefile'));
    const r = add('kelp-test-bad', ['--build', noLp, '--vmlinux', tiny.vmlinux]);
    expect([r.status, r.stderr.trim()]).toEqual([1, `kelp: ${join(noLp, '.config')}: CONFIG_LIVEPATCH is not set: this kernel cannot load livepatch modules`]);
  });

  test('kelp build --release NAME --verify: the vmlinux example on the self-built kernel, by the host\'s gcc, proved in its own boot', () => {
    if (skipUnlessReady(pre) || info === undefined) return;
    const out = join(tmp.dir, 'cmdline');
    const r = kelp(['build', join(REPO_ROOT, 'examples/vmlinux/cmdline.patch'), '--release', NAME, '-o', out, '--json',
      '--verify', '--check', 'cat /proc/cmdline', '--expect', 'kelp_example=patched']);
    expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
    const report = JSON.parse(r.stdout);
    expect(report.compiler).toEqual({ kernel: info.compiler, used: info.compiler, where: 'host', checkSkipped: false });
    expect(report.targets).toEqual({ vmlinux: ['fs/proc/cmdline.o'] });
    expect(report.verify.ok).toBe(true);
    expect(report.verify.checks[0].output).toMatch(/console=ttyS0.* kelp_example=patched\n$/);
    expect(report.verify.checksAfterDisable[0].output).not.toMatch(/kelp_example=patched/);
    // kelp check --release NAME: the registered System.map and build directory.
    const check = kelp(['check', join(out, 'livepatch-cmdline.ko'), '--release', NAME]);
    expect([check.status, check.stdout + check.stderr]).toEqual([0, expect.any(String)]);
  }, 1_800_000);

  test('a kernel registered from its System.map serves kelp check the same', () => {
    if (skipUnlessReady(pre) || info === undefined) return;
    const r = add(`${NAME}-map`, ['--system-map', tiny.systemMap]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const ko = join(tmp.dir, 'cmdline', 'livepatch-cmdline.ko');
    if (!existsSync(ko)) return;
    const check = kelp(['check', ko, '--release', `${NAME}-map`]);
    expect([check.status, check.stdout + check.stderr]).toEqual([0, expect.any(String)]);
  });
});
