/**
 * Revisions of one upstream version sharing their source (src/target/share.ts):
 * which cached tree is the base, which files become hard links to it, and
 * that a build's patched file (kelp's tree guard) in one tree never shows in
 * the other. The measurement on Debian's real 6.1.192 trees is
 * test/bench/source-share.bench.ts.
 */
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TreeGuard } from '../../src/build/guard.js';
import { findBaseTree, linkIdenticalFiles, upstreamOf } from '../../src/target/share.js';
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

test('identical files become hard links to the base; changed, new and linked files stay; a guarded write in one tree leaves the other alone', async () => {
  const base = join(tmp.dir, 'base');
  const tree = join(tmp.dir, 'tree');
  write(base, { 'a.c': 'same\n', 'd/b.h': 'base b\n', 'd/e.c': 'same too\n', 'only-base.c': 'x\n', 'd/size.c': 'abc\n' });
  write(tree, { 'a.c': 'same\n', 'd/b.h': 'tree b\n', 'd/e.c': 'same too\n', 'only-tree.c': 'y\n', 'd/size.c': 'abcd\n' });
  symlinkSync('a.c', join(tree, 'link.c'));
  symlinkSync('a.c', join(base, 'link.c'));
  const cache = join(tmp.dir, 'cache');
  const r = await linkIdenticalFiles(tree, base, cache);
  expect({ files: r.files, linked: r.linked, bytesLinked: r.bytesLinked }).toEqual({ files: 5, linked: 2, bytesLinked: 5 + 9 });
  const ino = (root: string, p: string) => statSync(join(root, p)).ino;
  expect(ino(tree, 'a.c')).toBe(ino(base, 'a.c'));
  expect(ino(tree, 'd/e.c')).toBe(ino(base, 'd/e.c'));
  expect(ino(tree, 'd/b.h')).not.toBe(ino(base, 'd/b.h'));
  expect(readFileSync(join(tree, 'd/b.h'), 'utf8')).toBe('tree b\n');
  expect(readFileSync(join(tree, 'd/size.c'), 'utf8')).toBe('abcd\n');
  // Run again: nothing more to share, nothing changed.
  expect((await linkIdenticalFiles(tree, base, cache)).linked).toBe(0);
  // A kelp build patching a shared file in the tree replaces it (a new inode) and restores it: the base never sees it.
  const g = await TreeGuard.acquire(cache, tree);
  g.protect(['a.c']);
  g.write('a.c', 'patched\n');
  expect(readFileSync(join(base, 'a.c'), 'utf8')).toBe('same\n');
  g.restore();
  expect(readFileSync(join(tree, 'a.c'), 'utf8')).toBe('same\n');
  expect(readFileSync(join(base, 'a.c'), 'utf8')).toBe('same\n');
});
