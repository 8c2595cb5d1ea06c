/**
 * `kelp diff` then `kelp link` on their own for Debian 13's 6.12 (the newest
 * trixie release): the host has gcc 12 only, so kelp link must compile the
 * module's tables with the kernel's gcc 14 in the trixie build root, as kelp
 * build does. Needs the release's headers and the root, not its source tree.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ElfObject } from '../../elf/model.js';
import { chooseToolchain, makeInvocation, withToolchain } from '../../src/kernel/toolchain.js';
import { cacheRoot } from '../../src/target/cache.js';
import { fetchTarget, type TargetInfo } from '../../src/target/fetch.js';
import { BUILD_ROOT_PACKAGES } from '../../src/target/packages.js';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { targetPackages, trixieRelease } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('link-612');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages(), ...BUILD_ROOT_PACKAGES]);
  if (!pre.ok) return;
  target = await fetchTarget({ release: await trixieRelease() });
}, 3_000_000);

const kelp = (args: string[]) => execa(KELP_BIN, args, { reject: false, env: { LC_ALL: 'C' } });

test('kelp diff, then kelp link on its own with the trixie kdir: the tables compiled by gcc 14 in the root', async () => {
  if (skipUnlessReady(pre)) return;
  expect(target.compiler).toMatch(/gcc-14 /);
  const dirs = { orig: join(tmp.dir, 'orig'), patched: join(tmp.dir, 'patched') };
  await fs.cp(join(REPO_ROOT, 'test/fixtures/link/target-mod'), dirs.orig, { recursive: true });
  await fs.cp(dirs.orig, dirs.patched, { recursive: true });
  await fs.copyFile(join(REPO_ROOT, 'test/fixtures/link/target-mod-patched/b.c'), join(dirs.patched, 'b.c'));
  const config = await fs.readFile(target.config, 'utf8');
  const toolchain = await chooseToolchain({ config, configFile: target.config, codename: target.codename, cache: cacheRoot(), binds: [cacheRoot(), tmp.dir] });
  for (const dir of Object.values(dirs)) {
    const r = await withToolchain(toolchain, async () => {
      const run = makeInvocation(['-C', target.kdir, `M=${dir}`, 'KCFLAGS=-ffunction-sections -fdata-sections', 'modules'], dir, { LC_ALL: 'C' });
      return execa(run.file, run.args, { cwd: dir, env: run.env, extendEnv: run.file === 'make', reject: false, all: true });
    });
    expect([r.exitCode, (r.all ?? '').slice(-2000)]).toEqual([0, expect.any(String)]);
  }
  const diff = join(tmp.dir, 'diff.o');
  const d = await kelp(['diff', join(dirs.orig, 'b.o'), join(dirs.patched, 'b.o'), '--target', 'kelp_target_mod',
    '--symbols', join(dirs.orig, 'kelp_target_mod.ko'), '--symvers', target.symvers, '-o', diff]);
  expect([d.exitCode, d.stderr]).toEqual([0, expect.stringContaining('changed function: kelp_target_show')]);
  // Without the root, kbuild would look for x86_64-linux-gnu-gcc-14 on this bookworm host and fail.
  const ko = join(tmp.dir, 'kelp-link-612.ko');
  const l = await kelp(['link', diff, '--kdir', target.kdir, '--name', 'kelp-link-612', '-o', ko]);
  expect([l.exitCode, l.stderr]).toEqual([0, '']);
  const comments = ElfObject.read(readFileSync(ko), ko).sections.find((x) => x.name === '.comment')!.data.toString('latin1').split('\0');
  expect([...new Set(comments.filter((c) => c !== ''))]).toEqual([`GCC: ${target.compiler!.replace(/^\S+ /, '')}`]);
  const check = await kelp(['check', ko, '--release', target.release, '--modules', join(dirs.orig, 'kelp_target_mod.ko')]);
  expect([check.exitCode, check.stdout + check.stderr]).toEqual([0, expect.any(String)]);
}, 600_000);
