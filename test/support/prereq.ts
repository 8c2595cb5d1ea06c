/**
 * Test prerequisites that are Debian packages (qemu, busybox-static, make, ...).
 *
 * ensureDebianPackages installs what is missing when the tests run as root (CI
 * does), and otherwise reports it. Under CI=true a missing prerequisite fails
 * the suite; a developer without root gets the tests skipped with the reason
 * printed.
 *
 *   let pre: PrereqStatus;
 *   beforeAll(async () => { pre = await ensureDebianPackages(['qemu-system-x86']); }, 900_000);
 *   test('...', async () => { if (skipUnlessReady(pre)) return; ... });
 *
 * The packages are decided in src/target/packages.ts; TEST_PACKAGES (the
 * programs the tests run themselves: binutils, kmod's modinfo, cpio, ...) are
 * installed for every run by the jest global setup (test/support/global-setup.ts).
 */
import { spawnSync } from 'node:child_process';
import { TEST_PACKAGES } from '../../src/target/packages.js';

export interface PrereqStatus {
  /** Every package is installed. */
  ok: boolean;
  /** Packages still missing. */
  missing: string[];
  /** Why the tests cannot run, when they cannot. */
  reason: string | null;
}

/** The packages every test run needs: the programs the tests themselves spawn. */
export function testPackages(): string[] {
  return [...new Set(TEST_PACKAGES)];
}

/** True under CI (CI=true or CI=1): missing prerequisites are failures there. */
export function inCI(): boolean {
  const ci = (process.env.CI ?? '').toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The packages of `pkgs` dpkg does not report as installed. */
export function missingDebianPackages(pkgs: readonly string[]): string[] {
  if (pkgs.length === 0) return [];
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...pkgs], { encoding: 'utf8' });
  if (r.error) return [...pkgs];
  const installed = new Set<string>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const [name, status] = line.split(' ');
    if (name && status && status.startsWith('ii')) installed.add(name.replace(/:.*$/, ''));
  }
  return pkgs.filter((p) => !installed.has(p.replace(/:.*$/, '')));
}

/**
 * apt-get under one lock for all test processes: `npm test`'s two lanes (and
 * their global setups) may install at the same moment, and a second
 * `apt-get update` while one runs fails at once on apt's lists lock (dpkg's
 * lock waits for DPkg::Lock::Timeout, the lists lock does not).
 */
const APT_LOCK = '/var/lock/kelp-test-apt.lock';

function aptGet(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('flock', ['-w', '1200', APT_LOCK, 'apt-get', '-o', 'DPkg::Lock::Timeout=600', ...args], {
    encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const reported = new Set<string>();

/**
 * Makes sure the Debian packages are installed: installs the missing ones with
 * apt-get when root; otherwise returns them in `missing`. Throws under CI when
 * anything is still missing, so the tests fail instead of being skipped.
 */
export async function ensureDebianPackages(pkgs: readonly string[]): Promise<PrereqStatus> {
  let missing = missingDebianPackages(pkgs);
  let detail = '';
  if (missing.length > 0 && isRoot()) {
    const install = ['install', '-y', '--no-install-recommends', ...missing];
    // Another process may have installed them meanwhile; then install has nothing to do.
    let r = aptGet(install);
    if (!r.ok) {
      // Lists may be missing or stale on a fresh machine.
      aptGet(['update']);
      r = aptGet(install);
    }
    if (!r.ok) detail = `: ${r.output.trim().split('\n').slice(-3).join(' / ')}`;
    missing = missingDebianPackages(pkgs);
  }
  if (missing.length === 0) return { ok: true, missing: [], reason: null };
  const reason = isRoot()
    ? `Debian packages ${missing.join(', ')} could not be installed${detail}`
    : `Debian packages ${missing.join(', ')} are missing (as root: apt-get install ${missing.join(' ')})`;
  if (inCI()) throw new Error(`prerequisite missing under CI: ${reason}`);
  if (!reported.has(reason)) {
    reported.add(reason);
    console.warn(`skipping: ${reason}`);
  }
  return { ok: false, missing, reason };
}

/**
 * For the top of a test: true (and the reason printed) when the prerequisites
 * are not there, so the test returns early. Under CI this throws instead, so a
 * missing prerequisite can never turn into a silently passing test.
 */
export function skipUnlessReady(status: PrereqStatus | undefined): boolean {
  if (status === undefined) {
    if (inCI()) throw new Error('prerequisites were not checked (beforeAll did not run ensureDebianPackages)');
    return true;
  }
  if (status.ok) return false;
  if (inCI()) throw new Error(`prerequisite missing under CI: ${status.reason}`);
  console.warn(`skipped: ${status.reason}`);
  return true;
}
