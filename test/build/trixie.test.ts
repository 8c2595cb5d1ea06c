/**
 * Linux 6.12 end to end on Debian 13's own kernel (the newest trixie release
 * with source: IBT, call padding, gcc 14). What the 6.1 tests prove
 * (oot.test.ts, vmlinux.test.ts) is built here with `kelp build --release R`,
 * compiled in the trixie build root (the host is bookworm, gcc 12), checked
 * with `kelp check`, then proved in ONE shared boot: each livepatch in turn
 * is loaded, its checks run, it is unloaded and the checks run again.
 *
 *   fix          the OOT example (examples/oot/fix.patch)
 *   kpatch-style kpatch's patch API on a module: kpatch-macros.h, a post-patch callback
 *   cmdline      the vmlinux example (examples/vmlinux/cmdline.patch)
 *   api          new functions, new data and per-cpu data, WARN_ON_ONCE (new-data.patch);
 *                KPATCH_SYSCALL_DEFINE1 and KPATCH_PRINTK (kpatch-syscall.patch);
 *                <linux/livepatch_helpers.h> (templates/): KLP_SYSCALL_DEFINE2 and a callback
 *   mixed        three objects in one livepatch: a SYSCALL_DEFINE fix through its callers
 *                (uname.patch) and a function with jump labels (6.12/sys-jump.patch: 6.12's
 *                mpage_prepare_extent_to_map, ext4-jump.patch's, has none), symbols across
 *                objects (cross-object.patch), the ext4 module with a #line-kept fix
 *                (ext4-lines.patch), the binfmt_misc module (6.12/binfmt_misc.patch)
 *   locals       a module's static local kept, a shadow variable, a changed .cold part,
 *                a klp-build-style pre-unpatch callback (locals.patch)
 *   keys         a module's own static keys in the patched function (the static-call-module
 *                fixture, as test/build/module-keys.test.ts on 6.1): tested at run time,
 *                the tests seen by objtool's run on the linked module (IBT, ORC)
 *   tracepoint   a tracepoint of a two-object module (the tracepoint-module fixture) in the
 *                patched function: its site is still objtool's jmp in the object, so it tests
 *                its key at run time and fires from the patched code when enabled in tracefs
 * and, built only: a patch that only moves lines under __LINE__ users changes nothing; a
 * change to a module's code that calls a namespaced export of a module it depends on
 * (iio-namespace.patch): reached by a livepatch relocation applied with the module.
 */
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { SHF_EXECINSTR } from '../../elf/constants.js';
import { ElfObject } from '../../elf/model.js';
import { targetOfPreparedTree } from '../../src/build/target-paths.js';
import { withDependencies } from '../../src/build/module-deps.js';
import { findModuleFile } from '../../src/kernel/module-tree.js';
import { chooseToolchain, makeInvocation, withToolchain } from '../../src/kernel/toolchain.js';
import { cacheRoot } from '../../src/target/cache.js';
import { BUILD_ROOT_PACKAGES } from '../../src/target/packages.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTrixieTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { kelp } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('build-trixie');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages({ source: true }), ...BUILD_ROOT_PACKAGES]);
  if (!pre.ok) return;
  target = await getTrixieTarget();
}, 3_000_000);

interface Report {
  moduleName: string;
  targets: Record<string, string[]>;
  entrySizes: string[];
  compiler: { kernel: string | null; used: string | null; where: string; checkSkipped: boolean };
  objects: Array<{
    object: string;
    changedFunctions: Array<{ name: string }>;
    newFunctions: string[];
    newData: string[];
    throughCallers?: Array<{ name: string; callers: string[] }>;
    coldParts?: Array<{ name: string; parts: string[] }>;
  }>;
}

interface Built { ko: string; report: Report; stderr: string }
const built: Record<string, Built> = {};

const FIX = (name: string) => join(REPO_ROOT, 'test', 'build', 'fixtures', name);

function build(name: string, args: string[]): Built {
  const out = join(tmp.dir, name);
  const r = kelp(['build', ...args, '--release', target.release, '--no-replace', '--name', `livepatch-${name}`, '-o', out, '--json']);
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout) as Report;
  // Compiled by the kernel's own gcc 14, in the trixie build root.
  expect(target.compiler).toMatch(/gcc-14 /);
  expect(report.compiler).toEqual({ kernel: target.compiler, used: target.compiler, where: join(cacheRoot(), 'roots', 'trixie-gcc-14'), checkSkipped: false });
  const ko = join(out, `livepatch-${name}.ko`);
  // Every return through the thunk is listed, the module's own init and exit included (kbuild runs objtool on the linked module only).
  expect(unlistedReturnThunks(ko)).toEqual([]);
  // `kelp check --release R`: the target's System.map, kdir, module tree and image (a module patch's module is checked at the boot).
  if (!args.includes('--oot-module')) {
    const check = kelp(['check', ko, '--release', target.release]);
    expect([check.status, check.stdout + check.stderr]).toEqual([0, expect.any(String)]);
  }
  return { ko, report, stderr: r.stderr };
}

/**
 * Returns through __x86_return_thunk (jmp or jcc to it) that .return_sites does not list: the loader
 * leaves them unpatched, and a kernel that needs no thunk warns "Unpatched return thunk" when one runs.
 */
function unlistedReturnThunks(ko: string): string[] {
  const o = ElfObject.read(readFileSync(ko), ko);
  const table = o.sections.find((s) => s.name === '.return_sites');
  const listed = new Set<string>();
  for (const r of o.sections.find((s) => s.isRelocation && s.infoSection === table && table !== undefined)?.relocations ?? []) {
    listed.add(`${r.symbol!.section!.name}+0x${(r.symbol!.value + r.addend).toString(16)}`);
  }
  const missing: string[] = [];
  for (const rel of o.sections) {
    const text = rel.infoSection;
    if (!rel.isRelocation || text === null || (text.flags & SHF_EXECINSTR) === 0) continue;
    for (const r of rel.relocations ?? []) {
      if (r.symbol?.name !== '__x86_return_thunk') continue;
      const at = Number(r.offset);
      const site = text.data[at - 1] === 0xe9 ? at - 1 : at - 2;
      const place = `${text.name}+0x${site.toString(16)}`;
      if (!listed.has(place)) missing.push(place);
    }
  }
  return missing;
}

/** The object `name` of a report. */
function obj(b: Built, name: string): Report['objects'][number] {
  const o = b.report.objects.find((x) => x.object === name);
  if (o === undefined) throw new Error(`no ${name} in ${b.report.moduleName}: ${b.report.objects.map((x) => x.object).join(', ')}`);
  return o;
}

const names = (fs_: Array<{ name: string }>) => fs_.map((f) => f.name).sort();

/** A module of the examples or fixtures, built by the kernel's own kbuild in the root as kelp builds it. */
async function buildModule(src: string, name: string): Promise<string> {
  const mod = join(tmp.dir, `mod-${name}`);
  await fs.cp(join(REPO_ROOT, src), mod, { recursive: true, filter: (s) => !s.includes('/out') });
  const config = await fs.readFile(target.config, 'utf8');
  const toolchain = await chooseToolchain({ config, configFile: target.config, codename: target.codename, cache: cacheRoot(), binds: [cacheRoot(), mod] });
  const r = await withToolchain(toolchain, async () => {
    const run = makeInvocation(['-C', target.kdir, `M=${mod}`, 'modules'], mod, { LC_ALL: 'C' });
    return execa(run.file, run.args, { cwd: mod, env: run.env, extendEnv: run.file === 'make', reject: false, all: true });
  });
  expect([r.exitCode, (r.all ?? '').slice(-2000)]).toEqual([0, expect.any(String)]);
  const ko = join(mod, `${name}.ko`);
  expect(existsSync(ko)).toBe(true);
  return ko;
}

describe(`Debian 13's 6.12 kernel (${process.env.KELP_TEST_TRIXIE_RELEASE ?? 'newest trixie release with source'})`, () => {
  test('the fetch describes a trixie 6.12 kernel built by gcc 14, its source prepared in the root', () => {
    if (skipUnlessReady(pre)) return;
    expect(target.release).toMatch(/^6\.12\.\d+\+deb13(\.\d+)?-amd64$/);
    expect([target.codename, target.flavour]).toEqual(['trixie', 'amd64']);
    const config = readFileSync(target.config, 'utf8');
    for (const o of ['X86_KERNEL_IBT', 'CALL_PADDING', 'LIVEPATCH']) expect(config).toMatch(new RegExp(`^CONFIG_${o}=y$`, 'm'));
    expect(readFileSync(join(target.source!, 'scripts', 'mod', '.empty.o.cmd'), 'latin1')).toMatch(/^savedcmd_.*gcc-14 /);
    // The prepared tree knows its target: `kelp build --sourcedir <tree>` alone finds kdir, System.map and image.
    expect(targetOfPreparedTree(target.source!)).toMatchObject({ kdir: target.kdir, systemMap: target.systemMap, kernel: target.kernel, codename: 'trixie' });
  });

  test('the OOT example (fix.patch) and a kpatch-style patch with a post-patch callback, in the trixie root', () => {
    if (skipUnlessReady(pre)) return;
    const oot = join(REPO_ROOT, 'examples/oot');
    built.fix = build('fix', [join(oot, 'fix.patch'), '--oot-module', oot, '--target', 'kelp_demo']);
    expect(built.fix.report.targets).toEqual({ kelp_demo: ['kelp_demo.o'] });
    built['kpatch-style'] = build('kpatch-style', [FIX('kpatch-style.patch'), '--oot-module', oot]);
    const o = obj(built['kpatch-style'], 'kelp_demo.o');
    expect(names(o.changedFunctions)).toEqual(['kelp_demo_greeting']);
    expect(o.newFunctions).toEqual(['kelp_demo_post_patch']);
  }, 900_000);

  test('the vmlinux example (cmdline.patch) from the prepared 6.12 source', () => {
    if (skipUnlessReady(pre)) return;
    built.cmdline = build('cmdline', [join(REPO_ROOT, 'examples/vmlinux/cmdline.patch')]);
    expect(built.cmdline.report.targets).toEqual({ vmlinux: ['fs/proc/cmdline.o'] });
    expect(names(built.cmdline.report.objects[0]!.changedFunctions)).toEqual(['cmdline_proc_show']);
  }, 900_000);

  test('new functions and data, KPATCH_SYSCALL_DEFINE1 with KPATCH_PRINTK, and livepatch_helpers.h\'s KLP_SYSCALL_DEFINE2 with a callback', () => {
    if (skipUnlessReady(pre)) return;
    const b = built.api = build('api', [FIX('new-data.patch'), FIX('kpatch-syscall.patch'), FIX('klp-helpers.patch')]);
    expect(b.report.targets).toEqual({ vmlinux: ['fs/proc/cmdline.o', 'kernel/sys.o'] });
    const cmdline = obj(b, 'fs/proc/cmdline.o');
    expect(names(cmdline.changedFunctions)).toEqual(['cmdline_proc_show']);
    expect(cmdline.newFunctions).toEqual(['cmdline_note_read']);
    expect([...cmdline.newData].sort()).toEqual(['cmdline_reads', 'cmdline_reads_pcpu']);
    const sys = obj(b, 'kernel/sys.o');
    expect(names(sys.changedFunctions)).toEqual(['__ia32_sys_newuname', '__ia32_sys_sethostname', '__x64_sys_newuname', '__x64_sys_sethostname']);
    expect(sys.newFunctions).toContain('kelp_klp_post_patch');
  }, 900_000);

  test('three objects in one livepatch: a syscall through its callers, jump labels, symbols across objects, ext4 (#line) and binfmt_misc', () => {
    if (skipUnlessReady(pre)) return;
    const b = built.mixed = build('mixed', [
      FIX('uname.patch'), FIX('6.12/sys-jump.patch'), FIX('cross-object.patch'), FIX('ext4-lines.patch'), FIX('6.12/binfmt_misc.patch'),
    ]);
    expect(b.report.targets).toEqual({ binfmt_misc: ['fs/binfmt_misc.o'], ext4: ['fs/ext4/inode.o'], vmlinux: ['fs/proc/cmdline.o', 'fs/proc/version.o', 'kernel/sys.o'] });
    expect(b.stderr).toMatch(/changed function: __do_sys_newuname \(no __fentry__: replaced through its callers __ia32_sys_newuname, __x64_sys_newuname\)/);
    expect(obj(b, 'kernel/sys.o').throughCallers).toEqual([{ name: '__do_sys_newuname', callers: ['__ia32_sys_newuname', '__x64_sys_newuname'] }]);
    expect(obj(b, 'fs/proc/cmdline.o').newFunctions).toEqual(['kelp_proc_note']);
    expect(names(obj(b, 'fs/proc/version.o').changedFunctions)).toEqual(['version_proc_show']);
    expect(names(obj(b, 'kernel/sys.o').changedFunctions)).toEqual(['__ia32_sys_newuname', '__x64_sys_newuname', 'prctl_set_mm']);
    // The ext4 fix adds lines above ~30 __LINE__ users: only the changed function is in.
    expect(b.stderr).toMatch(/#line directive\(s\) keeping unchanged lines' numbers/);
    expect(names(obj(b, 'fs/ext4/inode.o').changedFunctions)).toEqual(['ext4_inode_is_fast_symlink']);
    expect(names(obj(b, 'fs/binfmt_misc.o').changedFunctions)).toEqual(['bm_status_read']);
    // 6.12's special sections: no .parainstructions (gone in 6.8), and the objtool tables.
    expect(b.report.entrySizes).not.toContainEqual(expect.stringMatching(/^\.parainstructions=/));
    expect(b.report.entrySizes).toContain('__jump_table=16');
    // prctl_set_mm's jump labels: code and target (PC32) and the key (PC64, an exported tracepoint the loader resolves) each.
    const jt = spawnSync('readelf', ['-rW', b.ko], { encoding: 'utf8' }).stdout.split('\n\n').find((x) => x.includes("'.rela__jump_table'"));
    expect(jt).toBeDefined();
    const sites = jt!.match(/R_X86_64_PC64 +0+ __tracepoint_mmap_lock_\w+ \+ a/g) ?? [];
    expect(sites.length).toBeGreaterThan(0);
    expect(jt!.match(/R_X86_64_PC32 +[0-9a-f]+ prctl_set_mm \+/g)).toHaveLength(2 * sites.length);
  }, 900_000);

  test('a module\'s static local, a shadow variable, a changed .cold part and a pre-unpatch callback', () => {
    if (skipUnlessReady(pre)) return;
    const b = built.locals = build('locals', [FIX('locals.patch'), '--oot-module', join(REPO_ROOT, 'test/fixtures/locals-module')]);
    const o = obj(b, 'kelp_locals.o');
    expect(names(o.changedFunctions)).toEqual(['kelp_locals_show']);
    expect(o.newFunctions).toContain('kelp_locals_pre_unpatch');
    // The static local and kelp_widget are the module's own: no new data.
    expect(o.newData).toEqual([]);
    expect(o.coldParts).toEqual([{ name: 'kelp_locals_show', parts: ['kelp_locals_show.cold'] }]);
    const syms = spawnSync('readelf', ['-sW', b.ko], { encoding: 'utf8' }).stdout;
    expect(syms).toMatch(/\.klp\.sym\.kelp_locals\.calls\.\d+,0$/m);
  }, 900_000);

  test('a module\'s own static keys: the jump labels leave the table and test their keys at run time', () => {
    if (skipUnlessReady(pre)) return;
    const mod = join(REPO_ROOT, 'test/fixtures/static-call-module');
    const b = built.keys = build('keys', [join(mod, 'fix.patch'), '--oot-module', mod, '--target', 'kelp_sc']);
    expect(names(obj(b, 'kelp_sc.o').changedFunctions)).toEqual(['kelp_sc_show']);
    for (const key of ['kelp_sc_on', 'kelp_sc_quiet']) {
      expect(b.stderr).toMatch(new RegExp(`kelp_sc_show\\+0x[0-9a-f]+: jump label of module kelp_sc \\(key ${key}\\) left out of the livepatch's table: the patched code tests the key at run time`));
    }
    const relocs = spawnSync('readelf', ['-rW', b.ko], { encoding: 'utf8' }).stdout;
    expect(relocs).not.toMatch(/__jump_table/);
    expect(relocs).toMatch(/R_X86_64_PC32 +0+ \.klp\.sym\.kelp_sc\.kelp_sc_on,0 - 5$/m);
  }, 900_000);

  test('a tracepoint of a two-object module in the patched function: the site tests its key at run time', () => {
    if (skipUnlessReady(pre)) return;
    const mod = join(REPO_ROOT, 'test/fixtures/tracepoint-module');
    const b = built.tracepoint = build('tracepoint', [join(mod, 'fix.patch'), '--oot-module', mod, '--target', 'kelp_tp']);
    expect(names(obj(b, 'kelp_tp_show.o').changedFunctions)).toEqual(['kelp_tp_show']);
    expect(b.stderr).toMatch(/kelp_tp_show\+0x[0-9a-f]+: jump label of module kelp_tp \(key __tracepoint_kelp_tp_read\) left out of the livepatch's table: the patched code tests the key at run time/);
    expect(b.stderr).not.toMatch(/stays off/);
    const relocs = spawnSync('readelf', ['-rW', b.ko], { encoding: 'utf8' }).stdout;
    expect(relocs).not.toMatch(/__jump_table/);
    expect(relocs).toMatch(/R_X86_64_PC32 +0+ \.klp\.sym\.kelp_tp\.__tracepoint_kelp_tp_read,0 \+ [0-9a-f]+$/m);
  }, 900_000);

  test('a patch that only moves lines under __LINE__ users (WARN_ON, BUG_ON) changes nothing', () => {
    if (skipUnlessReady(pre)) return;
    const out = join(tmp.dir, 'lines');
    const r = kelp(['build', FIX('ext4-moved.patch'), '--release', target.release, '-o', out, '--json']);
    expect([r.status, r.stderr.trim().split('\n').pop()]).toEqual([3, expect.stringMatching(/changes no function/)]);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  }, 900_000);

  test("a module's fix calling a namespaced export of a module it depends on (inv_sensors_timestamp's, in IIO_INV_SENSORS_TIMESTAMP): a livepatch relocation applied with inv_icm42600, so neither a dependency nor a namespace import", () => {
    if (skipUnlessReady(pre)) return;
    // The 6.12.117 fix of inv_icm42600_gyro_parse_fifo (the ODR update before the skip) reversed: a change to
    // a function calling inv_sensors_timestamp_apply_odr, exported by inv_sensors_timestamp in namespace
    // IIO_INV_SENSORS_TIMESTAMP. inv_icm42600 depends on that module, so the livepatch reaches the export the
    // way klp-build does: .klp.sym.inv_sensors_timestamp.* in .klp.rela.inv_icm42600.*, which the kernel
    // applies when inv_icm42600 (loaded after it) is patched; modpost sees no reference to import.
    const b = build('iio-namespace', [FIX('6.12/iio-namespace.patch')]);
    expect(b.report.targets).toEqual({ inv_icm42600: ['drivers/iio/imu/inv_icm42600/inv_icm42600_gyro.o'] });
    expect(names(obj(b, 'drivers/iio/imu/inv_icm42600/inv_icm42600_gyro.o').changedFunctions)).toEqual(['inv_icm42600_gyro_parse_fifo']);
    const elf = ElfObject.read(readFileSync(b.ko), b.ko);
    const modinfo = elf.sections.find((s) => s.name === '.modinfo')!.data.toString('latin1').split('\0');
    expect(modinfo.filter((e) => e.startsWith('import_ns=') || e.startsWith('depends=inv'))).toEqual([]);
    expect(elf.symbols.map((s) => s.name)).toContain('.klp.sym.inv_sensors_timestamp.inv_sensors_timestamp_apply_odr,0');
    expect(elf.sections.some((s) => s.name.startsWith('.klp.rela.inv_icm42600.'))).toBe(true);
  }, 900_000);

  test('one boot: each livepatch in turn loads, patches, and unpatches', async () => {
    if (skipUnlessReady(pre)) return;
    const cases: Array<{ name: string; check: string }> = [
      { name: 'fix', check: 'cat /proc/kelp_demo' },
      { name: 'kpatch-style', check: 'cat /proc/kelp_demo; dmesg | grep -c "kpatch-style post-patch callback ran"' },
      { name: 'cmdline', check: 'cat /proc/cmdline' },
      {
        name: 'api',
        check: 'cat /proc/cmdline; cat /proc/cmdline; uname -m; hostname test; hostname; dmesg | grep -c "klp-style post-patch callback ran for vmlinux"; '
          + 'dmesg | grep -q "kelp: newuname patched by a kpatch-style patch" && echo printed',
      },
      {
        name: 'mixed',
        check: 'uname -m; cat /proc/version; cat /proc/cmdline; grep -w ext4 /proc/filesystems; '
          + 'grep -q binfmt_misc /proc/mounts || mount -t binfmt_misc none /proc/sys/fs/binfmt_misc; cat /proc/sys/fs/binfmt_misc/status',
      },
      { name: 'locals', check: 'cat /proc/kelp_locals; cat /proc/kelp_locals; dmesg | grep -c "kelp_locals: shadow variables freed"' },
      // Both keys switched one way and back (each run leaves them as it found them).
      { name: 'keys', check: 'cat /proc/kelp_sc; echo on >/proc/kelp_sc; echo loud >/proc/kelp_sc; cat /proc/kelp_sc; echo off >/proc/kelp_sc; echo quiet >/proc/kelp_sc; cat /proc/kelp_sc' },
      // Two reads with the event enabled, one with it disabled: the trace holds what fired.
      {
        name: 'tracepoint',
        check: 'T=/sys/kernel/tracing; grep -q " $T " /proc/mounts || mount -t tracefs nodev $T; echo > $T/trace; '
          + 'echo 1 > $T/events/kelp_tp/kelp_tp_read/enable; cat /proc/kelp_tp; cat /proc/kelp_tp; '
          + 'echo 0 > $T/events/kelp_tp/kelp_tp_read/enable; cat /proc/kelp_tp; grep -o "kelp_tp_read: value=[0-9]*" $T/trace',
      },
    ].filter((c) => built[c.name] !== undefined);
    expect(cases.map((c) => c.name)).toEqual(['fix', 'kpatch-style', 'cmdline', 'api', 'mixed', 'locals', 'keys', 'tracepoint']);
    const demo = await buildModule('examples/oot', 'kelp_demo');
    const locals = await buildModule('test/fixtures/locals-module', 'kelp_locals');
    const keys = await buildModule('test/fixtures/static-call-module', 'kelp_sc');
    const tp = await buildModule('test/fixtures/tracepoint-module', 'kelp_tp');
    for (const [name, mod] of [['fix', demo], ['kpatch-style', demo], ['locals', locals], ['keys', keys], ['tracepoint', tp]] as const) {
      const check = kelp(['check', built[name]!.ko, '--release', target.release, '--modules', mod]);
      expect([name, check.status, check.stdout + check.stderr]).toEqual([name, 0, expect.any(String)]);
    }
    // The target's modules the patched ones are (ext4 after jbd2, mbcache, crc16; .ko.xz, decompressed for the guest).
    const find = (n: string) => findModuleFile(target.modules, n);
    const deps = withDependencies([find('ext4')!, find('binfmt_misc')!], find);
    expect(deps.missing).toEqual([]);
    // Each case: its checks, the livepatch loaded (kelpctl waits for the transition), the checks, unloaded, the checks.
    const script = (c: { name: string; check: string }) => {
      const mod = built[c.name]!.report.moduleName;
      return [
        `( ${c.check} ) 2>&1; echo @@`,
        `kelpctl load /${basename(built[c.name]!.ko)} --timeout 120 >/tmp/l 2>&1 || { echo "load failed:"; cat /tmp/l; exit 1; }`,
        `( ${c.check} ) 2>&1; echo @@`,
        `kelpctl unload ${mod} --timeout 120 >/tmp/l 2>&1 || { echo "unload failed:"; cat /tmp/l; exit 1; }`,
        `( ${c.check} ) 2>&1`,
      ].join('\n');
    };
    const boot = await runOnTarget('trixie-suite', {
      kernel: target.kernel,
      load: [demo, locals, keys, tp, ...deps.order],
      files: cases.map((c) => built[c.name]!.ko),
      check: cases.map(script),
      timeout: 900,
    });
    expect([boot.error, boot.modules.map((m) => [m.name, m.error])]).toEqual([null, boot.modules.map((m) => [m.name, null])]);
    const out: Record<string, string[][]> = {};
    cases.forEach((c, i) => {
      const r = boot.checks[i]!;
      expect([c.name, r.exitCode, r.output]).toEqual([c.name, 0, expect.any(String)]);
      out[c.name] = r.output.split('@@\n').map((s) => s.split('\n').slice(0, -1));
    });
    // No oops, no warning, no IBT fault on the way.
    expect(boot.kernelMessages.filter((l) => /Oops|BUG:|WARNING:|Missing ENDBR|general protection/.test(l))).toEqual([]);

    expect(out.fix).toEqual([
      ['hello from kelp_demo, read 1 time(s)'],
      ['hello from kelp_demo, read 2 time(s), fixed by a livepatch'],
      ['hello from kelp_demo, read 3 time(s)'],
    ]);
    expect(out['kpatch-style']).toEqual([
      ['hello from kelp_demo, read 4 time(s)', '0'],
      ['hello from a kpatch-style patch, read 5 time(s)', '1'],
      ['hello from kelp_demo, read 6 time(s)', '1'],
    ]);
    expect(out.cmdline.map((o) => o.map((l) => / kelp_example=patched$/.test(l)))).toEqual([[false], [true], [false]]);
    const [apiBefore, apiOn, apiAfter] = out.api!;
    expect(apiOn!.slice(0, 2).map((l) => / reads=\d+ pcpu=\d+$/.exec(l)?.[0])).toEqual([' reads=1 pcpu=1', ' reads=2 pcpu=2']);
    expect(apiOn!.slice(2)).toEqual(['kpatch', 'klp!', '1', 'printed']);
    expect(apiBefore!.slice(2)).toEqual(['x86_64', 'test', '0']);
    expect(apiAfter!.slice(2)).toEqual(['x86_64', 'test', '1', 'printed']);
    expect([...apiBefore!.slice(0, 2), ...apiAfter!.slice(0, 2)].some((l) => l.includes('reads='))).toBe(false);
    const [mixedBefore, mixedOn, mixedAfter] = out.mixed!;
    expect(mixedOn).toEqual(['kelp', expect.stringMatching(/^Linux version 6\.12\./), 'kelp-note', expect.stringMatching(/console=ttyS0.* reads=1$/), '\text4', 'enabled (livepatched by kelp)']);
    for (const o of [mixedBefore, mixedAfter]) {
      expect(o).toEqual(['x86_64', expect.stringMatching(/^Linux version 6\.12\./), expect.stringMatching(/console=ttyS0/), '\text4', 'enabled']);
      expect(o![2]).not.toMatch(/reads=/);
    }
    // The module's static local counts on through the patch; the shadow variable lives while the patch does.
    expect(out.locals).toEqual([
      ['calls=1 widget=7', 'calls=2 widget=7', '0'],
      ['calls=3 widget=7 reads=1', 'calls=4 widget=7 reads=2', '0'],
      ['calls=5 widget=7', 'calls=6 widget=7', '1'],
    ]);
    // The patched function follows static_branch_enable()/disable() of the module's keys.
    const plain = ['value 1', 'value 1', 'key on', 'loud', 'value 1'];
    expect(out.keys).toEqual([plain, plain.map((l) => `patched ${l}`), plain]);
    // The module's tracepoint fires from the patched code (value + 100) while its event is enabled, and only then.
    const fired = (v: number) => [`kelp_tp_read: value=${v}`, `kelp_tp_read: value=${v}`];
    expect(out.tracepoint).toEqual([
      ['value 1', 'value 1', 'value 1', ...fired(1)],
      ['patched value 1', 'patched value 1', 'patched value 1', ...fired(101)],
      ['value 1', 'value 1', 'value 1', ...fired(1)],
    ]);
  }, 1_800_000);
});
