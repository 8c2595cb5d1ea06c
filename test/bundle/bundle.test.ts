/**
 * kelp bundle: a fleet build's modules (OUTDIR/<release>/NAME.ko + NAME.json)
 * or a single build's in one deterministic tar with a manifest; GNU tar and
 * busybox tar read it; bad input is one line, exit 1, and no output file.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { ensureCommands } from '../kelpctl/harness.js';
import { kelp } from '../build/support.js';
import { makeTmpDir } from '../support/tmp.js';
import { addRelease } from './fleet-dir.js';

const tmp = makeTmpDir('bundle');
afterAll(() => tmp.cleanup());
beforeAll(() => ensureCommands({ gcc: 'gcc', tar: 'tar', busybox: 'busybox-static' }));

const A = '6.1.0-50-amd64';
const B = '6.12.95+deb12-amd64';
const C = '6.1.0-49-amd64';

function fleet(name: string): string {
  const dir = path.join(tmp.dir, name);
  addRelease(dir, B, 'livepatch-fix', { vmlinux: ['cmdline_proc_show'], ext4: ['ext4_fill_super', 'ext4_iget'] });
  addRelease(dir, A);
  addRelease(dir, C);
  fs.writeFileSync(path.join(dir, 'fleet.json'), '{}\n');
  return dir;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a fleet build: one module a release, sorted, with release, vermagic, sha256 and what it patches', () => {
  const dir = fleet('fleet');
  const out = path.join(tmp.dir, 'fix.tar');
  const r = kelp(['bundle', dir, '-o', out, '--json']);
  expect([r.status, r.stderr]).toEqual([0, '']);
  const manifest = JSON.parse(r.stdout);
  expect(manifest.format).toBe('kelp-bundle/1');
  expect(manifest.modules.map((m: { release: string }) => m.release)).toEqual([A, C, B].sort());
  const b = manifest.modules.find((m: { release: string }) => m.release === B);
  const ko = fs.readFileSync(path.join(dir, B, 'livepatch-fix.ko'));
  expect(b).toEqual({
    release: B, name: 'livepatch_fix', path: `${B}/livepatch-fix.ko`, vermagic: `${B} SMP preempt mod_unload modversions `,
    sha256: sha(ko), size: ko.length,
    patches: [{ object: 'ext4', functions: ['ext4_fill_super', 'ext4_iget'] }, { object: 'vmlinux', functions: ['cmdline_proc_show'] }],
  });
  // GNU tar: the order, root owners, one fixed mtime, 0644/0755.
  const list = spawnSync('tar', ['--utc', '-tvf', out], { encoding: 'utf8' });
  expect(list.status).toBe(0);
  const lines = list.stdout.trim().split('\n');
  expect(lines.map((l) => l.split(/\s+/).slice(5).join(' '))).toEqual([
    'manifest.json', 'manifest.tsv', ...[A, B, C].sort().flatMap((rel) => [`${rel}/`, `${rel}/livepatch-fix.ko`]),
  ]);
  for (const l of lines) expect(l).toMatch(/^(-rw-r--r--|drwxr-xr-x) root\/root .* 2000-01-01 00:00 /);
  // The manifest kelpctl reads, and the module bytes, through busybox tar.
  const tsv = spawnSync('busybox', ['tar', '-xOf', out, 'manifest.tsv'], { encoding: 'utf8' });
  expect(tsv.stdout).toBe([A, C, B].sort().map((rel) => `${rel}\t${sha(fs.readFileSync(path.join(dir, rel, 'livepatch-fix.ko')))}\t${rel}/livepatch-fix.ko\tlivepatch_fix\n`).join(''));
  const x = spawnSync('busybox', ['tar', '-xOf', out, `${B}/livepatch-fix.ko`]);
  expect(sha(x.stdout)).toBe(sha(ko));
  expect(fs.readdirSync(tmp.dir).filter((f) => f.includes('.tmp'))).toEqual([]);
});

test('deterministic: the same modules give the same bytes, whatever the files\' times and the directory\'s name', () => {
  const one = fleet('det-one');
  const a = path.join(tmp.dir, 'a.tar');
  expect(kelp(['bundle', one, '-o', a]).status).toBe(0);
  // Another directory with the same files, newer times, listed in another order.
  const two = path.join(tmp.dir, 'det-two');
  for (const rel of [B, C, A]) {
    fs.mkdirSync(path.join(two, rel), { recursive: true });
    for (const f of ['livepatch-fix.ko', 'livepatch-fix.json']) {
      fs.copyFileSync(path.join(one, rel, f), path.join(two, rel, f));
      fs.utimesSync(path.join(two, rel, f), 2_000_000_000, 2_000_000_000);
    }
  }
  const b = path.join(tmp.dir, 'b.tar');
  const r = kelp(['bundle', two, '-o', b]);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^${B.replace(/[+.]/g, '\\$&')}\t${B.replace(/[+.]/g, '\\$&')}/livepatch-fix.ko\t[0-9a-f]{16}\text4: ext4_fill_super ext4_iget; vmlinux: cmdline_proc_show$`, 'm'));
  expect(r.stdout).toMatch(/b\.tar: 3 module\(s\)\n$/);
  expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
  // SOURCE_DATE_EPOCH sets the one mtime.
  const c = path.join(tmp.dir, 'c.tar');
  expect(kelp(['bundle', two, '-o', c], { env: { SOURCE_DATE_EPOCH: '1700000000' } }).status).toBe(0);
  expect(spawnSync('tar', ['--utc', '-tvf', c], { encoding: 'utf8' }).stdout).toMatch(/2023-11-14 22:13 manifest\.json/);
});

test('a single build\'s directory (NAME.ko beside NAME.json) is a bundle of one', () => {
  const dir = path.join(tmp.dir, 'single');
  addRelease(dir, A, 'livepatch-cmdline', { vmlinux: ['cmdline_proc_show'] }, false);
  const out = path.join(tmp.dir, 'single.tar');
  const r = kelp(['bundle', dir, '-o', out, '--json']);
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout).modules.map((m: { path: string }) => m.path)).toEqual([`${A}/livepatch-cmdline.ko`]);
});

describe('bad input: one line, exit 1, no bundle written', () => {
  test.each([
    ['an empty directory', (d: string) => { fs.mkdirSync(d, { recursive: true }); }, /: no livepatch modules \(NAME\.ko, or RELEASE\/NAME\.ko of a fleet build\) in it$/],
    ['a module under another release\'s directory', (d: string) => {
      addRelease(d, A);
      fs.renameSync(path.join(d, A), path.join(d, B));
    }, new RegExp(`livepatch-fix\\.ko: built for ${A}, but lies in the directory of ${B.replace(/[+.]/g, '\\$&')}$`)],
    ['two modules for one release', (d: string) => {
      addRelease(d, A);
      addRelease(d, A, 'livepatch-other');
    }, new RegExp(`: two modules for ${A}: ${A}/livepatch-fix\\.ko and ${A}/livepatch-other\\.ko; a bundle carries one a release$`)],
    ['a module without its report', (d: string) => {
      addRelease(d, A);
      fs.rmSync(path.join(d, A, 'livepatch-fix.json'));
    }, /livepatch-fix\.json: missing: the build report beside the module says what it patches$/],
    ['a report that is not one', (d: string) => {
      addRelease(d, A);
      fs.writeFileSync(path.join(d, A, 'livepatch-fix.json'), '{"objects": 3}');
    }, /livepatch-fix\.json: not a kelp build report \(no "objects"\)$/],
    ['a module that is no livepatch', (d: string) => {
      addRelease(d, A);
      fs.writeFileSync(path.join(d, A, 'livepatch-fix.ko'), 'not elf');
    }, /livepatch-fix\.ko: not a kernel module \(no \.modinfo in an ELF64 little-endian file\)$/],
    ['no such directory', (_d: string) => {}, /: no such directory$/],
  ])('%s', (label, make, message) => {
    const dir = path.join(tmp.dir, `bad-${label.replace(/\W+/g, '-')}`);
    make(dir);
    const out = path.join(tmp.dir, `bad-${label.replace(/\W+/g, '-')}.tar`);
    const r = kelp(['bundle', dir, '-o', out]);
    expect([r.status, r.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(r.stderr.trim()).toMatch(/^kelp: /);
    expect(r.stderr.trim()).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });
});

