/**
 * kelp build on the prepared Debian kernel source: the vmlinux example end
 * to end (examples/vmlinux/run.sh, verified in the VM), and bad input — a
 * hunk that does not apply, a .S file, a data change, a path leaving the
 * tree, Ctrl-C during the patched build, a kelp killed outright — each with a
 * clear message, a non-zero exit, no output file and the tree's sources
 * byte-identical to before.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guardDir } from '../../src/build/guard.js';
import { findModuleFile } from '../../src/kernel/module-tree.js';
import { cacheRoot } from '../../src/target/cache.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { hashFiles, kelp, kelpWatching, outputs, sourcesModifiedSince, stamp } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
let tree: string;
const tmp = makeTmpDir('build-vmlinux');
const FIX = (name: string) => join(REPO_ROOT, 'test', 'build', 'fixtures', name);
const CMDLINE_PATCH = join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch');
/** The sources the patches here touch. */
const WATCHED = ['fs/proc/cmdline.c', 'kernel/async.c', 'arch/x86/entry/thunk_64.S', 'fs/binfmt_misc.c', 'fs/ext4/inode.c', 'kernel/sys.c', 'fs/proc/version.c'];
/** Objects kbuild builds in the tree for them: never left holding patched code. */
const OBJECTS = ['fs/proc/cmdline.o', 'kernel/async.o', 'fs/binfmt_misc.o', 'fs/ext4/inode.o', 'kernel/sys.o', 'fs/proc/version.o'];
const PATCHED_MARKS = [/kelp_example=patched/, / kelp\n/, /livepatched by kelp/, /kelp-note/, /kpatch-style patch/];

function patchedObjectsInTree(): string[] {
  return OBJECTS.filter((o) => {
    const p = join(tree, o);
    return existsSync(p) && PATCHED_MARKS.some((m) => m.test(readFileSync(p, 'latin1')));
  });
}

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (!pre.ok) return;
  target = await getTarget({ source: true });
  tree = target.source!;
}, 1_200_000);
afterAll(() => tmp.cleanup());

/** Runs `fn` and checks that no source of the tree changed and the watched files are byte-identical. */
async function unchanged<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
  const before = hashFiles(tree, WATCHED);
  const since = stamp(join(tmp.dir, `${label}.stamp`));
  const r = await fn();
  expect(hashFiles(tree, WATCHED)).toEqual(before);
  expect(sourcesModifiedSince(tree, since)).toEqual([]);
  expect(patchedObjectsInTree()).toEqual([]);
  return r;
}

function buildArgs(patch: string, out: string, extra: string[] = []): string[] {
  return ['build', patch, '--sourcedir', tree, '--kdir', target.kdir, '--symbols', target.systemMap, '-o', out, ...extra];
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}

test('the vmlinux example: /proc/cmdline patched through non-exported saved_command_line, verified in the VM', async () => {
  if (skipUnlessReady(pre)) return;
  expect(readFileSync(target.symvers, 'latin1')).not.toMatch(/\tsaved_command_line\t/);
  const out = join(tmp.dir, 'example');
  const r = await unchanged('example', () => spawnSync('sh', [join(REPO_ROOT, 'examples', 'vmlinux', 'run.sh')], {
    cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, KELP_EXAMPLE_OUT: out }, maxBuffer: 64 << 20,
  }));
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  expect(readdirSync(out).sort()).toEqual(['livepatch-cmdline.json', 'livepatch-cmdline.ko']);
  const report = JSON.parse(readFileSync(join(out, 'livepatch-cmdline.json'), 'utf8'));
  expect(report.targets).toEqual({ vmlinux: ['fs/proc/cmdline.o'] });
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'cmdline_proc_show', oldName: 'cmdline_proc_show' }]);
  expect(report.verify.ok).toBe(true);
  expect(report.verify.checks[0].output).toMatch(/console=ttyS0.* kelp_example=patched\n$/);
  // kelp check passed before the boot, and disabling the patch brings the original /proc/cmdline back.
  expect(report.verify.check.ok).toBe(true);
  expect(report.verify.checksAfterDisable[0].output).toMatch(/console=ttyS0/);
  expect(report.verify.checksAfterDisable[0].output).not.toMatch(/kelp_example=patched/);
  expect(report.verify.checksAfterDisable[1].output).toBe('disabled\n');
}, 900_000);

test('an in-tree module patch (binfmt_misc): module found from kbuild\'s record, the target\'s module loaded first in the VM', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'module');
  const r = await unchanged('module', () => spawnSync('sh', [join(REPO_ROOT, 'examples', 'module', 'run.sh')], {
    cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, KELP_EXAMPLE_OUT: out }, maxBuffer: 64 << 20,
  }));
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(readFileSync(join(out, 'livepatch-binfmt_misc.json'), 'utf8'));
  expect(report.moduleName).toBe('livepatch_binfmt_misc');
  expect(report.targets).toEqual({ binfmt_misc: ['fs/binfmt_misc.o'] });
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'bm_status_read', oldName: 'bm_status_read' }]);
  expect(report.verify.checks[0].output).toBe('enabled (livepatched by kelp)\n');
  expect(report.verify.checksAfterDisable[0].output).toBe('enabled\n');
}, 900_000);

test('the binfmt_misc livepatch loaded before binfmt_misc itself: the kernel patches the module when it loads', async () => {
  if (skipUnlessReady(pre)) return;
  let ko = join(tmp.dir, 'module', 'livepatch-binfmt_misc.ko');
  if (!existsSync(ko)) {
    const out = join(tmp.dir, 'module-late');
    const b = await unchanged('module-late', () => kelp(buildArgs(join(REPO_ROOT, 'examples', 'module', 'binfmt_misc.patch'), out)));
    expect([b.status, lastLine(b.stderr)]).toEqual([0, expect.any(String)]);
    ko = join(out, 'livepatch-binfmt_misc.ko');
  }
  const binfmt = findModuleFile(target.modules, 'binfmt_misc');
  expect(binfmt).toBeDefined();
  const r = await runOnTarget('build-module-late', {
    kernel: target.kernel,
    load: [ko, binfmt!],
    check: ['mount -t binfmt_misc none /proc/sys/fs/binfmt_misc; cat /proc/sys/fs/binfmt_misc/status', 'dmesg'],
  });
  expect([r.error, r.modules.map((m) => [m.name, m.loaded, m.error])]).toEqual([null, [['livepatch_binfmt_misc', true, null], ['binfmt_misc', true, null]]]);
  expect(r.checks[0].output).toBe('enabled (livepatched by kelp)\n');
  expect(r.checks[1].output).toMatch(/livepatch: applying patch 'livepatch_binfmt_misc' to loading module 'binfmt_misc'/);
}, 300_000);

test('two patches, vmlinux and a module: one livepatch with two klp_objects, both patched in the VM and both restored when disabled', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'multi');
  const binfmt = 'grep -q binfmt_misc /proc/mounts || mount -t binfmt_misc none /proc/sys/fs/binfmt_misc; cat /proc/sys/fs/binfmt_misc/status';
  const r = await unchanged('multi', () => kelp(buildArgs(CMDLINE_PATCH, out, [
    join(REPO_ROOT, 'examples', 'module', 'binfmt_misc.patch'), '--name', 'livepatch-multi', '--json',
    '--verify', '--check', 'cat /proc/cmdline', '--check', binfmt,
  ])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.moduleName).toBe('livepatch_multi');
  expect(report.targets).toEqual({ binfmt_misc: ['fs/binfmt_misc.o'], vmlinux: ['fs/proc/cmdline.o'] });
  const ko = readFileSync(join(out, 'livepatch-multi.ko'), 'latin1');
  expect(ko).toContain('.klp.rela.vmlinux.');
  expect(ko).toContain('.klp.rela.binfmt_misc.');
  expect(outputs(report).before).toEqual([
    expect.stringMatching(/ kelp_example=patched\n$/), 'enabled (livepatched by kelp)\n', '1\n',
  ]);
  expect(outputs(report).after).toEqual([
    expect.not.stringMatching(/kelp_example/), 'enabled\n', 'disabled\n',
  ]);
}, 300_000);

test('ext4: a fix adding lines changes only its function (#line directives keep the __LINE__ of the ~30 below it), a second one keeps its jump labels\' 16-byte entries with their keys, and both load in the VM after ext4\'s dependencies', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'ext4');
  // --verify loads ext4 in the VM, after the modules its depends= names (jbd2, mbcache, crc16).
  // A second patch on top changes mpage_prepare_extent_to_map, which holds jump labels: their 16-byte
  // __jump_table entries (6.1's struct jump_entry, read from the kernel) must keep their keys, or loading oopses.
  const r = await unchanged('ext4', () => kelp(buildArgs(FIX('ext4-lines.patch'), out, [
    FIX('ext4-jump.patch'), '--name', 'livepatch-ext4', '--json', '--verify', '--check', 'grep -w ext4 /proc/filesystems',
  ])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  expect(r.stderr).toMatch(/2 #line directive\(s\) keeping unchanged lines' numbers/);
  const report = JSON.parse(r.stdout);
  expect(report.entrySizes).toEqual(['.parainstructions=16', '__ex_table=12', '__bug_table=12', '.altinstructions=12', '__jump_table=16', '.static_call_sites=8', '.orc_unwind=6']);
  expect(report.targets).toEqual({ ext4: ['fs/ext4/inode.o'] });
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name).sort()).toEqual(['ext4_inode_is_fast_symlink', 'mpage_prepare_extent_to_map']);
  const jt = spawnSync('readelf', ['-rW', join(out, 'livepatch-ext4.ko')], { encoding: 'utf8' }).stdout.split('\n\n').find((b) => b.includes("'.rela__jump_table'") || b.includes("'.klp.rela.vmlinux.__jump_table'"));
  expect(jt).toBeDefined();
  // Five sites: code and target (PC32) and the key (PC64, an export the loader resolves) each.
  expect(jt!.match(/R_X86_64_PC32 +0+ mpage_prepare_extent_to_map \+/g)).toHaveLength(10);
  expect(jt!.match(/R_X86_64_PC64 +0+ hugetlb_optimize_vmemmap_key \+ 2/g)).toHaveLength(5);
  expect(outputs(report).before).toEqual(['\text4\n', '1\n']);
  expect(outputs(report).after).toEqual(['\text4\n', 'disabled\n']);
}, 300_000);

test('new data, new per-cpu data and a new function with WARN_ON_ONCE: carried by the livepatch module, counting in the VM', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'new-data');
  const r = await unchanged('new-data', () => kelp(buildArgs(FIX('new-data.patch'), out, ['--json', '--verify', '--check', 'cat /proc/cmdline', '--check', 'cat /proc/cmdline'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name)).toEqual(['cmdline_proc_show']);
  expect(report.objects[0].newFunctions).toEqual(['cmdline_note_read']);
  expect([...report.objects[0].newData].sort()).toEqual(['cmdline_reads', 'cmdline_reads_pcpu']);
  const { before, after } = outputs(report);
  expect(before).toEqual([expect.stringMatching(/ reads=1 pcpu=1\n$/), expect.stringMatching(/ reads=2 pcpu=2\n$/), '1\n']);
  expect(after.slice(0, 2).every((o) => !o.includes('reads='))).toBe(true);
}, 300_000);

test('a syscall fix: SYSCALL_DEFINE\'s __do_sys_newuname has no __fentry__, so its callers are replaced; uname -m changes in the VM and comes back', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'uname');
  const r = await unchanged('uname', () => kelp(buildArgs(FIX('uname.patch'), out, ['--json', '--verify', '--check', 'uname -m', '--expect', '^kelp$', '--expect-disabled', '^x86_64$'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  expect(r.stderr).toMatch(/changed function: __do_sys_newuname \(no __fentry__: replaced through its callers __ia32_sys_newuname, __x64_sys_newuname\)/);
  const report = JSON.parse(r.stdout);
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name).sort()).toEqual(['__ia32_sys_newuname', '__x64_sys_newuname']);
  expect(report.objects[0].throughCallers).toEqual([{ name: '__do_sys_newuname', callers: ['__ia32_sys_newuname', '__x64_sys_newuname'] }]);
  expect(outputs(report).before).toEqual(['kelp\n', '1\n']);
  expect(outputs(report).after).toEqual(['x86_64\n', 'disabled\n']);
}, 300_000);

test('kpatch\'s and klp-build\'s patch APIs: KPATCH_SYSCALL_DEFINE1 with KPATCH_PRINTK, then <linux/livepatch_helpers.h>\'s KLP_SYSCALL_DEFINE2 and a callback (6.1 has no such header), build unchanged and work in the VM', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'api');
  const r = await unchanged('api', () => kelp(buildArgs(FIX('kpatch-syscall.patch'), out, [
    FIX('klp-helpers.patch'), '--name', 'livepatch-api', '--json', '--verify',
    '--check', 'uname -m', '--check', 'hostname test; hostname',
    '--check', 'dmesg | grep -c "klp-style post-patch callback ran for vmlinux"',
    '--check', 'dmesg | grep -q "kelp: newuname patched by a kpatch-style patch" && echo printed',
  ])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  const [obj] = report.objects;
  expect(obj.changedFunctions.map((f: { name: string }) => f.name).sort()).toEqual(['__ia32_sys_newuname', '__ia32_sys_sethostname', '__x64_sys_newuname', '__x64_sys_sethostname']);
  expect(obj.throughCallers).toEqual([{ name: '__do_sys_newuname', callers: ['__ia32_sys_newuname', '__x64_sys_newuname'] }]);
  expect(obj.newFunctions).toContain('kelp_klp_post_patch');
  expect(outputs(report).before).toEqual(['kpatch\n', 'klp!\n', '1\n', 'printed\n', '1\n']);
  expect(outputs(report).after).toEqual(['x86_64\n', 'test\n', '1\n', 'printed\n', 'disabled\n']);
}, 600_000);

test('a patch from another release applies as patch -p1 applies it (offset -7 lines, fuzz 1) with a warning saying where; --fuzz 0 refuses it', async () => {
  if (skipUnlessReady(pre)) return;
  const strict = join(tmp.dir, 'fuzz-0');
  const refused = await unchanged('fuzz-0', () => kelp(buildArgs(FIX('fuzz.patch'), strict, ['--fuzz', '0'])));
  expect([refused.status, lastLine(refused.stderr)]).toEqual([1, expect.stringMatching(/fuzz\.patch: fs\/proc\/cmdline\.c: hunk #1 \(@@ -13,8 \+13,8 @@\) does not apply with --fuzz 0: it needs fuzz 1 \(at line 6\)$/)]);
  expect(existsSync(strict) ? readdirSync(strict) : []).toEqual([]);
  const out = join(tmp.dir, 'fuzz');
  const r = await unchanged('fuzz', () => kelp(buildArgs(FIX('fuzz.patch'), out, ['--name', 'livepatch-cmdline', '--json'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  expect(r.stderr).toMatch(/^kelp: warning: .*fuzz\.patch: fs\/proc\/cmdline\.c: hunk #1 applied at line 6, not 13 \(offset -7 lines, fuzz 1\)$/m);
  const report = JSON.parse(r.stdout);
  expect(report.movedHunks).toEqual([{ patch: FIX('fuzz.patch'), path: 'fs/proc/cmdline.c', hunk: 1, expected: 13, landed: 6, offset: -7, fuzz: 1 }]);
  // The tree's text came out as the example's own patch makes it: the same module, byte for byte.
  const example = join(tmp.dir, 'example', 'livepatch-cmdline.ko');
  if (existsSync(example)) expect(readFileSync(join(out, 'livepatch-cmdline.ko')).equals(readFileSync(example))).toBe(true);
  expect(report.objects[0].changedFunctions).toEqual([{ name: 'cmdline_proc_show', oldName: 'cmdline_proc_show' }]);
}, 600_000);

test('symbols across objects: a global variable and function new in fs/proc/cmdline.c, used by fs/proc/version.c, resolve inside the livepatch module', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'cross');
  const r = await unchanged('cross', () => kelp(buildArgs(FIX('cross-object.patch'), out, [
    '--json', '--verify', '--check', 'cat /proc/version', '--check', 'cat /proc/cmdline',
  ])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  const byObject = Object.fromEntries(report.objects.map((o: { object: string }) => [o.object, o]));
  expect(byObject['fs/proc/cmdline.o'].newFunctions).toEqual(['kelp_proc_note']);
  expect(byObject['fs/proc/cmdline.o'].newData).toEqual(['kelp_proc_reads']);
  expect(byObject['fs/proc/version.o'].changedFunctions.map((f: { name: string }) => f.name)).toEqual(['version_proc_show']);
  // Neither is looked up in the target: no .klp.sym symbol names them, and the module defines both.
  const syms = spawnSync('readelf', ['-sW', join(out, 'livepatch-cross-object.ko')], { encoding: 'utf8' }).stdout;
  expect(syms).not.toMatch(/\.klp\.sym\.vmlinux\.kelp_proc/);
  expect(syms).toMatch(/ FUNC +GLOBAL +DEFAULT +\d+ kelp_proc_note$/m);
  expect(syms).toMatch(/ OBJECT +GLOBAL +DEFAULT +\d+ kelp_proc_reads$/m);
  const { before } = outputs(report);
  expect(before[0]).toMatch(/^Linux version .*\nkelp-note\n$/);
  expect(before[1]).toMatch(/ reads=1\n$/);
}, 600_000);

test('a second build of the same patch takes the originals from the cache and writes the same bytes', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'cached');
  const r = await unchanged('cached', () => kelp(buildArgs(CMDLINE_PATCH, out, ['--json'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.cache).toEqual({ hits: 1, misses: 0 });
  expect(report.objects[0].cached).toBe(true);
  expect(existsSync(join(out, 'livepatch-cmdline.ko'))).toBe(true);
  // Deterministic: byte-identical to the example's module, built in another work directory (and maybe not from the cache).
  const example = join(tmp.dir, 'example', 'livepatch-cmdline.ko');
  if (existsSync(example)) expect(readFileSync(join(out, 'livepatch-cmdline.ko')).equals(readFileSync(example))).toBe(true);
}, 300_000);

describe('bad input leaves no module and the tree as it was', () => {
  test.each([
    ['a hunk that does not apply', 'bad-hunk.patch', 1, /bad-hunk\.patch: fs\/proc\/cmdline\.c: hunk #2 \(@@ -15,4 \+15,4 @@\) does not apply$/],
    ['a change to a .S file', 'asm.patch', 1, /asm\.patch: arch\/x86\/entry\/thunk_64\.S: assembly sources cannot be live-patched/],
    ['a path leaving the tree', 'escape.patch', 1, /escape\.patch: \.\.\/outside\/fs\/proc\/cmdline\.c: the path leaves the source tree$/],
    // The diff names the object and the variable; its wording is the diff's own.
    ['a change to data', 'data.patch', 2, /data\.patch: cannot be live-patched \(\d+ problem\(s\)\): kernel\/async\.o: .*next_cookie/],
  ])('%s', async (_label, patch, status, message) => {
    if (skipUnlessReady(pre)) return;
    const out = join(tmp.dir, `bad-${patch}`);
    const r = await unchanged(patch, () => kelp(buildArgs(FIX(patch), out)));
    expect([r.status, lastLine(r.stderr)]).toEqual([status, expect.stringMatching(message)]);
    expect(lastLine(r.stderr)).toMatch(/^kelp: /);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  }, 300_000);

  test('Ctrl-C (SIGINT) during the patched build: the build stops, the tree is restored, exit 130', async () => {
    if (skipUnlessReady(pre)) return;
    const out = join(tmp.dir, 'sigint');
    let patchedDuringBuild: boolean | null = null;
    const r = await unchanged('sigint', () => kelpWatching(buildArgs(CMDLINE_PATCH, out, ['--no-cache']), (line, pid) => {
      if (patchedDuringBuild !== null || !line.startsWith('kelp: build patched')) return;
      // The tree really holds the patched source while kbuild builds it.
      patchedDuringBuild = readFileSync(join(tree, 'fs/proc/cmdline.c'), 'latin1').includes('kelp_example=patched');
      process.kill(pid, 'SIGINT');
    }));
    expect(patchedDuringBuild).toBe(true);
    expect([r.status, lastLine(r.stderr)]).toEqual([130, expect.stringMatching(/^kelp: .*: interrupted \(SIGINT\); nothing was written and the tree is as it was$/)]);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  }, 300_000);

  test('a kelp killed outright (SIGKILL) leaves a journal; the next build repairs the tree first', async () => {
    if (skipUnlessReady(pre)) return;
    const before = hashFiles(tree, WATCHED);
    let patchedWhenKilled: boolean | null = null;
    const killed = await kelpWatching(buildArgs(CMDLINE_PATCH, join(tmp.dir, 'killed'), ['--no-cache']), (line, pid) => {
      if (patchedWhenKilled !== null || !line.startsWith('kelp: build patched')) return;
      patchedWhenKilled = readFileSync(join(tree, 'fs/proc/cmdline.c'), 'latin1').includes('kelp_example=patched');
      process.kill(pid, 'SIGKILL');
    });
    expect(killed.signal).toBe('SIGKILL');
    // The journal it left names the saved files and its work directory.
    const journal = JSON.parse(readFileSync(join(guardDir(cacheRoot(), tree), 'journal.json'), 'utf8')) as { entries: Array<{ path: string }>; work: string };
    expect(journal.entries.map((e) => e.path)).toContain('fs/proc/cmdline.c');
    expect(existsSync(journal.work)).toBe(true);
    expect(patchedWhenKilled).toBe(true);
    // Left patched: nothing could restore it.
    expect(readFileSync(join(tree, 'fs/proc/cmdline.c'), 'latin1')).toContain('kelp_example=patched');
    // The next build on the tree repairs it before reading it: the same patch applies again and builds.
    const out = join(tmp.dir, 'after-kill');
    const r = kelp(buildArgs(CMDLINE_PATCH, out));
    expect(r.stderr).toMatch(/^kelp: repaired the tree left patched by an earlier, interrupted kelp build \(\d+ file\(s\) restored\)$/m);
    expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
    expect(readdirSync(out).sort()).toEqual(['livepatch-cmdline.json', 'livepatch-cmdline.ko']);
    expect(hashFiles(tree, WATCHED)).toEqual(before);
    // The killed run's work directory went with the repair, and so did the journal.
    expect(existsSync(journal.work)).toBe(false);
    expect(existsSync(join(guardDir(cacheRoot(), tree), 'journal.json'))).toBe(false);
    expect(patchedObjectsInTree()).toEqual([]);
  }, 300_000);
});
