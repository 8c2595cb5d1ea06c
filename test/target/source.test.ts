/**
 * `kelp target fetch --source`: the matching kernel source, configured like the
 * image with signing keys emptied and prepared, so a single object builds.
 * The tests run make in the shared tree themselves, holding its lock (jest
 * may run other workers' kelp builds on the same tree).
 */
import { spawn } from 'node:child_process';
import { promises as fs, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { guardDir, TreeGuard } from '../../src/build/guard.js';
import { cacheRoot } from '../../src/target/cache.js';
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
/**
 * Holding the tree, makes it lose kelp's flags (a plain `make scripts/mod/`,
 * what a user's own make does), then starts `argv` (node) and hands the tree
 * to it: the lock names the child (replaced atomically), which takes it over
 * as a lock naming itself, so no build of another worker gets in between.
 */
async function unpreparedThen(tree: string, argv: string[]): Promise<{ status: number | null; stdout: string; all: string }> {
  await TreeGuard.acquire(cacheRoot(), tree);
  expect(await preparedWithKelpFlags(tree)).toBe(true);
  const plain = await execa('make', ['scripts/mod/'], { cwd: tree, reject: false, all: true, env: { LC_ALL: 'C' } });
  expect(plain.exitCode).toBe(0);
  expect(await preparedWithKelpFlags(tree)).toBe(false);
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lock = join(guardDir(cacheRoot(), tree), 'lock');
  writeFileSync(`${lock}.handover`, `${child.pid}\n`);
  renameSync(`${lock}.handover`, lock);
  let stdout = '';
  let all = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); all += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { all += d.toString(); });
  const status = await new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return { status, stdout, all };
}

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
}, 900_000);

test('a prepared tree rebuilt without kelp\'s flags is prepared again by the next fetch', async () => {
  if (skipUnlessReady(pre)) return;
  const tree = target.source!;
  // A plain kbuild run in the tree (what a user's own `make` does) redoes prepare without the flags; the tree is
  // handed to the kelp build straight from there, so that no other build prepares it in between.
  const kelpBin = join(REPO_ROOT, 'bin', 'kelp');
  const b = await unpreparedThen(tree, [kelpBin, 'build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'),
    '--sourcedir', tree, '--kdir', target.kdir, '--symbols', target.systemMap, '-o', join(tmp.dir, 'build')]);
  // kelp build on such a tree says that kbuild redoes the prepare step (and leaves it prepared with kelp's flags).
  expect([b.status, b.all.slice(-2000)]).toEqual([0, expect.any(String)]);
  expect(b.all).toMatch(/was prepared without kelp's KCFLAGS \(-ffunction-sections -fdata-sections\): kbuild redoes its prepare step once/);
  expect(await preparedWithKelpFlags(tree)).toBe(true);
  const again = await unpreparedThen(tree, [kelpBin, 'target', 'fetch', '--source', '--json']);
  expect([again.status, again.all.slice(-2000)]).toEqual([0, expect.any(String)]);
  expect((JSON.parse(again.stdout) as { source: string }).source).toBe(tree);
  expect(again.all).toMatch(/re-preparing the source/);
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
}, 1_200_000);
