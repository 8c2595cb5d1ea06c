/**
 * The emulated target for end-to-end tests: the fetched Debian kernel (fetched
 * once into the user's cache and reused by every test file and run), building
 * modules against its headers, and booting it with console logs kept under
 * test-artifacts/target/.
 *
 *   let pre: PrereqStatus;
 *   let target: TargetInfo;
 *   beforeAll(async () => {
 *     pre = await ensureDebianPackages(targetPackages({ source: false }));
 *     if (pre.ok) target = await getTarget();
 *   }, 900_000);
 *   test('...', async () => {
 *     if (skipUnlessReady(pre)) return;
 *     const { modules } = await buildKbuildModule('test/fixtures/livepatch-cmdline', target.kdir);
 *     const r = await runOnTarget('my-test', { kernel: target.kernel, load: modules, check: ['cat /proc/cmdline'] });
 *   });
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { AptState } from '../../src/kernel/apt.js';
import { listReleases } from '../../src/kernel/releases.js';
import { cacheRoot } from '../../src/target/cache.js';
import { fetchTarget, type TargetInfo } from '../../src/target/fetch.js';
import { FETCH_PACKAGES, KBUILD_PACKAGES, RUN_PACKAGES, SOURCE_PACKAGES } from '../../src/target/packages.js';
import { runTarget, type RunOptions, type RunResult } from '../../src/target/run.js';
import { REPO_ROOT } from './paths.js';
import { makeTmpDir } from './tmp.js';

export type { TargetInfo } from '../../src/target/fetch.js';
export type { RunOptions, RunResult } from '../../src/target/run.js';

/** The Debian packages fetching, building against and booting the target need. */
export function targetPackages(opts: { source?: boolean } = {}): string[] {
  const all = [...FETCH_PACKAGES, ...RUN_PACKAGES, ...KBUILD_PACKAGES, ...(opts.source ? SOURCE_PACKAGES : [])];
  return [...new Set(all)];
}

const fetched = new Map<boolean, Promise<TargetInfo>>();

/**
 * The current Debian kernel, as `kelp target fetch --json` describes it; with
 * `source: true` also the prepared source tree (`source`). The first call of a
 * run downloads into the cache ($KELP_CACHE or ~/.cache/kelp); later calls and
 * later runs reuse it. Call ensureDebianPackages(targetPackages(opts)) first.
 */
export function getTarget(opts: { source?: boolean } = {}): Promise<TargetInfo> {
  const key = opts.source === true;
  let p = fetched.get(key);
  if (p === undefined) {
    p = fetchTarget({ source: key });
    p.catch(() => fetched.delete(key));
    fetched.set(key, p);
  }
  return p;
}

/** The Debian packages a trixie target needs beyond targetPackages: the build root and pahole. */
export const TRIXIE_PACKAGES: readonly string[] = ['mmdebstrap', 'dwarves', 'debian-archive-keyring', 'util-linux'];

let trixie: Promise<TargetInfo> | undefined;

/**
 * The newest Debian 13 (trixie) 6.12 kernel of the archive that has headers
 * and source, fetched with its prepared source (made in the trixie build root
 * with gcc-14: the first run downloads the kernel, its source and the root).
 * $KELP_TEST_TRIXIE_RELEASE pins another release.
 */
/** The newest trixie release with headers and source (or $KELP_TEST_TRIXIE_RELEASE), as kelp target list shows it. */
export async function trixieRelease(): Promise<string> {
  const release = process.env.KELP_TEST_TRIXIE_RELEASE;
  if (release !== undefined && release !== '') return release;
  const list = await listReleases(new AptState(cacheRoot()));
  const row = list.find((r) => r.codename === 'trixie' && r.flavour === 'amd64' && r.headers && r.source);
  if (row === undefined) throw new Error('kelp target list shows no trixie 6.12 kernel with headers and source');
  return row.release;
}

export function getTrixieTarget(): Promise<TargetInfo> {
  if (trixie === undefined) {
    trixie = (async () => fetchTarget({ release: await trixieRelease(), source: true }))();
    trixie.catch(() => { trixie = undefined; });
  }
  return trixie;
}

/** Where test runs keep console logs (git-ignored). */
export function artifactsDir(): string {
  return process.env.KELP_TEST_ARTIFACTS ?? join(REPO_ROOT, 'test-artifacts', 'target');
}

/**
 * Copies a module's source directory (with its Kbuild) to a temporary
 * directory and builds it with `make -C <kdir> M=<copy> modules`. Returns the
 * directory, the .ko files built, and a cleanup function.
 */
export async function buildKbuildModule(srcDir: string, kdir: string): Promise<{ dir: string; modules: string[]; cleanup: () => void }> {
  const tmp = makeTmpDir('kbuild');
  await fs.cp(resolve(REPO_ROOT, srcDir), tmp.dir, { recursive: true });
  const r = await execa('make', ['-C', kdir, `M=${tmp.dir}`, 'modules'], { reject: false, all: true, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) {
    tmp.cleanup();
    throw new Error(`building ${srcDir} failed:\n${(r.all ?? '').split('\n').slice(-30).join('\n')}`);
  }
  const modules = (await fs.readdir(tmp.dir)).filter((f) => f.endsWith('.ko')).sort().map((f) => join(tmp.dir, f));
  return { dir: tmp.dir, modules, cleanup: tmp.cleanup };
}

/**
 * Boots the target (the library behind `kelp target run`), keeping the console
 * log as test-artifacts/target/<name>.log.
 */
export async function runOnTarget(name: string, opts: RunOptions): Promise<RunResult> {
  await fs.mkdir(artifactsDir(), { recursive: true });
  const log = join(artifactsDir(), `${name.replace(/[^\w.-]+/g, '_')}.log`);
  // Generous by default: a loaded CI machine boots slowly under software emulation.
  return runTarget({ ...opts, timeout: opts.timeout ?? 300, log: opts.log ?? log });
}
