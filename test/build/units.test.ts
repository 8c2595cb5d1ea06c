/**
 * kelp build's parts on their own: the patch reader/applier on what git diff
 * and diff -Nupr write, unsupported files, paths leaving the tree, the
 * original-object cache key and its dependency check, kbuild .cmd parsing,
 * module names, and the tree guard's journal (restore, repair after a crash,
 * waiting while another kelp holds the tree).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KelpError } from '../../src/errors.js';
import { ObjectCache, objectCacheKey } from '../../src/build/cache.js';
import { guardDir, TreeGuard } from '../../src/build/guard.js';
import { parseCmdFile } from '../../src/build/kbuild.js';
import { defaultModuleName } from '../../src/build/index.js';
import { applyChanges, parsePatchText, readPatchFile, unsupportedReason } from '../../src/build/patch.js';
import { makeTmpDir } from '../support/tmp.js';

const tmp = makeTmpDir('build-units');
afterAll(() => tmp.cleanup());

const ORIG = 'int a(void)\n{\n\treturn 1;\n}\n\nint b(void)\n{\n\treturn 2;\n}\n';
const NEW = 'int a(void)\n{\n\treturn 10;\n}\n\nint b(void)\n{\n\treturn 2;\n}\n';

/** A small tree with two files, and the patches real tools write between it and a changed copy. */
function makeTrees(name: string): { base: string; tree: string } {
  const base = join(tmp.dir, name);
  for (const side of ['a', 'b']) mkdirSync(join(base, side, 'dir'), { recursive: true });
  writeFileSync(join(base, 'a', 'dir', 'x.c'), ORIG);
  writeFileSync(join(base, 'b', 'dir', 'x.c'), NEW);
  writeFileSync(join(base, 'b', 'dir', 'new.h'), '#define NEW 1\n');
  return { base, tree: join(base, 'a') };
}

function diffNupr(base: string): string {
  try {
    return execFileSync('diff', ['-Nupr', 'a', 'b'], { cwd: base, encoding: 'utf8' });
  } catch (e) {
    return (e as { stdout: string }).stdout; // diff exits 1 when the trees differ
  }
}

/** git diff between two directories; --no-prefix so the names are a/... and b/... as in a repository. */
function gitDiff(base: string): string {
  try {
    return execFileSync('git', ['diff', '--no-index', '--no-prefix', 'a', 'b'], { cwd: base, encoding: 'utf8' });
  } catch (e) {
    return (e as { stdout: string }).stdout;
  }
}

describe('patch reader and applier', () => {
  test.each([['diff -Nupr', diffNupr], ['git diff', gitDiff]])('%s output: files, kinds and contents as patch -p1 would make them', (_label, make) => {
    const { base, tree } = makeTrees(_label.replace(/\W+/g, '-'));
    const text = make(base);
    const changes = parsePatchText(text, 'p.patch');
    expect(changes.map((c) => [c.path, c.kind]).sort()).toEqual([['dir/new.h', 'create'], ['dir/x.c', 'modify']]);
    const applied = applyChanges(tree, changes);
    expect(applied.after.get('dir/x.c')).toBe(NEW);
    expect(applied.after.get('dir/new.h')).toBe('#define NEW 1\n');
    expect(applied.before.get('dir/new.h')).toBeNull();
    // The tree itself is untouched: applying is in memory.
    expect(readFileSync(join(tree, 'dir', 'x.c'), 'utf8')).toBe(ORIG);
    expect(existsSync(join(tree, 'dir', 'new.h'))).toBe(false);
  });

  test('patches apply in order: a second patch applies on the result of the first', () => {
    const { base, tree } = makeTrees('ordered');
    const first = parsePatchText(gitDiff(base), 'one.patch');
    const second = parsePatchText('--- a/dir/x.c\n+++ b/dir/x.c\n@@ -1,4 +1,4 @@\n int a(void)\n {\n-\treturn 10;\n+\treturn 11;\n }\n', 'two.patch');
    const applied = applyChanges(tree, [...first, ...second]);
    expect(applied.after.get('dir/x.c')).toBe(NEW.replace('return 10', 'return 11'));
    // Alone, the second patch does not apply to the tree.
    let err: unknown;
    try { applyChanges(tree, second); } catch (e) { err = e; }
    expect((err as KelpError).describe()).toBe('two.patch: dir/x.c: hunk #1 (@@ -1,4 +1,4 @@) does not apply');
  });

  test('a hunk that does not apply is named with its file and number', () => {
    const { tree } = makeTrees('badhunk');
    const text = '--- a/dir/x.c\n+++ b/dir/x.c\n@@ -1,3 +1,3 @@\n int a(void)\n {\n-\treturn 1;\n+\treturn 5;\n@@ -6,3 +6,3 @@\n int b(void)\n {\n-\treturn 3;\n+\treturn 4;\n';
    expect(() => applyChanges(tree, parsePatchText(text, 'bad.patch'))).toThrow('dir/x.c: hunk #2 (@@ -6,3 +6,3 @@) does not apply');
  });

  test('paths leaving the tree, absolute paths and binary patches are refused; text around a patch is ignored', () => {
    const hunk = '@@ -1 +1 @@\n-x\n+y\n';
    expect(() => parsePatchText(`--- a/../etc/passwd\n+++ b/../etc/passwd\n${hunk}`, 'p')).toThrow('../etc/passwd: the path leaves the source tree');
    expect(() => parsePatchText(`--- a/dir/../../x.c\n+++ b/dir/../../x.c\n${hunk}`, 'p')).toThrow(/leaves the source tree/);
    expect(() => parsePatchText('diff --git a/x.bin b/x.bin\nindex 1..2 100644\nGIT binary patch\nliteral 1\n', 'p')).toThrow(/binary change/);
    expect(() => parsePatchText('just some text\n', 'p')).toThrow(/holds no file changes/);
    const c = parsePatchText(`Subject: fix\n\nSome words.\n---\n dir/x.c | 2 +-\n\n--- a/dir/x.c\n+++ b/dir/x.c\n${hunk}-- \n2.39.0\n`, 'p');
    expect(c.map((x) => x.path)).toEqual(['dir/x.c']);
    expect(() => readPatchFile(join(tmp.dir, 'missing.patch'))).toThrow(/no such patch file/);
  });

  test('unsupported files get a reason; C sources and headers none', () => {
    expect(unsupportedReason('arch/x86/entry/entry_64.S')).toMatch(/assembly/);
    expect(unsupportedReason('arch/x86/entry/vdso/vclock_gettime.c')).toMatch(/vDSO/);
    expect(unsupportedReason('lib/string.c')).toMatch(/lib\//);
    expect(unsupportedReason('fs/proc/Makefile')).toMatch(/build-system/);
    expect(unsupportedReason('Documentation/x.rst')).toMatch(/only C sources/);
    expect(unsupportedReason('fs/proc/cmdline.c')).toBeNull();
    expect(unsupportedReason('include/linux/fs.h')).toBeNull();
  });
});

describe('object cache', () => {
  const base = { object: 'fs/proc/cmdline.o', source: 'int x;', config: 'CONFIG_LIVEPATCH=y\n', compilerVersion: 'gcc-12 (Debian 12.2.0-14) 12.2.0', flags: '-ffunction-sections -fdata-sections' };

  test('the key changes with each of source, config, compiler, flags and path, and with nothing else', () => {
    const k = objectCacheKey(base);
    expect(objectCacheKey({ ...base })).toBe(k);
    expect(objectCacheKey({ ...base, source: Buffer.from('int x;') })).toBe(k);
    const variants = [
      { source: 'int y;' }, { config: 'CONFIG_LIVEPATCH=y\nCONFIG_X=y\n' }, { compilerVersion: 'gcc-13' },
      { flags: '-ffunction-sections' }, { object: 'fs/proc/version.o' },
      // No ambiguity from where one field ends and the next begins.
      { source: 'int x;C', config: 'ONFIG_LIVEPATCH=y\n' },
    ];
    const keys = variants.map((v) => objectCacheKey({ ...base, ...v }));
    expect(new Set([k, ...keys]).size).toBe(variants.length + 1);
  });

  test('a hit needs every recorded dependency unchanged', async () => {
    const tree = join(tmp.dir, 'cache-tree');
    mkdirSync(join(tree, 'include'), { recursive: true });
    writeFileSync(join(tree, 'x.c'), '#include "include/x.h"\n');
    writeFileSync(join(tree, 'include', 'x.h'), '#define X 1\n');
    writeFileSync(join(tree, 'x.o'), 'object bytes');
    const cache = new ObjectCache(join(tmp.dir, 'cache'));
    const key = objectCacheKey({ ...base, object: 'x.o' });
    expect(await cache.lookup(key, tree)).toBeUndefined();
    await cache.store(key, join(tree, 'x.o'), tree, 'x.o', ['x.c', 'include/x.h']);
    const hit = await cache.lookup(key, tree);
    expect(hit && readFileSync(hit, 'utf8')).toBe('object bytes');
    writeFileSync(join(tree, 'include', 'x.h'), '#define X 2\n');
    expect(await cache.lookup(key, tree)).toBeUndefined();
    writeFileSync(join(tree, 'include', 'x.h'), '#define X 1\n');
    expect(await cache.lookup(key, tree)).toBeDefined();
  });
});

describe('kbuild records and names', () => {
  test('.cmd files: command, source, dependencies, module or vmlinux', () => {
    const text = [
      "cmd_fs/ext4/inode.o := gcc-12 -Wp,-MMD,fs/ext4/.inode.o.d -nostdinc -DMODULE -DKBUILD_BASENAME='\"inode\"' -DKBUILD_MODNAME='\"ext4\"' -c -o fs/ext4/inode.o fs/ext4/inode.c",
      '', 'source_fs/ext4/inode.o := fs/ext4/inode.c', '',
      'deps_fs/ext4/inode.o := \\', '  include/linux/compiler-version.h \\', '    $(wildcard include/config/CC_VERSION_TEXT) \\', '  fs/ext4/ext4.h \\', '',
      'fs/ext4/inode.o: $(deps_fs/ext4/inode.o)', '',
    ].join('\n');
    const info = parseCmdFile(text, 'fs/ext4/inode.o');
    expect(info).toMatchObject({ source: 'fs/ext4/inode.c', deps: ['include/linux/compiler-version.h', 'fs/ext4/ext4.h'], modname: 'ext4', module: true });
    const builtin = parseCmdFile(text.replace(' -DMODULE', '').replace(/ext4"/g, 'proc"'), 'fs/ext4/inode.o');
    expect([builtin.module, builtin.modname]).toEqual([false, 'proc']);
  });

  test('default module names: livepatch-<patch name>, cleaned and at most 55 characters', () => {
    expect(defaultModuleName('examples/oot/fix.patch')).toBe('livepatch-fix');
    expect(defaultModuleName('/x/0001-proc: fix it.diff')).toBe('livepatch-0001-proc-fix-it');
    expect(defaultModuleName(`${'a'.repeat(80)}.patch`)).toHaveLength(55);
  });
});

describe('tree guard', () => {
  function setup(name: string): { tree: string; cache: string } {
    const tree = join(tmp.dir, name);
    mkdirSync(join(tree, 'd'), { recursive: true });
    writeFileSync(join(tree, 'd', 'f.c'), 'original\n');
    utimesSync(join(tree, 'd', 'f.c'), 1_600_000_000, 1_600_000_000);
    return { tree, cache: join(tmp.dir, `${name}-cache`) };
  }

  test('restore puts back contents, modes and mtimes and removes files that did not exist', async () => {
    const { tree, cache } = setup('guard-restore');
    const g = await TreeGuard.acquire(cache, tree);
    g.protect(['d/f.c', 'd/f.o']);
    g.write('d/f.c', 'patched\n');
    g.write('d/f.o', 'object\n');
    expect(readFileSync(join(tree, 'd', 'f.c'), 'utf8')).toBe('patched\n');
    g.restore();
    expect(readFileSync(join(tree, 'd', 'f.c'), 'utf8')).toBe('original\n');
    expect(statSync(join(tree, 'd', 'f.c')).mtimeMs).toBe(1_600_000_000_000);
    expect(existsSync(join(tree, 'd', 'f.o'))).toBe(false);
    expect(existsSync(join(guardDir(cache, tree), 'journal.json'))).toBe(false);
    expect(existsSync(join(guardDir(cache, tree), 'lock'))).toBe(false);
  });

  test('a journal left by a dead process is repaired by the next acquire', async () => {
    const { tree, cache } = setup('guard-repair');
    const crashed = await TreeGuard.acquire(cache, tree);
    crashed.protect(['d/f.c']);
    crashed.write('d/f.c', 'patched\n');
    // The process "dies": its lock names a pid that no longer runs.
    writeFileSync(join(guardDir(cache, tree), 'lock'), '999999999\n');
    const next = await TreeGuard.acquire(cache, tree);
    expect(next.repaired).toEqual(['d/f.c']);
    expect(readFileSync(join(tree, 'd', 'f.c'), 'utf8')).toBe('original\n');
    next.restore();
  });

  test('a tree held by a running process is waited for (said once, with its pid) and taken when released', async () => {
    const { tree, cache } = setup('guard-busy');
    const lock = join(guardDir(cache, tree), 'lock');
    mkdirSync(guardDir(cache, tree), { recursive: true });
    writeFileSync(lock, `${process.ppid}\n`);
    const waits: number[] = [];
    let polls = 0;
    const taking = TreeGuard.acquire(cache, tree, {
      pollMs: 20,
      onWait: (pid) => waits.push(pid),
      check: () => { if (++polls === 10) rmSync(lock); },
    });
    const g = await taking;
    expect(waits).toEqual([process.ppid]);
    expect(polls).toBeGreaterThanOrEqual(10);
    expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    g.restore();
    expect(existsSync(lock)).toBe(false);
  });

  test('the build that waited can protect and restore files once the holder has restored and released the tree', async () => {
    // The holder's release removes its saved copies; the waiter must not have relied on anything made while it waited.
    const { tree, cache } = setup('guard-handover');
    const holder = await TreeGuard.acquire(cache, tree);
    holder.protect(['d/f.c', 'd/f.o']);
    holder.write('d/f.c', 'patched by the holder\n');
    holder.write('d/f.o', 'object\n');
    // Seen from the waiter, the holder is another live process.
    writeFileSync(join(guardDir(cache, tree), 'lock'), `${process.ppid}\n`);
    const waits: number[] = [];
    let polls = 0;
    const waiter = await TreeGuard.acquire(cache, tree, {
      pollMs: 20,
      onWait: (pid) => waits.push(pid),
      check: () => { if (++polls === 5) holder.restore(); },
    });
    expect(waits).toEqual([process.ppid]);
    expect(readFileSync(join(tree, 'd', 'f.c'), 'utf8')).toBe('original\n');
    waiter.protect(['d/f.c', 'd/f.o']);
    waiter.write('d/f.c', 'patched by the waiter\n');
    waiter.write('d/f.o', 'object\n');
    waiter.restore();
    expect(readFileSync(join(tree, 'd', 'f.c'), 'utf8')).toBe('original\n');
    expect(statSync(join(tree, 'd', 'f.c')).mtimeMs).toBe(1_600_000_000_000);
    expect(existsSync(join(tree, 'd', 'f.o'))).toBe(false);
  });

  test('within one process too, a second taker waits until the first releases the tree', async () => {
    const { tree, cache } = setup('guard-same-process');
    const first = await TreeGuard.acquire(cache, tree);
    let polls = 0;
    const waits: number[] = [];
    const second = await TreeGuard.acquire(cache, tree, {
      pollMs: 10,
      onWait: (pid) => waits.push(pid),
      check: () => { if (++polls === 5) first.restore(); },
    });
    expect(waits).toEqual([process.pid]);
    expect(polls).toBeGreaterThanOrEqual(5);
    second.restore();
  });

  test('waiting for the tree stops when check throws (Ctrl-C) or after waitMs, the holder\'s lock untouched', async () => {
    const { tree, cache } = setup('guard-busy-stop');
    const lock = join(guardDir(cache, tree), 'lock');
    mkdirSync(guardDir(cache, tree), { recursive: true });
    writeFileSync(lock, `${process.ppid}\n`);
    await expect(TreeGuard.acquire(cache, tree, { pollMs: 10, check: () => { throw new Error('interrupted'); } })).rejects.toThrow('interrupted');
    await expect(TreeGuard.acquire(cache, tree, { pollMs: 10, waitMs: 50 })).rejects.toThrow(`another kelp build (pid ${process.ppid}) is building in this tree; waited 0 s`);
    expect(readFileSync(lock, 'utf8')).toBe(`${process.ppid}\n`);
  });

  test('a lock naming a live pid that started after the lock was written (a reused pid) is stale', async () => {
    const { tree, cache } = setup('guard-reused');
    const lock = join(guardDir(cache, tree), 'lock');
    mkdirSync(guardDir(cache, tree), { recursive: true });
    // A live process younger than the lock file cannot have written it.
    const child = spawn('sleep', ['30']);
    try {
      writeFileSync(lock, `${child.pid}\n`);
      utimesSync(lock, Date.now() / 1000 - 60, Date.now() / 1000 - 60);
      const g = await TreeGuard.acquire(cache, tree, { waitMs: 1000 });
      expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
      g.restore();
    } finally {
      child.kill();
    }
  });
});
