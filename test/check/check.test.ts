/**
 * kelp check against the real Debian target: good modules (kelp link's and a
 * kbuild-built sample livepatch) pass, and the VM loads one of them; modules
 * broken on purpose, one rule at a time with the ELF model and writer, are
 * reported under exactly that rule; several broken rules are reported
 * together; two broken modules are refused by the real kernel too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ElfObject } from '../../elf/model.js';
import { R_X86_64_GOTPCREL, SHF_RELA_LIVEPATCH, SHN_UNDEF } from '../../elf/constants.js';
import { linkModule } from '../../src/link/index.js';
import { checkModuleAgainst, CheckTarget, formatReport, type CheckReport } from '../../src/check/index.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { buildKbuildModule, getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { KELP_BIN } from '../support/paths.js';
import { moduleDiff } from '../link/support/fixtures.js';
import {
  dropModinfo, duplicatedName as duplicatedNameIn, klpSym, linkCmdlineModule, replaceString, rules, section, VMLINUX_RELA, VMLINUX_SYM, writeBroken,
} from './support/broken.js';

let pre: PrereqStatus;
let t: TargetInfo;
let target: CheckTarget;
let one: string;
let two: string;
let targetMod: string;
let sample: string;
const tmp = makeTmpDir('check');
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  t = await getTarget();
  const { module, diff: cmdline } = await linkCmdlineModule(tmp.dir, t.kdir, 'kelp-check-one');
  one = module;
  const modpatch = await moduleDiff(tmp.dir, t.kdir);
  two = join(tmp.dir, 'kelp_check_two.ko');
  await linkModule({ inputs: [cmdline, modpatch], kdir: t.kdir, name: 'kelp_check_two', output: two, replace: false });
  const mod = await buildKbuildModule('test/fixtures/link/target-mod', t.kdir);
  cleanups.push(mod.cleanup);
  targetMod = mod.modules[0];
  const lp = await buildKbuildModule('test/fixtures/livepatch-cmdline', t.kdir);
  cleanups.push(lp.cleanup);
  sample = lp.modules[0];
  target = new CheckTarget({ symbols: t.systemMap, kdir: t.kdir, modules: [targetMod] });
}, 900_000);

afterAll(() => {
  for (const c of cleanups) c();
  tmp.cleanup();
});

const check = (file: string): CheckReport => checkModuleAgainst(file, target);

/** Reads a good module, lets `edit` break it, writes it as `name`. */
const broken = (from: string, name: string, edit: (obj: ElfObject) => void): Promise<string> => writeBroken(from, join(tmp.dir, name), edit);
const duplicatedName = (): string => duplicatedNameIn(t.systemMap);

describe('kelp check: good modules', () => {
  test('kelp link modules (vmlinux; vmlinux and a module with sympos 2) and a kbuild-built livepatch pass', () => {
    if (skipUnlessReady(pre)) return;
    for (const f of [one, two, sample]) {
      const r = check(f);
      expect([f, r.problems]).toEqual([f, []]);
      expect(r.ok).toBe(true);
    }
    // The module patch is checked against the target module's symbols, not skipped.
    expect(check(two).notes.filter((n) => /not checked/.test(n))).toEqual([]);
  });

  test('the release comes from the kdir; the module area from its configuration (KASLR: MODULES_VADDR 0xffffffffc0000000)', () => {
    if (skipUnlessReady(pre)) return;
    expect(target.release).toBe(t.release);
    expect(target.area.lo.toString(16)).toBe('ffffffffc0000000');
    expect(target.area.hi.toString(16)).toBe('ffffffffff000000');
  });

  test('the klp_func layout kelp decodes is the one of the target\'s include/linux/livepatch.h', () => {
    if (skipUnlessReady(pre)) return;
    const candidates = [join(t.kdir, 'include/linux/livepatch.h'), join(dirname(t.kdir), `${t.kdir.split('/').pop()!.replace(/-amd64$/, '-common')}`, 'include/linux/livepatch.h')];
    const header = candidates.find((c) => existsSync(c));
    expect(header).toBeDefined();
    const text = readFileSync(header!, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const fields = /struct klp_func \{([\s\S]*?)\};/.exec(text)![1].split(';').map((f) => f.trim()).filter((f) => f !== '');
    expect(fields.slice(0, 3).map((f) => f.replace(/\s+/g, ' '))).toEqual(['const char *old_name', 'void *new_func', 'unsigned long old_sympos']);
    const obj = /struct klp_object \{([\s\S]*?)\};/.exec(text)![1].split(';').map((f) => f.trim().replace(/\s+/g, ' '));
    expect(obj.slice(0, 2)).toEqual(['const char *name', 'struct klp_func *funcs']);
  });
});

describe('kelp check: one broken rule at a time', () => {
  const cases: Array<[string, string, () => Promise<string>]> = [
    ['modinfo.livepatch', 'no livepatch=Y in .modinfo', () => broken(one, 'no-livepatch.ko', (o) => dropModinfo(o, 'livepatch'))],
    ['modinfo.vermagic', 'vermagic of another release', () => broken(one, 'vermagic.ko', (o) => replaceString(section(o, '.modinfo'), `vermagic=${t.release}`, `vermagic=${t.release.replace(/^(\d+\.\d+)\.\d/, '$1.9')}`, true))],
    ['modinfo.vermagic', 'vermagic without the modversions flag', () => broken(one, 'vermagic-flags.ko', (o) => replaceString(section(o, '.modinfo'), 'mod_unload modversions ', 'mod_unload modversionz ', false))],
    ['klp-rela.flags', '.klp.rela section without SHF_RELA_LIVEPATCH', () => broken(one, 'flags.ko', (o) => { section(o, VMLINUX_RELA).flags &= ~SHF_RELA_LIVEPATCH; })],
    ['klp-rela.name', '.klp.rela section name without the section part', () => broken(one, 'rela-name.ko', (o) => { section(o, VMLINUX_RELA).name = '.klp.rela.vmlinux'; })],
    ['klp-rela.info', 'sh_info out of range', () => broken(one, 'info.ko', (o) => { const s = section(o, VMLINUX_RELA); s.infoSection = null; s.infoRaw = 999; })],
    ['klp-sym.shndx', '.klp.sym symbol with st_shndx SHN_UNDEF', () => broken(one, 'shndx.ko', (o) => { const s = klpSym(o, VMLINUX_SYM); s.section = null; s.shndx = SHN_UNDEF; })],
    ['klp-sym.name', '.klp.sym name without position', () => broken(one, 'sym-name.ko', (o) => { klpSym(o, VMLINUX_SYM).name = '.klp.sym.vmlinux.saved_command_line'; })],
    ['klp-sym.missing', '.klp.sym of a symbol vmlinux does not have', () => broken(one, 'missing.ko', (o) => { klpSym(o, VMLINUX_SYM).name = '.klp.sym.vmlinux.kelp_no_such_symbol,0'; })],
    ['klp-sym.ambiguous', 'position 0 for a name the System.map has twice', () => broken(one, 'ambiguous.ko', (o) => { klpSym(o, VMLINUX_SYM).name = `.klp.sym.vmlinux.${duplicatedName()},0`; })],
    ['klp-sym.position', 'position 2 of a unique name', () => broken(one, 'position.ko', (o) => { klpSym(o, VMLINUX_SYM).name = '.klp.sym.vmlinux.saved_command_line,2'; })],
    ['klp-sym.vmlinux-from-module', '.klp.rela.<module> section referencing .klp.sym.vmlinux', () => broken(two, 'vmlinux-from-module.ko', (o) => {
      const v = section(o, VMLINUX_RELA);
      section(o, '.klp.rela.kelp_target_mod..text').relocations!.push(...v.relocations!);
      o.sections = o.sections.filter((s) => s !== v);
    })],
    ['klp-sym.ambiguous', 'position 0 for the target module\'s two static helper()s', () => broken(two, 'mod-ambiguous.ko', (o) => { klpSym(o, '.klp.sym.kelp_target_mod.helper,2').name = '.klp.sym.kelp_target_mod.helper,0'; })],
    ['klp-sym.position', 'position 3 of the target module\'s two helper()s', () => broken(two, 'mod-position.ko', (o) => { klpSym(o, '.klp.sym.kelp_target_mod.helper,2').name = '.klp.sym.kelp_target_mod.helper,3'; })],
    ['versions.crc', 'a __versions CRC that differs from the export\'s', () => broken(one, 'crc.ko', (o) => {
      const v = section(o, '__versions');
      const data = Buffer.from(v.data);
      data.writeUInt32LE((data.readUInt32LE(0) ^ 0x5a5a5a5a) >>> 0, 0);
      v.data = data;
    })],
    ['undefined.unexported', 'an undefined symbol vmlinux does not export', () => broken(one, 'unexported.ko', (o) => { o.symbols.find((s) => s.name === 'seq_printf')!.name = 'saved_command_line'; })],
    ['relocation.type', 'a relocation type the loader does not apply', () => broken(one, 'reltype.ko', (o) => { section(o, '.rela.text').relocations![0].type = R_X86_64_GOTPCREL; })],
    ['relocation.overflow', 'a PC32 to vmlinux pushed out of range by its addend', () => broken(one, 'overflow.ko', (o) => { section(o, VMLINUX_RELA).relocations![0].addend -= 0x10000000n; })],
    ['klp-func.missing', 'a klp_func old_name vmlinux does not have', () => broken(one, 'func-missing.ko', (o) => {
      for (const s of o.sections) if (s.name.startsWith('.rodata.str') && s.data.includes(Buffer.from('cmdline_proc_show\0'))) replaceString(s, 'cmdline_proc_show', 'cmdline_proc_shoX');
    })],
  ];

  test.each(cases)('%s: %s', async (rule, _what, make) => {
    if (skipUnlessReady(pre)) return;
    const r = check(await make());
    expect([rule, rules(r)]).toEqual([rule, [rule]]);
    expect(r.ok).toBe(false);
  });

  test('the overflow is computed against the module area: S from the System.map, P at both ends', async () => {
    if (skipUnlessReady(pre)) return;
    const r = check(await broken(one, 'overflow2.ko', (o) => { section(o, VMLINUX_RELA).relocations![0].addend -= 0x10000000n; }));
    const saved = readFileSync(t.systemMap, 'latin1').split('\n').find((l) => l.endsWith(' saved_command_line'))!.split(' ')[0];
    expect(r.problems[0].message).toContain(`S = 0x${saved}`);
    expect(r.problems[0].message).toContain('[0xffffffffc0000000, 0xffffffffff000000)');
    // Named as kelp diff names places: the function holding the field, not the section.
    expect(r.problems[0].place).toMatch(/^[A-Za-z_][\w.]*\+0x[0-9a-f]+$/);
    expect(r.problems[0].place).not.toMatch(/^\.text/);
  });
});

describe('kelp check: module objects', () => {
  test('without the target module, its symbols are noted as unchecked; with a module tree that lacks it, the object is missing', () => {
    if (skipUnlessReady(pre)) return;
    const unknown = checkModuleAgainst(two, new CheckTarget({ symbols: t.systemMap, kdir: t.kdir }));
    expect(unknown.problems).toEqual([]);
    expect(unknown.notes.some((n) => /symbols of module kelp_target_mod not checked/.test(n))).toBe(true);
    const tree = checkModuleAgainst(two, new CheckTarget({ symbols: t.systemMap, kdir: t.kdir, modules: [t.modules] }));
    expect(rules(tree)).toEqual(['klp-func.object', 'klp-rela.object', 'klp-sym.missing']);
    // The image's tree and the out-of-tree module together: everything found.
    expect(checkModuleAgainst(two, new CheckTarget({ symbols: t.systemMap, kdir: t.kdir, modules: [t.modules, targetMod] })).problems).toEqual([]);
  });
});

describe('kelp check: everything at once, and the command line', () => {
  let several: string;
  beforeAll(async () => {
    if (!pre?.ok) return;
    several = await broken(one, 'several.ko', (o) => {
      dropModinfo(o, 'livepatch');
      o.symbols.find((s) => s.name === 'seq_printf')!.name = 'saved_command_line';
      section(o, VMLINUX_RELA).relocations![0].addend -= 0x10000000n;
      klpSym(o, VMLINUX_SYM).name = '.klp.sym.vmlinux.saved_command_line'; // also: the overflow is then not computable
    });
  });

  test('several broken rules are reported together', () => {
    if (skipUnlessReady(pre)) return;
    expect(rules(check(several))).toEqual(['klp-sym.name', 'modinfo.livepatch', 'undefined.unexported']);
  });

  test('kelp check exits 0 with OK, and 1 with one `file: place: message [rule]` line per problem; --json prints the list', () => {
    if (skipUnlessReady(pre)) return;
    const run = (args: string[]) => spawnSync(process.execPath, [KELP_BIN, 'check', ...args], { encoding: 'utf8' });
    const ok = run([one, '--symbols', t.systemMap, '--kdir', t.kdir]);
    expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, `${one}: OK: the kernel would accept this module\n`, '']);
    const bad = run([several, '--symbols', t.systemMap, '--symvers', t.symvers]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe(formatReport(checkModuleAgainst(several, new CheckTarget({ symbols: t.systemMap, symvers: [t.symvers] }))));
    expect(bad.stdout).toContain(`${several}: symbol saved_command_line: undefined and exported by neither vmlinux nor a module`);
    expect(bad.stdout).toMatch(/\[modinfo\.livepatch\]\n/);
    const json = run([several, '--symbols', t.systemMap, '--symvers', t.symvers, '--json']);
    expect(json.status).toBe(1);
    const parsed = JSON.parse(json.stdout) as CheckReport;
    expect(parsed.ok).toBe(false);
    expect(parsed.problems.map((p) => p.rule).sort()).toEqual(['klp-sym.name', 'modinfo.livepatch', 'undefined.unexported']);
    const missing = run([join(tmp.dir, 'nope.ko'), '--symbols', t.systemMap]);
    expect([missing.status, missing.stderr]).toEqual([1, `kelp: ${join(tmp.dir, 'nope.ko')}: no such file\n`]);
  });
});

describe('kelp check agrees with the kernel', () => {
  test('check passes a module the VM loads and enables, and fails two the kernel refuses', async () => {
    if (skipUnlessReady(pre)) return;
    const unexported = await broken(one, 'kelp-check-unexported.ko', (o) => { o.symbols.find((s) => s.name === 'seq_printf')!.name = 'saved_command_line'; });
    const funcMissing = await broken(one, 'kelp-check-func.ko', (o) => {
      for (const s of o.sections) if (s.name.startsWith('.rodata.str') && s.data.includes(Buffer.from('cmdline_proc_show\0'))) replaceString(s, 'cmdline_proc_show', 'cmdline_proc_shoX');
    });
    expect(rules(check(unexported))).toEqual(['undefined.unexported']);
    expect(rules(check(funcMissing))).toEqual(['klp-func.missing']);
    expect(check(one).ok).toBe(true);
    // The broken ones first (they share the good one's module name), the good one last.
    const r = await runOnTarget('check-agrees', {
      kernel: t.kernel,
      load: [unexported, funcMissing, one],
      check: ['cat /proc/cmdline', 'dmesg | grep -i -e "unknown symbol" -e "not found in symbol table"'],
    });
    const why = JSON.stringify({ error: r.error, modules: r.modules, kernelMessages: r.kernelMessages }, null, 1);
    expect([r.error, why]).toEqual([null, why]);
    expect(r.modules.map((m) => m.loaded)).toEqual([false, false, true]);
    expect([r.modules[2].enabled, r.modules[2].error]).toEqual([true, null]);
    expect(r.checks[0].output).toContain('kelp_link_test=patched');
    expect(r.checks[1].output).toMatch(/Unknown symbol saved_command_line/);
    expect(r.checks[1].output).toMatch(/symbol 'cmdline_proc_shoX' not found in symbol table/);
  }, 300_000);
});
