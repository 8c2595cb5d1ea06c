/**
 * `kelp target fetch --source`: the matching kernel source, configured like the
 * image with signing keys emptied and prepared, so a single object builds.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { TreeGuard } from '../../src/build/guard.js';
import { cacheRoot } from '../../src/target/cache.js';
import { fetchTarget } from '../../src/target/fetch.js';
import { KELP_KCFLAGS, preparedWithKelpFlags } from '../../src/target/source.js';
import { REPO_ROOT } from '../support/paths.js';
import { makeTmpDir } from '../support/tmp.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';

let pre: PrereqStatus | undefined;
let target: TargetInfo;
const tmp = makeTmpDir('target-source');
afterAll(() => tmp.cleanup());

/**
 * Runs `fn` holding the shared tree's build lock: these tests run make in the
 * cached tree themselves, which kelp builds of other test workers use too.
 */
async function holdingTree<T>(tree: string, fn: () => Promise<T>): Promise<T> {
  const guard = await TreeGuard.acquire(cacheRoot(), tree);
  try {
    return await fn();
  } finally {
    guard.restore();
  }
}

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages({ source: true }), 'binutils']);
  if (pre.ok) target = await getTarget({ source: true });
}, 1_200_000);

test('the prepared source is configured like the image, without signing keys, and builds one object', async () => {
  if (skipUnlessReady(pre)) return;
  expect(target.source).toBeDefined();
  const tree = target.source!;
  const config = await fs.readFile(join(tree, '.config'), 'utf8');
  const image = await fs.readFile(target.config, 'utf8');
  expect(config).toMatch(/^CONFIG_MODULE_SIG_KEY=""$/m);
  expect(config).toMatch(/^CONFIG_SYSTEM_TRUSTED_KEYS=""$/m);
  expect(config).toMatch(/^# CONFIG_MODULE_SIG_ALL is not set$/m);
  for (const opt of ['CONFIG_LIVEPATCH', 'CONFIG_GCC_VERSION', 'CONFIG_FUNCTION_TRACER', 'CONFIG_RETPOLINE']) {
    const line = new RegExp(`^${opt}=.*$`, 'm');
    expect(config.match(line)?.[0]).toBe(image.match(line)?.[0]);
  }
  // The release the tree would build matches the image's.
  const release = await execa('make', ['-s', 'kernelrelease'], { cwd: tree, reject: false });
  expect(release.stdout.trim()).toMatch(/^6\.1\.\d+/);

  await holdingTree(tree, async () => {
    const obj = join(tree, 'fs', 'proc', 'cmdline.o');
    await fs.rm(obj, { force: true });
    const started = Date.now();
    const elfconfig = join(tree, 'scripts', 'mod', 'elfconfig.h');
    const preparedAt = (await fs.stat(elfconfig)).mtimeMs;
    // Built the way kelp builds: with kelp's KCFLAGS, which the preparation used too.
    const r = await execa('make', [`KCFLAGS=${KELP_KCFLAGS}`, 'fs/proc/cmdline.o'], { cwd: tree, reject: false, all: true, env: { LC_ALL: 'C' } });
    expect(r.all).not.toMatch(/Restart config|\* Restart|syncconfig/);
    expect(r.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    // Nothing of the prepared tree was redone (kbuild's prepare step found its flags unchanged).
    expect((await fs.stat(elfconfig)).mtimeMs).toBe(preparedAt);
    const syms = await execa('nm', [obj]);
    expect(syms.stdout).toMatch(/ t cmdline_proc_show$/m);
    // Built with the image's compiler (Debian's .kernelvariables sets CC).
    const comment = await execa('readelf', ['-p', '.comment', obj]);
    expect(comment.stdout).toMatch(/GCC: \(Debian 12\./);
    await fs.rm(obj, { force: true });
  });
}, 300_000);

test('a prepared tree rebuilt without kelp\'s flags is prepared again by the next fetch', async () => {
  if (skipUnlessReady(pre)) return;
  const tree = target.source!;
  // A plain kbuild run in the tree (what a user's own `make` does) redoes prepare without the flags.
  const plain = await holdingTree(tree, async () => {
    expect(await preparedWithKelpFlags(tree)).toBe(true);
    return execa('make', ['scripts/mod/'], { cwd: tree, reject: false, all: true, env: { LC_ALL: 'C' } });
  });
  expect(plain.exitCode).toBe(0);
  expect(await preparedWithKelpFlags(tree)).toBe(false);
  // kelp build on such a tree says that kbuild redoes the prepare step (and leaves it prepared with kelp's flags).
  const out = join(tmp.dir, 'build');
  const b = await execa(process.execPath, [join(REPO_ROOT, 'bin', 'kelp'), 'build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'),
    '--sourcedir', tree, '--kdir', target.kdir, '--symbols', target.systemMap, '-o', out], { reject: false, all: true });
  expect([b.exitCode, b.all?.slice(-2000)]).toEqual([0, expect.any(String)]);
  expect(b.all).toMatch(/was prepared without kelp's KCFLAGS \(-ffunction-sections -fdata-sections\): kbuild redoes its prepare step once/);
  expect(await preparedWithKelpFlags(tree)).toBe(true);
  await holdingTree(tree, () => execa('make', ['scripts/mod/'], { cwd: tree, env: { LC_ALL: 'C' } }));
  expect(await preparedWithKelpFlags(tree)).toBe(false);
  const lines: string[] = [];
  const again = await fetchTarget({ source: true, progress: (l) => lines.push(l) });
  expect(again.source).toBe(tree);
  expect(lines.join('\n')).toMatch(/re-preparing the source/);
  expect(await preparedWithKelpFlags(tree)).toBe(true);
  // And a kelp-flags build afterwards leaves scripts/mod alone.
  await holdingTree(tree, async () => {
    const elfconfig = join(tree, 'scripts', 'mod', 'elfconfig.h');
    const preparedAt = (await fs.stat(elfconfig)).mtimeMs;
    const r = await execa('make', [`KCFLAGS=${KELP_KCFLAGS}`, 'fs/proc/cmdline.o'], { cwd: tree, reject: false, all: true, env: { LC_ALL: 'C' } });
    expect(r.exitCode).toBe(0);
    expect((await fs.stat(elfconfig)).mtimeMs).toBe(preparedAt);
    await fs.rm(join(tree, 'fs', 'proc', 'cmdline.o'), { force: true });
  });
}, 300_000);
