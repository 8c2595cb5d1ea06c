/**
 * kelpctl with a bundle (kelp bundle's fix.tar) against the scratch sysfs,
 * under busybox ash, dash and bash: load/install pick the module built for
 * the running kernel and check its sha256 first; a bundle without one for
 * this kernel (exit 11) or a damaged one (exit 12) loads nothing and leaves
 * no temporary file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTar } from '../../src/bundle/tar.js';
import { kelp } from '../build/support.js';
import { addRelease } from '../bundle/fleet-dir.js';
import { FakeSystem, RUNNING_RELEASE, SHELLS, ensureCommands, isRoot } from './harness.js';

const DECOY = '9.9.9-decoy-amd64';
let dir: string;
let bundle: string; // the running kernel's module and a decoy
let decoyOnly: string;
let ko: string;

function bundleOf(name: string, releases: string[]): string {
  const d = path.join(dir, name);
  for (const r of releases) addRelease(d, r);
  const out = path.join(dir, `${name}.tar`);
  const res = kelp(['bundle', d, '-o', out]);
  if (res.status !== 0) throw new Error(res.stderr);
  return out;
}

beforeAll(() => {
  ensureCommands({ gcc: 'gcc', objcopy: 'binutils', busybox: 'busybox-static', dash: 'dash', tar: 'tar', sha256sum: 'coreutils' });
  if (!isRoot()) throw new Error('the kelpctl tests run kelpctl as root (as it runs on a host); run them as root');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kelpctl-bundle-'));
  bundle = bundleOf('fleet', [RUNNING_RELEASE, DECOY]);
  ko = path.join(dir, 'fleet', RUNNING_RELEASE, 'livepatch-fix.ko');
  decoyOnly = bundleOf('decoy', [DECOY]);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.each(SHELLS)('kelpctl under $name with a bundle', ({ argv: shell }) => {
  let sys: FakeSystem;
  let tmpdir: string;
  beforeEach(() => {
    sys = new FakeSystem();
    tmpdir = path.join(sys.root, 'tmp');
    fs.mkdirSync(tmpdir);
  });
  afterEach(() => sys.cleanup());
  const run = (args: string[]) => sys.run(shell, args, { TMPDIR: tmpdir });

  it('load: the running kernel\'s module, sha256 verified, then loaded; its temporary copy is gone', () => {
    const r = run(['load', bundle]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`kelpctl: ${bundle}: ${RUNNING_RELEASE}/livepatch-fix.ko for the running kernel ${RUNNING_RELEASE}, sha256 verified\n`);
    expect(r.stdout).toContain('kelpctl: livepatch_fix: loaded, transition complete\n');
    const calls = sys.calls();
    expect(calls).toEqual([expect.stringMatching(new RegExp(`^insmod ${tmpdir}/kelpctl\\.\\w+/${RUNNING_RELEASE.replace(/[+.]/g, '\\$&')}/livepatch-fix\\.ko$`))]);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });

  it('install: keeps the running kernel\'s module under its release', () => {
    const r = run(['install', bundle]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const kept = path.join(sys.state, RUNNING_RELEASE, 'livepatch_fix.ko');
    expect(fs.readFileSync(kept).equals(fs.readFileSync(ko))).toBe(true);
    expect(fs.existsSync(path.join(sys.state, DECOY))).toBe(false);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });

  it('info: the bundle\'s modules, the running kernel\'s marked', () => {
    const r = run(['info', bundle]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^module: +${RUNNING_RELEASE.replace(/[+.]/g, '\\$&')} .*livepatch-fix\\.ko +sha256 [0-9a-f]{64} +\\(running kernel\\)$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^module: +${DECOY} +${DECOY}/livepatch-fix\\.ko +sha256 [0-9a-f]{64}$`, 'm'));
    expect(run(['info', decoyOnly]).stdout).toContain(`running kernel ${RUNNING_RELEASE}: no module in this bundle\n`);
  });

  it('no module for the running kernel: exit 11, naming what the bundle has; nothing loaded or installed', () => {
    for (const cmd of ['load', 'install']) {
      const r = run([cmd, decoyOnly]);
      expect(r.status).toBe(11);
      expect(r.stderr).toBe(`kelpctl: ${decoyOnly}: no module for the running kernel ${RUNNING_RELEASE} (the bundle has: ${DECOY})\n`);
    }
    expect(sys.calls()).toEqual([]);
    expect(fs.existsSync(sys.state)).toBe(false);
  });

  it('a module whose bytes do not match the manifest: exit 12, not loaded, no temporary file left', () => {
    const bytes = fs.readFileSync(bundle);
    const at = bytes.indexOf(fs.readFileSync(ko));
    expect(at).toBeGreaterThan(0);
    bytes[at + 100] ^= 0xff;
    const bad = path.join(sys.root, 'bad.tar');
    fs.writeFileSync(bad, bytes);
    const r = run(['load', bad]);
    expect(r.status).toBe(12);
    expect(r.stderr).toMatch(new RegExp(`^kelpctl: ${bad}: ${RUNNING_RELEASE.replace(/[+.]/g, '\\$&')}/livepatch-fix\\.ko: sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}; not loading it\\n$`));
    expect(sys.calls()).toEqual([]);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });

  it.each([
    ['a tar without a manifest', () => writeTar([{ path: 'x.ko', data: fs.readFileSync(ko) }], 0), /: not a kelp bundle \(no manifest\.tsv in the archive\)$/],
    ['a manifest whose path leaves the release directory', () => writeTar([
      { path: 'manifest.tsv', data: Buffer.from(`${RUNNING_RELEASE}\t${'0'.repeat(64)}\t${RUNNING_RELEASE}/../x.ko\tx\n`) },
    ], 0), /: the manifest's path for .* is not .*\/NAME\.ko: .*\/\.\.\/x\.ko$/],
    ['a listed module missing from the archive', () => writeTar([
      { path: 'manifest.tsv', data: Buffer.from(`${RUNNING_RELEASE}\t${'0'.repeat(64)}\t${RUNNING_RELEASE}/x.ko\tx\n`) },
    ], 0), /: .*\/x\.ko is listed in the manifest but missing from the archive$/],
  ])('%s: exit 12', (_label, make, message) => {
    const bad = path.join(sys.root, 'bad.tar');
    fs.writeFileSync(bad, make());
    const r = run(['load', bad]);
    expect([r.status, r.stderr.split('\n').length]).toEqual([12, 2]);
    expect(r.stderr.trim()).toMatch(message);
    expect(sys.calls()).toEqual([]);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });
});
