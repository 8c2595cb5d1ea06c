/**
 * kelpctl as a Debian package: packaging/deb/build.sh makes
 * kelpctl_<version>_all.deb (the same bytes twice), lintian finds nothing at
 * any level (pedantic included), and the package installs into a scratch
 * root with dpkg --root, where its kelpctl runs against the scratch sysfs
 * (help, list, install of a bundle's module without touching the boot files
 * the package owns), and is removed and purged again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kelp } from '../build/support.js';
import { addRelease } from '../bundle/fleet-dir.js';
import { FakeSystem, RUNNING_RELEASE } from '../kelpctl/harness.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { runStatus } from '../support/tools.js';

let pre: PrereqStatus;
const tmp = makeTmpDir('kelpctl-deb');
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEB = `kelpctl_${VERSION}_all.deb`;

beforeAll(async () => {
  pre = await ensureDebianPackages(['dpkg', 'lintian', 'help2man', 'gzip', 'gcc', 'binutils', 'tar']);
}, 900_000);
afterAll(() => tmp.cleanup());

/** runStatus with shorter names. */
function r2(r: { stdout: string; stderr: string; status: number }) {
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function build(out: string): string {
  const r = r2(runStatus('sh', [path.join(REPO_ROOT, 'packaging', 'deb', 'build.sh'), out]));
  expect([r.status, r.err]).toEqual([0, '']);
  expect(r.out).toBe(`${path.join(out, DEB)}\n`);
  return path.join(out, DEB);
}

test('kelpctl --version is the project\'s version (the package\'s)', () => {
  expect(r2(runStatus('sh', [path.join(REPO_ROOT, 'bin', 'kelpctl'), '--version'])).out).toBe(`kelpctl ${VERSION}\n`);
});

test('build.sh: the same bytes twice, Debian\'s places, a man page from --help, clean under lintian', () => {
  if (skipUnlessReady(pre)) return;
  const deb = build(path.join(tmp.dir, 'one'));
  const again = build(path.join(tmp.dir, 'two'));
  expect(fs.readFileSync(deb).equals(fs.readFileSync(again))).toBe(true);
  const files = r2(runStatus('dpkg-deb', ['-c', deb])).out.split('\n').filter((l) => l !== '' && !l.endsWith('/'))
    .map((l) => l.split(/\s+/)).map((f) => `${f[0]} ${f[1]} ${f[5]}`);
  expect(files).toEqual([
    '-rwxr-xr-x root/root ./etc/init.d/kelpctl',
    '-rw-r--r-- root/root ./lib/systemd/system/kelpctl.service',
    '-rwxr-xr-x root/root ./usr/sbin/kelpctl',
    '-rw-r--r-- root/root ./usr/share/doc/kelpctl/changelog.gz',
    '-rw-r--r-- root/root ./usr/share/doc/kelpctl/copyright',
    '-rw-r--r-- root/root ./usr/share/lintian/overrides/kelpctl',
    '-rw-r--r-- root/root ./usr/share/man/man8/kelpctl.8.gz',
  ]);
  expect(r2(runStatus('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture'])).out).toBe(`Package: kelpctl\nVersion: ${VERSION}\nArchitecture: all\n`);
  const man = r2(runStatus('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/share/man/man8/kelpctl.8.gz | gzip -dc', 'sh', deb])).out;
  expect(man).toMatch(/^\.TH KELPCTL "8" /m);
  expect(man).toContain('load BUNDLE.tar [\\-\\-timeout S]');
  expect(man).toMatch(/11\s+the bundle has no module for the running kernel release/);
  const lint = r2(runStatus('lintian', ['--fail-on', 'error,warning,info,pedantic', '--pedantic', '--info', deb]));
  expect([lint.status, lint.out]).toEqual([0, '']);
}, 300_000);

test('dpkg --root installs it into a scratch root; its kelpctl lists, installs a bundle\'s module and leaves the package\'s boot files alone; remove and purge clean up', () => {
  if (skipUnlessReady(pre)) return;
  const deb = fs.existsSync(path.join(tmp.dir, 'one', DEB)) ? path.join(tmp.dir, 'one', DEB) : build(path.join(tmp.dir, 'one'));
  const root = path.join(tmp.dir, 'root');
  fs.mkdirSync(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
  fs.mkdirSync(path.join(root, 'var/lib/dpkg/updates'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), '');
  // No shell in the scratch root: maintainer scripts run outside it (they see DPKG_ROOT and leave enabling to that system).
  const dpkg = (...args: string[]) => r2(runStatus('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', ...args]));
  const i = dpkg('-i', deb);
  // The one complaint: kmod (insmod) is not in the empty root.
  expect([i.status, i.err.replace(/^dpkg: kelpctl: dependency problems, but configuring anyway as you requested:\n kelpctl depends on kmod; however:\n {2}Package kmod is not installed\.\n\n?/m, '')]).toEqual([0, '']);
  expect(dpkg('-s', 'kelpctl').out).toMatch(/^Status: install ok installed$/m);
  const kelpctl = path.join(root, 'usr/sbin/kelpctl');
  const sys = new FakeSystem();
  try {
    expect(r2(runStatus('sh', [kelpctl, ...['--help']], { env: sys.env() })).out).toMatch(/^Usage: kelpctl COMMAND/);
    const list = r2(runStatus('sh', [kelpctl, ...['list']], { env: sys.env() }));
    expect([list.status, list.out]).toEqual([0, `Loaded patch modules:\n  (none)\nInstalled patch modules (${RUNNING_RELEASE}):\n  (none)\n`]);
    const fleet = path.join(tmp.dir, 'fleet');
    addRelease(fleet, RUNNING_RELEASE);
    addRelease(fleet, '9.9.9-decoy-amd64');
    const tar = path.join(tmp.dir, 'fix.tar');
    expect(kelp(['bundle', fleet, '-o', tar]).status).toBe(0);
    const inst = r2(runStatus('sh', [kelpctl, ...['install', tar]], { env: sys.env() }));
    expect([inst.status, inst.err]).toEqual([0, '']);
    expect(fs.readFileSync(path.join(sys.state, RUNNING_RELEASE, 'livepatch_fix.ko')).equals(fs.readFileSync(path.join(fleet, RUNNING_RELEASE, 'livepatch-fix.ko')))).toBe(true);
    // The package's kelpctl does not write its own unit, init script or copy: the package has them.
    expect(fs.existsSync(sys.etc)).toBe(false);
    expect(fs.existsSync(path.join(sys.state, 'kelpctl'))).toBe(false);
    expect(r2(runStatus('sh', [kelpctl, ...['list']], { env: sys.env() })).out).toContain(`  livepatch_fix  ${path.join(sys.state, RUNNING_RELEASE, 'livepatch_fix.ko')}\n`);
  } finally {
    sys.cleanup();
  }
  expect(dpkg('-r', 'kelpctl').status).toBe(0);
  expect(fs.existsSync(kelpctl)).toBe(false);
  expect(fs.existsSync(path.join(root, 'etc/init.d/kelpctl'))).toBe(true); // a conffile stays until purge
  expect(dpkg('--purge', 'kelpctl').status).toBe(0);
  expect(fs.existsSync(path.join(root, 'etc/init.d/kelpctl'))).toBe(false);
}, 300_000);
