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
import { basename, join } from 'node:path';
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
/** The livepatches built here and proved together in one boot. */
const built: Record<string, { ko: string; moduleName: string }> = {};
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

test('two patches, vmlinux and a module: one livepatch with two klp_objects (proved in the shared boot below)', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'multi');
  const r = await unchanged('multi', () => kelp(buildArgs(CMDLINE_PATCH, out, [
    join(REPO_ROOT, 'examples', 'module', 'binfmt_misc.patch'), '--name', 'livepatch-multi', '--json',
  ])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.moduleName).toBe('livepatch_multi');
  expect(report.targets).toEqual({ binfmt_misc: ['fs/binfmt_misc.o'], vmlinux: ['fs/proc/cmdline.o'] });
  const ko = readFileSync(join(out, 'livepatch-multi.ko'), 'latin1');
  expect(ko).toContain('.klp.rela.vmlinux.');
  expect(ko).toContain('.klp.rela.binfmt_misc.');
  built.multi = { ko: join(out, 'livepatch-multi.ko'), moduleName: report.moduleName };
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

test('new data, new per-cpu data and a new function with WARN_ON_ONCE: carried by the livepatch module (counting in the shared boot below)', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'new-data');
  const r = await unchanged('new-data', () => kelp(buildArgs(FIX('new-data.patch'), out, ['--json'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name)).toEqual(['cmdline_proc_show']);
  expect(report.objects[0].newFunctions).toEqual(['cmdline_note_read']);
  expect([...report.objects[0].newData].sort()).toEqual(['cmdline_reads', 'cmdline_reads_pcpu']);
  built['new-data'] = { ko: join(out, 'livepatch-new-data.ko'), moduleName: report.moduleName };
}, 300_000);

test('a fix to a source under tools/ that the kernel builds (kernel/bpf/Makefile makes relo_core.o from tools/lib/bpf/relo_core.c): patched in vmlinux (proved in the shared boot below)', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'tools');
  const r = await unchanged('tools', () => kelp(buildArgs(FIX('tools-relo-core.patch'), out, ['--json'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.targets).toEqual({ vmlinux: ['kernel/bpf/relo_core.o'] });
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name)).toEqual(['bpf_core_patch_insn']);
  built.tools = { ko: join(out, 'livepatch-tools-relo-core.ko'), moduleName: report.moduleName };
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

test('kpatch\'s and klp-build\'s patch APIs: KPATCH_SYSCALL_DEFINE1 with KPATCH_PRINTK, then <linux/livepatch_helpers.h>\'s KLP_SYSCALL_DEFINE2 and a callback (6.1 has no such header), build unchanged (and work in the shared boot below)', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'api');
  const r = await unchanged('api', () => kelp(buildArgs(FIX('kpatch-syscall.patch'), out, [FIX('klp-helpers.patch'), '--name', 'livepatch-api', '--json'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  const [obj] = report.objects;
  expect(obj.changedFunctions.map((f: { name: string }) => f.name).sort()).toEqual(['__ia32_sys_newuname', '__ia32_sys_sethostname', '__x64_sys_newuname', '__x64_sys_sethostname']);
  expect(obj.throughCallers).toEqual([{ name: '__do_sys_newuname', callers: ['__ia32_sys_newuname', '__x64_sys_newuname'] }]);
  expect(obj.newFunctions).toContain('kelp_klp_post_patch');
  built.api = { ko: join(out, 'livepatch-api.ko'), moduleName: report.moduleName };
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
  const r = await unchanged('cross', () => kelp(buildArgs(FIX('cross-object.patch'), out, ['--json'])));
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
  built.cross = { ko: join(out, 'livepatch-cross-object.ko'), moduleName: report.moduleName };
}, 600_000);

test('a quirk added to a read-only table (snd-acp-config\'s config_table): the patch carries the new table and replaces snd_amd_acp_find_config, its only reader (proved in the shared boot below)', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'acp-quirk');
  const r = await unchanged('acp-quirk', () => kelp(buildArgs(FIX('acp-quirk.patch'), out, ['--json'])));
  expect([r.status, lastLine(r.stderr)]).toEqual([0, expect.any(String)]);
  expect(r.stderr).toMatch(/changed function: snd_amd_acp_find_config: reads config_table, a read-only table the patch changes/);
  const report = JSON.parse(r.stdout);
  expect(report.targets).toEqual({ snd_acp_config: ['sound/soc/amd/acp-config.o'] });
  expect(report.objects[0].changedFunctions.map((f: { name: string }) => f.name)).toEqual(['snd_amd_acp_find_config']);
  expect(report.objects[0].newData).toContain('config_table');
  // The new table's entries point at the DMI tables: the new one, and the running module's two (or copies of them).
  const syms = spawnSync('readelf', ['-sW', join(out, 'livepatch-acp-quirk.ko')], { encoding: 'utf8' }).stdout;
  expect(syms).toMatch(/ OBJECT +LOCAL +DEFAULT +\d+ config_table$/m);
  built.acp = { ko: join(out, 'livepatch-acp-quirk.ko'), moduleName: report.moduleName };
}, 300_000);

test('one boot: the binfmt_misc livepatch loaded before binfmt_misc itself, then each livepatch above in turn loads, patches, and unpatches', async () => {
  if (skipUnlessReady(pre)) return;
  expect(Object.keys(built).sort()).toEqual(['acp', 'api', 'cross', 'multi', 'new-data', 'tools']);
  let late = join(tmp.dir, 'module', 'livepatch-binfmt_misc.ko');
  if (!existsSync(late)) {
    const out = join(tmp.dir, 'module-late');
    const b = await unchanged('module-late', () => kelp(buildArgs(join(REPO_ROOT, 'examples', 'module', 'binfmt_misc.patch'), out)));
    expect([b.status, lastLine(b.stderr)]).toEqual([0, expect.any(String)]);
    late = join(out, 'livepatch-binfmt_misc.ko');
  }
  const binfmtKo = findModuleFile(target.modules, 'binfmt_misc');
  expect(binfmtKo).toBeDefined();
  const acpKos = ['snd_soc_acpi', 'snd_acp_config'].map((m) => findModuleFile(target.modules, m)!);
  expect(acpKos.every((k) => k !== undefined)).toBe(true);
  // kelp check, as --verify runs it before a boot.
  for (const ko of [late, ...Object.values(built).map((b) => b.ko)]) {
    const check = kelp(['check', ko, '--release', target.release, '--modules', target.modules]);
    expect([ko, check.status, check.stdout + check.stderr]).toEqual([ko, 0, expect.any(String)]);
  }
  const status = 'grep -q binfmt_misc /proc/mounts || mount -t binfmt_misc none /proc/sys/fs/binfmt_misc; cat /proc/sys/fs/binfmt_misc/status';
  const cases: Array<{ name: string; check: string; setup?: string }> = [
    { name: 'multi', check: `cat /proc/cmdline; ${status}` },
    { name: 'new-data', check: 'cat /proc/cmdline; cat /proc/cmdline' },
    {
      name: 'api',
      check: 'uname -m; hostname test; hostname; dmesg | grep -c "klp-style post-patch callback ran for vmlinux"; '
        + 'dmesg | grep -q "kelp: newuname patched by a kpatch-style patch" && echo printed',
    },
    { name: 'cross', check: 'cat /proc/version; cat /proc/cmdline' },
    { name: 'tools', check: 'ls /sys/kernel/livepatch/livepatch_tools_relo_core/vmlinux 2>/dev/null || echo none' },
    {
      // snd_acp_config (loaded before this case, after snd-soc-acpi): its function patched, the new table in the livepatch module.
      name: 'acp',
      setup: acpKos.map((k) => `insmod /${basename(k)} || exit 1`).join('; '),
      check: 'ls /sys/kernel/livepatch/livepatch_acp_quirk/snd_acp_config 2>/dev/null || echo none; grep " config_table" /proc/kallsyms | grep -c livepatch_acp_quirk || true',
    },
  ];
  const load = (ko: string) => `kelpctl load /${basename(ko)} --timeout 120 >/tmp/l 2>&1 || { echo "load failed:"; cat /tmp/l; exit 1; }`;
  const unload = (mod: string) => `kelpctl unload ${mod} --timeout 120 >/tmp/l 2>&1 || { echo "unload failed:"; cat /tmp/l; exit 1; }`;
  // The module patch first, its module not loaded yet: the kernel patches binfmt_misc as it loads.
  const lateScript = [
    load(late),
    `insmod /${basename(binfmtKo!)} || exit 1`,
    `( ${status}; dmesg | grep -c "applying patch 'livepatch_binfmt_misc' to loading module 'binfmt_misc'" ) 2>&1`,
    unload('livepatch_binfmt_misc'),
  ].join('\n');
  // Each case: its checks, the livepatch loaded (kelpctl waits for the transition), the checks, unloaded, the checks.
  const script = (c: { name: string; check: string; setup?: string }) => [
    ...(c.setup ? [c.setup] : []),
    `( ${c.check} ) 2>&1; echo @@`,
    load(built[c.name]!.ko),
    `( ${c.check} ) 2>&1; echo @@`,
    unload(built[c.name]!.moduleName),
    `( ${c.check} ) 2>&1`,
  ].join('\n');
  const boot = await runOnTarget('build-vmlinux-suite', {
    kernel: target.kernel,
    files: [late, binfmtKo!, ...acpKos, ...cases.map((c) => built[c.name]!.ko)],
    check: [lateScript, ...cases.map(script)],
    timeout: 900,
  });
  expect(boot.error).toBeNull();
  expect(boot.checks.map((c) => [c.exitCode, c.output])).toEqual(boot.checks.map((c) => [0, c.output]));
  expect(boot.kernelMessages.filter((l) => /Oops|BUG:|WARNING:|general protection/.test(l))).toEqual([]);
  expect(boot.checks[0]!.output).toBe('enabled (livepatched by kelp)\n1\n');
  const out: Record<string, string[][]> = {};
  cases.forEach((c, i) => { out[c.name] = boot.checks[i + 1]!.output.split('@@\n').map((x) => x.split('\n').slice(0, -1)); });

  // Two klp_objects: vmlinux and binfmt_misc (loaded above) both patched, both restored.
  expect(out.multi).toEqual([
    [expect.not.stringMatching(/kelp_example/), 'enabled'],
    [expect.stringMatching(/ kelp_example=patched$/), 'enabled (livepatched by kelp)'],
    [expect.not.stringMatching(/kelp_example/), 'enabled'],
  ]);
  // New data and per-cpu data count from the livepatch module; gone once it is unloaded.
  expect(out['new-data']![1]!.map((l) => / reads=\d+ pcpu=\d+$/.exec(l)?.[0])).toEqual([' reads=1 pcpu=1', ' reads=2 pcpu=2']);
  expect([...out['new-data']![0]!, ...out['new-data']![2]!].some((l) => l.includes('reads='))).toBe(false);
  // KPATCH_SYSCALL_DEFINE1 (uname), KLP_SYSCALL_DEFINE2 (sethostname), the callback and KPATCH_PRINTK.
  expect(out.api).toEqual([['x86_64', 'test', '0'], ['kpatch', 'klp!', '1', 'printed'], ['x86_64', 'test', '1', 'printed']]);
  // fs/proc/version.c calls the function fs/proc/cmdline.c adds, which counts in the variable it adds.
  expect(out.cross![1]).toEqual([expect.stringMatching(/^Linux version /), 'kelp-note', expect.stringMatching(/ reads=1$/)]);
  expect([...out.cross![0]!, ...out.cross![2]!].some((l) => l === 'kelp-note' || l.includes('reads='))).toBe(false);
  // tools/lib/bpf/relo_core.c's function, patched in vmlinux while the livepatch is on.
  expect(out.tools).toEqual([['none'], ['bpf_core_patch_insn,1', 'patched'], ['none']]);
  // snd_acp_config's reader of the table patched, and the new config_table is the livepatch module's.
  expect(out.acp).toEqual([['none', '0'], ['patched', 'snd_amd_acp_find_config,1', '1'], ['none', '0']]);
}, 1_200_000);

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
