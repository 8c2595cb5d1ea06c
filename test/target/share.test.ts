/**
 * Revisions of one upstream version sharing their source (src/target/share.ts):
 * which cached tree is the base; unpacking a GNU tar .tar.xz next to it gives
 * the tree tar itself gives, with the identical files hard links to the base;
 * a build's patched file (kelp's tree guard) in one tree never shows in the
 * other; archives escaping their directory are refused. The measurement on Debian's real 6.1.192 trees is
 * test/bench/source-share.bench.ts.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TreeGuard } from '../../src/build/guard.js';
import { findBaseTree, unpackSharing, upstreamOf } from '../../src/target/share.js';
import { makeTmpDir } from '../support/tmp.js';

const tmp = makeTmpDir('target-share');
afterAll(() => tmp.cleanup());

function write(root: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), text);
  }
}

/** A cache entry as kelp target fetch leaves it: target.json, the source.done marker and the tree. */
function entry(distro: string, name: string, version: string, withDone = true): string {
  const dir = join(distro, name);
  const tree = join(dir, 'source', 'linux-source-6.1');
  write(tree, { Makefile: 'all:\n' });
  writeFileSync(join(dir, 'target.json'), JSON.stringify({ version, source: tree }));
  if (withDone) write(dir, { 'steps/source.done': '{}' });
  return tree;
}

test('the upstream part of Debian versions', () => {
  expect(upstreamOf('6.1.192-3')).toBe('6.1.192');
  expect(upstreamOf('6.12.115-2~deb12u1')).toBe('6.12.115');
  expect(upstreamOf('6.12.118-1')).toBe('6.12.118');
});

test('the base is a completed tree of the same upstream version and source package, never the entry itself', async () => {
  const distro = join(tmp.dir, 'debian');
  entry(distro, '6.1.0-54-amd64_6.1.190-1', '6.1.190-1');
  entry(distro, '6.1.0-55-amd64_6.1.192-1', '6.1.192-1', false); // interrupted: no source.done
  const done = entry(distro, '6.1.0-57-amd64_6.1.192-3', '6.1.192-3');
  const self = join(distro, '6.1.0-56-amd64_6.1.192-2');
  expect(await findBaseTree(distro, self, '6.1.192-2', 'linux-source-6.1')).toBe(done);
  expect(await findBaseTree(distro, join(distro, '6.1.0-57-amd64_6.1.192-3'), '6.1.192-3', 'linux-source-6.1')).toBeUndefined();
  expect(await findBaseTree(distro, self, '6.1.192-2', 'linux-source-6.12')).toBeUndefined();
  expect(await findBaseTree(join(tmp.dir, 'nothing'), self, '6.1.192-2', 'linux-source-6.1')).toBeUndefined();
});

/** A .tar.xz of `dir`'s top directory `top`, made by GNU tar (GNU format, as Debian's linux-source tarballs). */
function tarXz(dir: string, top: string, out: string): string {
  execFileSync('tar', ['--format=gnu', '-cJf', out, '-C', dir, top]);
  return out;
}

test('unpacking next to a base writes only what differs: identical files are hard links to it, changed ones (bytes or mode) are written', async () => {
  const root = join(tmp.dir, 'unpack');
  const longDir = `d/${'long-directory-name-'.repeat(6)}`;
  const base = join(root, 'base', 'linux-source-6.1');
  write(base, { 'a.c': 'same\n', 'd/b.h': 'base b\n', 'd/e.c': 'same too\n', 'only-base.c': 'x\n', 'd/size.c': 'abc\n', 'script.sh': '#!/bin/sh\n', [`${longDir}/f.c`]: 'long\n' });
  writeFileSync(join(base, 'built.o'), 'an object of the base'); // not in the archive: never looked at
  const src = join(root, 'src', 'linux-source-6.1');
  write(src, { 'a.c': 'same\n', 'd/b.h': 'tree b\n', 'd/e.c': 'same too\n', 'only-tree.c': 'y\n', 'd/size.c': 'abcd\n', 'script.sh': '#!/bin/sh\n', [`${longDir}/f.c`]: 'long\n' });
  chmodSync(join(src, 'script.sh'), 0o755);
  symlinkSync('a.c', join(src, 'link.c'));
  const tarball = tarXz(join(root, 'src'), 'linux-source-6.1', join(root, 'src.tar.xz'));
  const cache = join(tmp.dir, 'cache');
  const dest = join(root, 'dest');
  const { tree, share } = await unpackSharing(tarball, dest, base, cache);
  expect(tree).toBe(join(dest, 'linux-source-6.1'));
  expect({ files: share.files, linked: share.linked, bytesLinked: share.bytesLinked, bytesWritten: share.bytesWritten }).toEqual({ files: 7, linked: 3, bytesLinked: 5 + 9 + 5, bytesWritten: 7 + 2 + 5 + 10 });
  const ino = (r: string, p: string) => statSync(join(r, p)).ino;
  for (const p of ['a.c', 'd/e.c', `${longDir}/f.c`]) expect([p, ino(tree, p)]).toEqual([p, ino(base, p)]);
  for (const p of ['d/b.h', 'd/size.c', 'script.sh']) expect([p, ino(tree, p)]).not.toEqual([p, ino(base, p)]);
  // The unpacked tree is what tar itself unpacks: same files, bytes, modes and links.
  const plain = join(root, 'plain');
  mkdirSync(plain);
  execFileSync('tar', ['-xf', tarball, '-C', plain]);
  const listing = (r: string) => execFileSync('sh', ['-c', 'cd "$1" && find . -printf "%p %y %m %l\\n" | sort && find . -type f -print0 | sort -z | xargs -0 sha1sum', 'sh', r], { encoding: 'utf8' });
  expect(listing(tree)).toBe(listing(join(plain, 'linux-source-6.1')));
  // A kelp build patching a shared file replaces it (a new inode) and restores it: the base never sees it.
  const g = await TreeGuard.acquire(cache, tree);
  g.protect(['a.c']);
  g.write('a.c', 'patched\n');
  expect(readFileSync(join(base, 'a.c'), 'utf8')).toBe('same\n');
  g.restore();
  expect(readFileSync(join(tree, 'a.c'), 'utf8')).toBe('same\n');
  expect(readFileSync(join(base, 'a.c'), 'utf8')).toBe('same\n');
});

/** One GNU tar member (header and data), for archives tar itself would not write. */
function tarMember(name: string, type: '0' | '2', linkname = '', data = Buffer.from('x\n')): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  const size = type === '0' ? data.length : 0;
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar  \0', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const body = Buffer.alloc(Math.ceil(size / 512) * 512);
  if (size > 0) data.copy(body);
  return Buffer.concat([h, body]);
}

test('an archive writing through one of its own symbolic links, or leaving its directory, is refused', async () => {
  const root = join(tmp.dir, 'evil');
  const base = join(root, 'base', 'linux-source-6.1');
  write(base, { 'a.c': 'x\n' });
  const make = (name: string, members: Buffer[]) => {
    const out = join(root, `${name}.tar`);
    writeFileSync(out, Buffer.concat([...members, Buffer.alloc(1024)]));
    execFileSync('xz', ['-f', out]);
    return `${out}.xz`;
  };
  const outside = join(root, 'outside');
  mkdirSync(outside);
  const cases: Array<[string, Buffer[], string]> = [
    ['under-link', [tarMember('linux-source-6.1/up', '2', outside), tarMember('linux-source-6.1/up/x.c', '0')], 'member linux-source-6.1/up/x.c lies under the symbolic link linux-source-6.1/up'],
    ['over-link', [tarMember('linux-source-6.1/a.c', '2', join(outside, 'y')), tarMember('linux-source-6.1/a.c', '0')], 'member linux-source-6.1/a.c comes again after a symbolic link of that name'],
    ['dotdot', [tarMember('linux-source-6.1/../../x.c', '0')], 'member "linux-source-6.1/../../x.c" leaves the archive\'s directory'],
  ];
  for (const [name, members, message] of cases) {
    const tarball = make(name, members);
    await expect(unpackSharing(tarball, join(root, `dest-${name}`), base, join(tmp.dir, 'cache'))).rejects.toThrow(message);
  }
  expect(readdirSync(outside)).toEqual([]);
});
