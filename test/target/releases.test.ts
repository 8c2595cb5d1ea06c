/**
 * Choosing the target by its release: kelp's own apt state (its lists, never
 * the host's), `kelp target list --json` against the real Debian archive, and
 * `kelp target fetch --release` refusing what the archive does not have.
 */
import { promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { AptState } from '../../src/kernel/apt.js';
import { parseImagePackage, parseMadison, releasesFromMadison, sourcePackageOf, type KernelRelease } from '../../src/kernel/releases.js';
import { sourcesFile } from '../../src/kernel/suites.js';
import { compareDebianVersions } from '../../src/kernel/version.js';
import { cacheRoot } from '../../src/target/cache.js';
import { KELP_BIN } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';

let pre: PrereqStatus | undefined;
beforeAll(async () => {
  pre = await ensureDebianPackages(['apt', 'dpkg', 'debian-archive-keyring']);
}, 600_000);

describe('release names and versions', () => {
  test('image package names give release and flavour; metapackages, -dbg and -unsigned are no kernels', () => {
    expect(parseImagePackage('linux-image-6.1.0-50-amd64')).toEqual({ release: '6.1.0-50-amd64', flavour: 'amd64' });
    expect(parseImagePackage('linux-image-6.1.0-50-rt-amd64')).toEqual({ release: '6.1.0-50-rt-amd64', flavour: 'rt-amd64' });
    expect(parseImagePackage('linux-image-6.12.117+deb13-cloud-amd64')).toEqual({ release: '6.12.117+deb13-cloud-amd64', flavour: 'cloud-amd64' });
    for (const n of ['linux-image-amd64', 'linux-image-6.12-amd64', 'linux-image-6.1.0-50-amd64-dbg', 'linux-image-6.1.0-50-amd64-unsigned', 'linux-image-6.1.0-50-arm64']) {
      expect(parseImagePackage(n)).toBeUndefined();
    }
    expect(sourcePackageOf('6.12.117+deb13-amd64')).toBe('linux-source-6.12');
    expect(sourcePackageOf('6.1.0-50-amd64')).toBe('linux-source-6.1');
  });

  test('version order agrees with dpkg --compare-versions', async () => {
    if (skipUnlessReady(pre)) return;
    const vs = ['6.1.176-1', '6.1.192-3', '6.12.95-1~bpo12+1', '6.12.95-1', '6.12.117-1~deb12u1', '1:1.0', '1.0~rc1', '1.0', '1.0a', '6.12.115-10'];
    for (let i = 0; i < vs.length; i++) {
      for (let j = i + 1; j < vs.length; j++) {
        const [a, b] = [vs[i]!, vs[j]!];
        const ours = Math.sign(compareDebianVersions(a, b));
        expect(Math.sign(compareDebianVersions(b, a))).toBe(-ours);
        const lt = (await execa('dpkg', ['--compare-versions', a, 'lt', b], { reject: false })).exitCode === 0;
        expect([a, b, ours < 0]).toEqual([a, b, lt]);
      }
    }
  }, 120_000);

  test('madison rows become releases: headers and source matched by version, suites in order, newest first', () => {
    const rows = parseMadison([
      'linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages',
      'linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages',
      'linux-headers-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages',
      'linux-source-6.1 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages',
      'linux-image-6.1.0-52-amd64 |  6.1.180-1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages',
      'linux-image-6.12.117+deb13-amd64 | 6.12.117-1 | http://deb.debian.org/debian trixie/main amd64 Packages',
      'linux-headers-6.12.117+deb13-amd64 | 6.12.117-1 | http://deb.debian.org/debian trixie/main amd64 Packages',
      'linux-source-6.12 | 6.12.117-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages',
      'linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main Sources',
    ].join('\n'));
    const list = releasesFromMadison(rows);
    expect(list.map((r) => [r.release, r.suite, r.suites.join(','), r.codename, r.headers, r.source])).toEqual([
      ['6.12.117+deb13-amd64', 'trixie', 'trixie', 'trixie', true, false],
      ['6.1.0-52-amd64', 'bookworm-security', 'bookworm-security', 'bookworm', false, false],
      ['6.1.0-50-amd64', 'bookworm', 'bookworm,bookworm-security', 'bookworm', true, true],
    ]);
  });

  test('kelp\'s sources name every suite, Signed-By the archive keyring, never trusted=yes', () => {
    const text = sourcesFile();
    for (const s of ['bookworm', 'bookworm-security', 'bookworm-backports', 'trixie', 'trixie-security']) expect(text).toMatch(new RegExp(`Suites:.*\\b${s}(\\s|$)`, 'm'));
    expect(text.match(/^Signed-By: \/usr\/share\/keyrings\/debian-archive-keyring\.gpg$/gm)).toHaveLength(2);
    expect(text).not.toMatch(/trusted/i);
    const conf = new AptState('/x/cache').configText();
    expect(conf).toContain('Dir::Etc::parts "/x/cache/apt/etc/apt.conf.d";');
    expect(conf).toContain('Dir::State::status "/x/cache/apt/state/status";');
    expect(conf).not.toMatch(/"\/etc\/apt|"\/var\/lib\/apt/);
  });
});

describe('kelp target list against the real archive', () => {
  let list: KernelRelease[] = [];
  let hostApt: Array<[string, number]> = [];
  beforeAll(async () => {
    if (!pre?.ok) return;
    hostApt = ['/etc/apt', '/etc/apt/sources.list.d', '/var/lib/apt/lists'].map((p) => [p, statSync(p).mtimeMs]);
    const r = await execa(KELP_BIN, ['target', 'list', '--json'], { reject: false, env: { LC_ALL: 'C' }, timeout: 600_000 });
    if (r.exitCode !== 0) throw new Error(`kelp target list failed (${r.exitCode}): ${r.stderr}`);
    // The archive's releases; kernels registered with kelp target add (suite "custom", custom.test.ts) follow them.
    const all = JSON.parse(r.stdout) as KernelRelease[];
    list = all.filter((x) => x.suite !== 'custom');
    expect(all.slice(0, list.length)).toEqual(list);
  }, 660_000);

  test('every row is a release with flavour, version, suite, headers and source flags, newest first', () => {
    if (skipUnlessReady(pre)) return;
    expect(list.length).toBeGreaterThan(20);
    for (const r of list) {
      expect(Object.keys(r).sort()).toEqual(['codename', 'flavour', 'headers', 'release', 'source', 'suite', 'suites', 'version']);
      expect(r.release.endsWith(`-${r.flavour}`)).toBe(true);
      expect(['amd64', 'cloud-amd64', 'rt-amd64']).toContain(r.flavour);
      expect(['bookworm', 'bookworm-security', 'bookworm-backports', 'trixie', 'trixie-security']).toContain(r.suite);
      expect(r.suites[0]).toBe(r.suite);
    }
    for (let i = 1; i < list.length; i++) expect(compareDebianVersions(list[i - 1]!.version, list[i]!.version)).toBeGreaterThanOrEqual(0);
  });

  test('bookworm\'s 6.1 ABIs and trixie\'s 6.12 are there, with headers and source where the archive has them', () => {
    if (skipUnlessReady(pre)) return;
    const bookworm61 = list.filter((r) => /^6\.1\.0-\d+-amd64$/.test(r.release));
    expect(bookworm61.length).toBeGreaterThanOrEqual(3);
    expect(bookworm61.every((r) => r.codename === 'bookworm')).toBe(true);
    expect(bookworm61.some((r) => r.headers && r.source)).toBe(true);
    const trixie = list.filter((r) => /^6\.12\.\d+\+deb13-amd64$/.test(r.release));
    expect(trixie.length).toBeGreaterThanOrEqual(1);
    expect(trixie.every((r) => r.codename === 'trixie')).toBe(true);
    // trixie's point-release kernel is in trixie itself with headers and source.
    expect(trixie.some((r) => r.suites.includes('trixie') && r.headers && r.source)).toBe(true);
    for (const f of ['cloud-amd64', 'rt-amd64']) expect(list.some((r) => r.flavour === f && r.codename === 'trixie')).toBe(true);
    expect(list.some((r) => r.suite === 'bookworm-backports' && /\+deb12-amd64$/.test(r.release))).toBe(true);
    // The archive keeps old ABIs' images longer than their headers and source.
    expect(list.some((r) => !r.source && !r.headers)).toBe(true);
  });

  test('the host\'s apt configuration and lists are untouched; kelp\'s lists live in its cache', async () => {
    if (skipUnlessReady(pre)) return;
    for (const [p, mtime] of hostApt) expect([p, statSync(p).mtimeMs]).toEqual([p, mtime]);
    const lists = await fs.readdir(join(cacheRoot(), 'apt', 'state', 'lists'));
    expect(lists.some((f) => /trixie_InRelease$/.test(f))).toBe(true);
  });

  test('fetch --release refuses an unknown release and a release without source, in one line', async () => {
    if (skipUnlessReady(pre)) return;
    const unknown = await execa(KELP_BIN, ['target', 'fetch', '--release', '6.1.0-9999-amd64'], { reject: false, env: { LC_ALL: 'C' } });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^kelp: 6\.1\.0-9999-amd64: no such Debian kernel release .*kelp target list\)$/);
    const bad = await execa(KELP_BIN, ['target', 'fetch', '--release', '../x'], { reject: false, env: { LC_ALL: 'C' } });
    expect(bad.stderr.trim()).toMatch(/^kelp: \.\.\/x: not a kernel release/);
    const noSource = list.find((r) => r.flavour === 'amd64' && !r.source)!;
    expect(noSource).toBeDefined();
    // Refused from the lists alone, before anything is downloaded.
    const r = await execa(KELP_BIN, ['target', 'fetch', '--release', noSource.release, '--source'], { reject: false, env: { LC_ALL: 'C' } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^kelp: ${noSource.release.replace(/[.+]/g, '\\$&')}: the archive has no linux-source-[\\d.]+ at \\S+: no source for this release`));
    const dirs = await fs.readdir(join(cacheRoot(), 'debian'));
    expect(dirs.some((d) => d.startsWith(`${noSource.release}_`))).toBe(false);
  }, 300_000);
});
