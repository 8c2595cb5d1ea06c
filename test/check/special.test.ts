/**
 * kelp check: the tables the kernel reads while loading a module, before the
 * livepatch core applies a module's `.klp.rela` sections: `__jump_table`
 * (16-byte struct jump_entry, PC32 code, PC32 target, PC64 key) and
 * `.static_call_sites` (8-byte struct static_call_site, PC32 addr, PC32
 * key). The good module is a real one: test/fixtures/check-special (two jump
 * labels on vmlinux keys, one exported and one reached through
 * .klp.rela.vmlinux.__jump_table, and cond_resched()'s static call) built
 * with the target's kbuild, plus the kelp_target_mod patch, linked by kelp
 * link (kelp diff's special-section selection is not involved: the fake diff
 * keeps the whole object). Each broken copy (ELF model and writer) is
 * reported under exactly its rule; in the VM the good module loads and runs,
 * and the table cut into 8-byte entries, as the old kelp diff wrote it,
 * oopses the kernel in jump_label_module_notify.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ElfObject } from '../../elf/model.js';
import { R_X86_64_64, R_X86_64_PC32, R_X86_64_PC64, SHF_RELA_LIVEPATCH } from '../../elf/constants.js';
import { linkModule } from '../../src/link/index.js';
import { checkModuleAgainst, CheckTarget, type CheckReport } from '../../src/check/index.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { artifactsDir, buildKbuildModule, getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { makeDiffObject } from '../link/support/fake-diff.js';
import { buildObjects } from '../link/support/kbuild-objects.js';
import { moduleDiff } from '../link/support/fixtures.js';
import { klpRelaSection, klpSym, rules, section, takeRelocation, writeBroken } from './support/broken.js';

let pre: PrereqStatus;
let t: TargetInfo;
let target: CheckTarget;
let good: string;
const tmp = makeTmpDir('check-special');
const cleanups: Array<() => void> = [];

/** The module's own symbol a moved relocation is pointed at: kelp_target_mod's counter, a .klp.sym of the good module. */
const MODULE_SYM = '.klp.sym.kelp_target_mod.counter,0';

/** The fixture's patched cmdline_proc_show as a diff object; the non-exported vmlinux symbols become .klp.sym placeholders. */
async function specialDiff(dir: string, kdir: string): Promise<string> {
  const [o] = await buildObjects('test/fixtures/check-special', join(dir, 'special-build'), kdir, ['cmdline.o']);
  const { bytes } = makeDiffObject(await fs.readFile(o), o, {
    target: 'vmlinux',
    functions: [{ name: 'cmdline_proc_show', oldName: 'cmdline_proc_show', sympos: 0 }],
    klp: {
      saved_command_line: { object: 'vmlinux', sympos: 0 },
      cpusets_enabled_key: { object: 'vmlinux', sympos: 0 },
    },
  });
  const out = join(dir, 'special-diff.o');
  await fs.writeFile(out, bytes);
  return out;
}

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  t = await getTarget();
  const [special, mod] = await Promise.all([specialDiff(tmp.dir, t.kdir), moduleDiff(tmp.dir, t.kdir)]);
  good = join(tmp.dir, 'kelp_check_special.ko');
  await linkModule({ inputs: [special, mod], kdir: t.kdir, name: 'kelp_check_special', output: good, replace: false });
  const targetMod = await buildKbuildModule('test/fixtures/link/target-mod', t.kdir);
  cleanups.push(targetMod.cleanup);
  target = new CheckTarget({ symbols: t.systemMap, kdir: t.kdir, modules: targetMod.modules });
}, 900_000);

afterAll(() => {
  for (const c of cleanups) c();
  tmp.cleanup();
});

const check = (file: string): CheckReport => checkModuleAgainst(file, target);
const broken = (name: string, edit: (obj: ElfObject) => void): Promise<string> => writeBroken(good, join(tmp.dir, name), edit);
/** The good module with `bytes` zero bytes (no relocations) appended to `table`. */
const grown = (name: string, table: string, bytes: number): Promise<string> => broken(name, (o) => {
  const s = section(o, table);
  s.data = Buffer.concat([s.data, Buffer.alloc(bytes)]);
});
const placesOf = (r: CheckReport, rule: string): string[] => r.problems.filter((p) => p.rule === rule).map((p) => p.place);

const readModel = (buf: Buffer): ElfObject => ElfObject.read(buf, good);

/** Every relocation that applies to `table`, with the section holding it, sorted by offset. */
function tableRelocations(o: ElfObject, table: string) {
  const s = section(o, table);
  return o.sections
    .filter((x) => x.infoSection === s && x.relocations)
    .flatMap((x) => x.relocations!.map((r) => ({ section: x.name, offset: r.offset, type: r.type, symbol: r.symbol?.name ?? '' })))
    .sort((a, b) => Number(a.offset - b.offset));
}

/** The offset of the key relocation against `symbol` in `table`. */
async function keyOffset(table: string, symbol: string): Promise<bigint> {
  const o = readModel(await fs.readFile(good));
  const r = tableRelocations(o, table).find((x) => x.symbol === symbol);
  if (!r) throw new Error(`no relocation against ${symbol} in ${table}`);
  return r.offset;
}

/** The good module with __jump_table as the old kelp diff cut it: each entry's code and target, 8 bytes each, no keys. */
const cutTo8 = (name: string): Promise<string> => broken(name, (o) => {
  const s = section(o, '__jump_table');
  const keep = [];
  for (const x of o.sections) {
    if (x.infoSection !== s) continue;
    for (const y of x.relocations!) if (y.type === R_X86_64_PC32) keep.push({ ...y, offset: (y.offset / 16n) * 8n + (y.offset % 16n) });
    x.relocations = [];
  }
  section(o, '.rela__jump_table').relocations = keep;
  o.sections = o.sections.filter((x) => x.infoSection !== s || x.relocations!.length > 0);
  s.data = Buffer.alloc(s.data.length / 2);
});

/**
 * Moves the relocation at `table`+`offset` into .klp.rela.kelp_target_mod.<table>, against a symbol of
 * that module: the kernel applies it only when the livepatch core patches kelp_target_mod.
 */
function toModuleSection(o: ElfObject, table: string, offset: bigint): void {
  const rel = takeRelocation(o, table, offset);
  rel.symbol = klpSym(o, MODULE_SYM);
  rel.addend = 0n;
  const klp = klpRelaSection(o, 'kelp_target_mod', table);
  expect(klp.flags & SHF_RELA_LIVEPATCH).toBe(SHF_RELA_LIVEPATCH);
  klp.relocations!.push(rel);
}

describe('kelp check: the good module', () => {
  test('has real 16-byte jump entries (one key via .rela__jump_table, one via .klp.rela.vmlinux.__jump_table) and a static call site, and passes', async () => {
    if (skipUnlessReady(pre)) return;
    const o = readModel(await fs.readFile(good));
    expect(section(o, '__jump_table').size).toBe(32);
    const jump = tableRelocations(o, '__jump_table');
    expect(jump.map((r) => [Number(r.offset), r.type])).toEqual([
      [0, R_X86_64_PC32], [4, R_X86_64_PC32], [8, R_X86_64_PC64],
      [16, R_X86_64_PC32], [20, R_X86_64_PC32], [24, R_X86_64_PC64],
    ]);
    const keys = jump.filter((r) => r.type === R_X86_64_PC64);
    expect(keys.map((r) => [r.section, r.symbol]).sort()).toEqual([
      ['.klp.rela.vmlinux.__jump_table', '.klp.sym.vmlinux.cpusets_enabled_key,0'],
      ['.rela__jump_table', 'sched_smt_present'],
    ]);
    expect(section(o, '.static_call_sites').size).toBe(8);
    const calls = tableRelocations(o, '.static_call_sites');
    expect(calls.map((r) => [Number(r.offset), r.type])).toEqual([[0, R_X86_64_PC32], [4, R_X86_64_PC32]]);
    expect(calls[1].symbol).toBe('__SCT__cond_resched');
    const r = check(good);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe('kelp check: __jump_table', () => {
  test('jump-table.layout: an entry without its key relocation (the key field left 0)', async () => {
    if (skipUnlessReady(pre)) return;
    const off = await keyOffset('__jump_table', 'sched_smt_present');
    const r = check(await broken('jump-no-key.ko', (o) => { takeRelocation(o, '__jump_table', off); }));
    expect(rules(r)).toEqual(['jump-table.layout']);
    const entry = off - 8n;
    expect(placesOf(r, 'jump-table.layout')).toEqual([`__jump_table+0x${entry.toString(16)}`]);
    expect(r.problems[0].message).toContain('no R_X86_64_PC64 for key at +8');
    expect(r.problems[0].message).toContain('jump_label_add_module reads the entry itself as its struct static_key');
  });

  test('jump-table.layout: the key of .klp.rela.vmlinux.__jump_table removed (that section counts: the loader applies it)', async () => {
    if (skipUnlessReady(pre)) return;
    const off = await keyOffset('__jump_table', '.klp.sym.vmlinux.cpusets_enabled_key,0');
    const r = check(await broken('jump-no-vmlinux-key.ko', (o) => { takeRelocation(o, '__jump_table', off); }));
    expect(rules(r)).toEqual(['jump-table.layout']);
    expect(placesOf(r, 'jump-table.layout')).toEqual([`__jump_table+0x${(off - 8n).toString(16)}`]);
  });

  test('jump-table.layout: a key written by R_X86_64_64 and a code field with no relocation, in one entry', async () => {
    if (skipUnlessReady(pre)) return;
    const off = await keyOffset('__jump_table', 'sched_smt_present');
    const r = check(await broken('jump-abs-key.ko', (o) => {
      const rel = section(o, '.rela__jump_table').relocations!;
      rel.find((x) => x.offset === off)!.type = R_X86_64_64;
      rel.splice(rel.findIndex((x) => x.offset === off - 8n), 1);
    }));
    expect(rules(r)).toEqual(['jump-table.layout']);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0].message).toContain('no R_X86_64_PC32 for code at +0');
    expect(r.problems[0].message).toContain('R_X86_64_64 in .rela__jump_table for key at +8, not R_X86_64_PC64');
  });

  test('jump-table.layout: the table as the old kelp diff cut it, 8-byte entries of code and target without keys', async () => {
    if (skipUnlessReady(pre)) return;
    const r = check(await cutTo8('jump-cut8.ko'));
    expect(rules(r)).toEqual(['jump-table.layout']);
    expect(placesOf(r, 'jump-table.layout')).toEqual(['__jump_table+0x0']);
    expect(r.problems[0].message).toContain('R_X86_64_PC32 in .rela__jump_table for key at +8, not R_X86_64_PC64');
    expect(r.problems[0].message).toContain('R_X86_64_PC32 in .rela__jump_table at +12, inside key');
    expect(r.problems[0].message).toContain('a garbage struct static_key: the kernel oopses in jump_label_module_notify');
  });

  test('jump-table.layout: a size that is no whole number of entries, and a long list of bad entries kept short', async () => {
    if (skipUnlessReady(pre)) return;
    // 24 bytes: one entry and half of the next.
    const cut = check(await broken('jump-24.ko', (o) => {
      const s = section(o, '__jump_table');
      s.data = s.data.subarray(0, 24);
      for (const x of o.sections) if (x.infoSection === s) x.relocations = x.relocations!.filter((y) => y.offset < 16n);
      o.sections = o.sections.filter((x) => x.infoSection !== s || x.relocations!.length > 0);
    }));
    expect(rules(cut)).toEqual(['jump-table.layout']);
    expect(placesOf(cut, 'jump-table.layout')).toEqual(['section __jump_table']);
    expect(cut.problems[0].message).toContain('size 0x18 is not a whole number of 16-byte struct jump_entry entries');
    // 8 more entries with no relocations at all: 4 reported, then one count.
    const many = check(await grown('jump-many.ko', '__jump_table', 8 * 16));
    expect(rules(many)).toEqual(['jump-table.layout']);
    expect(placesOf(many, 'jump-table.layout')).toEqual(['__jump_table+0x20', '__jump_table+0x30', '__jump_table+0x40', '__jump_table+0x50', 'section __jump_table']);
    expect(many.problems[4].message).toContain('4 more of its 10 entries are bad too, the first at __jump_table+0x60');
  });

  test('jump-table.module-key: the key relocation moved to .klp.rela.kelp_target_mod.__jump_table', async () => {
    if (skipUnlessReady(pre)) return;
    const off = await keyOffset('__jump_table', 'sched_smt_present');
    const r = check(await broken('jump-module-key.ko', (o) => toModuleSection(o, '__jump_table', off)));
    expect(rules(r)).toEqual(['jump-table.module-key']);
    expect(placesOf(r, 'jump-table.module-key')).toEqual([`__jump_table+0x${off.toString(16)}`]);
    expect(r.problems[0].message).toContain('.klp.rela.kelp_target_mod.__jump_table');
    expect(r.problems[0].message).toContain('jump_label_add_module');
  });

  test('a code field moved to .klp.rela.kelp_target_mod.__jump_table is missing at load: jump-table.layout', async () => {
    if (skipUnlessReady(pre)) return;
    const off = (await keyOffset('__jump_table', 'sched_smt_present')) - 8n;
    const r = check(await broken('jump-module-code.ko', (o) => toModuleSection(o, '__jump_table', off)));
    expect(rules(r)).toEqual(['jump-table.layout']);
    expect(r.problems[0].message).toContain('code (+0) comes only from .klp.rela.kelp_target_mod.__jump_table');
  });
});

describe('kelp check: .static_call_sites', () => {
  test('static-call.layout: the site without its key relocation', async () => {
    if (skipUnlessReady(pre)) return;
    const r = check(await broken('call-no-key.ko', (o) => { takeRelocation(o, '.static_call_sites', 4n); }));
    expect(rules(r)).toEqual(['static-call.layout']);
    expect(placesOf(r, 'static-call.layout')).toEqual(['.static_call_sites+0x0']);
    expect(r.problems[0].message).toContain('no R_X86_64_PC32 for key at +4');
    expect(r.problems[0].message).toContain('static_call_add_module');
  });

  test('static-call.layout: a size that is no whole number of 8-byte sites', async () => {
    if (skipUnlessReady(pre)) return;
    const r = check(await grown('call-12.ko', '.static_call_sites', 4));
    expect(rules(r)).toEqual(['static-call.layout']);
    expect(placesOf(r, 'static-call.layout')).toEqual(['section .static_call_sites']);
  });

  test('static-call.module-key: the key relocation moved to .klp.rela.kelp_target_mod.static_call_sites', async () => {
    if (skipUnlessReady(pre)) return;
    const r = check(await broken('call-module-key.ko', (o) => toModuleSection(o, '.static_call_sites', 4n)));
    expect(rules(r)).toEqual(['static-call.module-key']);
    expect(placesOf(r, 'static-call.module-key')).toEqual(['.static_call_sites+0x4']);
    expect(r.problems[0].message).toContain('static_call_add_module');
  });
});

describe('kelp check agrees with the kernel', () => {
  test('the good module loads and its patched function, with its jump labels and static call, runs', async () => {
    if (skipUnlessReady(pre)) return;
    const r = await runOnTarget('check-special', { kernel: t.kernel, load: [good], check: ['cat /proc/cmdline'] });
    const why = JSON.stringify({ error: r.error, modules: r.modules, kernelMessages: r.kernelMessages }, null, 1);
    expect([r.error, why]).toEqual([null, why]);
    expect(r.modules.map((m) => [m.loaded, m.enabled])).toEqual([[true, true]]);
    expect(r.checks[0].output).toMatch(/kelp_check_special=patched/);
  }, 300_000);

  test('the table cut into 8-byte entries, as the old kelp diff wrote it, oopses the kernel in jump_label_module_notify', async () => {
    if (skipUnlessReady(pre)) return;
    const cut = await cutTo8('kelp-check-special-cut8.ko');
    expect(rules(check(cut))).toEqual(['jump-table.layout']);
    const r = await runOnTarget('check-special-cut8', { kernel: t.kernel, load: [cut], check: ['cat /proc/cmdline'] });
    const why = JSON.stringify({ error: r.error, modules: r.modules, kernelMessages: r.kernelMessages }, null, 1);
    expect([r.modules.map((m) => m.loaded), why]).toEqual([[false], why]);
    const log = await fs.readFile(join(artifactsDir(), 'check-special-cut8.log'), 'latin1');
    expect(log).toMatch(/Oops:/);
    expect(log).toMatch(/RIP: 0010:jump_label_module_notify\+/);
  }, 300_000);
});
