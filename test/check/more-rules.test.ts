/**
 * kelp check: the rules check.test.ts does not break yet, each broken on its
 * own in a copy of kelp link's good vmlinux livepatch: GPL-only and
 * namespaced exports (real entries of Debian's Module.symvers, picked at test
 * time), SHT_REL sections, relocation fields outside their section or over
 * nonzero bytes, and klp_func old_names that are ambiguous or not functions.
 * Each case asserts exactly its rule (the good module reports none), and the
 * GPL-only case is confirmed by the real kernel.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ElfObject } from '../../elf/model.js';
import { R_X86_64_32, SHT_REL, SHT_RELA, STB_WEAK, STT_FUNC, STT_OBJECT } from '../../elf/constants.js';
import { describeRelocation } from '../../rela/x86_64.js';
import { checkModuleAgainst, CheckTarget, type CheckReport } from '../../src/check/index.js';
import { readSymvers, type ExportedSymbol } from '../../src/symbols/symvers.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import {
  addModinfo, duplicatedName, linkCmdlineModule, PATCHED_FUNCTION, renameOldName, replaceString, rules, section, systemMapNames,
  uniqueDataName, writeBroken,
} from './support/broken.js';

let pre: PrereqStatus;
let t: TargetInfo;
let target: CheckTarget;
let one: string;
const tmp = makeTmpDir('check-more');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  t = await getTarget();
  one = (await linkCmdlineModule(tmp.dir, t.kdir, 'kelp-check-more')).module;
  target = new CheckTarget({ symbols: t.systemMap, kdir: t.kdir });
}, 900_000);

afterAll(() => tmp.cleanup());

const check = (file: string): CheckReport => checkModuleAgainst(file, target);
const broken = (name: string, edit: (obj: ElfObject) => void): Promise<string> => writeBroken(one, join(tmp.dir, name), edit);
const placesOf = (r: CheckReport, rule: string): string[] => r.problems.filter((p) => p.rule === rule).map((p) => p.place);

/** The undefined symbol the good module calls through an ordinary export (seq_printf in the fixture's cmdline_proc_show). */
const CALLED = 'seq_printf';

/**
 * A vmlinux export of Debian's Module.symvers that `pick` accepts, the module
 * does not already use, and the System.map has once (so its relocations are
 * computable as for any export).
 */
function realExport(pick: (e: ExportedSymbol) => boolean): ExportedSymbol {
  const names = systemMapNames(t.systemMap);
  const e = readSymvers(t.symvers).entries().find((x) => x.module === 'vmlinux' && pick(x) && x.name !== CALLED && names.get(x.name)?.length === 1);
  if (!e) throw new Error('no such export in Module.symvers');
  return e;
}

/** The good module with its call of CALLED turned into a call of `name` (relocations follow the symbol). */
const calling = (file: string, name: string, edit: (o: ElfObject) => void = () => {}) => broken(file, (o) => {
  const s = o.symbols.find((x) => x.name === CALLED);
  if (!s) throw new Error(`no symbol ${CALLED}`);
  s.name = name;
  edit(o);
});

/** The first relocation of .rela.text whose type writes a field, and that field's size. */
function fieldRelocation(o: ElfObject) {
  const rel = section(o, '.rela.text');
  const r = rel.relocations!.find((x) => (describeRelocation(x.type)?.size ?? 0) > 0);
  if (!r) throw new Error('no relocation with a field in .rela.text');
  return { r, size: describeRelocation(r.type)!.size };
}

/** Where check names a byte of .text: the function holding it (`fn+0xoff`), else `.text+0xoff`. */
function textPlace(o: ElfObject, off: bigint): string {
  const text = section(o, '.text');
  const fn = o.symbols.find((s) => s.section === text && (s.type === STT_FUNC || s.type === STT_OBJECT) && s.size > 0n && s.value <= off && off < s.value + s.size);
  return fn ? `${fn.name}+0x${(off - fn.value).toString(16)}` : `.text+0x${off.toString(16)}`;
}

const nonGpl = (o: ElfObject) => replaceString(section(o, '.modinfo'), 'license=GPL', 'license=MIT');

describe('kelp check: the good module', () => {
  test('passes, with a GPL license and no import_ns, so what the cases below break is theirs', () => {
    if (skipUnlessReady(pre)) return;
    const r = check(one);
    expect(r.problems).toEqual([]);
    const modinfo = readFileSync(one, 'latin1');
    expect(modinfo).toContain('license=GPL\0');
    expect(modinfo).not.toContain('import_ns=');
  });
});

describe('kelp check: exports (real Module.symvers entries)', () => {
  test('undefined.gpl-only: a GPL-only export used by a module whose license is not GPL-compatible', async () => {
    if (skipUnlessReady(pre)) return;
    const gpl = realExport((e) => e.type === 'EXPORT_SYMBOL_GPL' && e.namespace === '');
    // With the GPL license the GPL-only export is fine...
    expect(check(await calling(`gpl-ok-${gpl.name}.ko`, gpl.name)).problems).toEqual([]);
    // ...and with another license it is refused, that symbol among the reported ones.
    const r = check(await calling('gpl-only.ko', gpl.name, nonGpl));
    expect([gpl.name, rules(r)]).toEqual([gpl.name, ['undefined.gpl-only']]);
    expect(placesOf(r, 'undefined.gpl-only')).toContain(`symbol ${gpl.name}`);
    expect(r.ok).toBe(false);
    // A plain EXPORT_SYMBOL is not GPL-only: the non-GPL module does not get it reported.
    const plain = check(await broken('non-gpl.ko', nonGpl));
    expect(placesOf(plain, 'undefined.gpl-only')).not.toContain(`symbol ${CALLED}`);
  });

  test('undefined.gpl-only is not reported for a weak reference: the loader leaves it unresolved instead of refusing', async () => {
    if (skipUnlessReady(pre)) return;
    const gpl = realExport((e) => e.type === 'EXPORT_SYMBOL_GPL' && e.namespace === '');
    const weak = (o: ElfObject) => { o.symbols.find((x) => x.name === gpl.name)!.bind = STB_WEAK; };
    const strong = check(await calling('gpl-strong.ko', gpl.name, nonGpl));
    const r = check(await calling('gpl-weak.ko', gpl.name, (o) => { nonGpl(o); weak(o); }));
    // Only the weak one differs: the module's other GPL-only references are still reported.
    expect(placesOf(strong, 'undefined.gpl-only')).toContain(`symbol ${gpl.name}`);
    expect(placesOf(r, 'undefined.gpl-only')).toEqual(placesOf(strong, 'undefined.gpl-only').filter((x) => x !== `symbol ${gpl.name}`));
    expect(rules(r)).toEqual(['undefined.gpl-only']);
  });

  test('relocations to a weak GPL-only reference of a non-GPL module are computed with 0, the value the loader leaves', async () => {
    if (skipUnlessReady(pre)) return;
    const gpl = realExport((e) => e.type === 'EXPORT_SYMBOL_GPL' && e.namespace === '');
    // Every relocation to it made R_X86_64_32 (zero-extended): 0 fits, a kernel address does not.
    const abs32 = (o: ElfObject) => {
      const sym = o.symbols.find((x) => x.name === gpl.name)!;
      sym.bind = STB_WEAK;
      for (const r of section(o, '.rela.text').relocations!) if (r.symbol === sym) { r.type = R_X86_64_32; r.addend = 0n; }
    };
    const gplLicensed = check(await calling('weak-abs32-gpl.ko', gpl.name, abs32));
    expect(rules(gplLicensed)).toEqual(['relocation.overflow']);
    const mit = check(await calling('weak-abs32-mit.ko', gpl.name, (o) => { nonGpl(o); abs32(o); }));
    expect(rules(mit)).toEqual(['undefined.gpl-only']);
    expect(placesOf(mit, 'undefined.gpl-only')).not.toContain(`symbol ${gpl.name}`);
  });

  test('undefined.namespace: a namespaced export without import_ns=; with it, nothing', async () => {
    if (skipUnlessReady(pre)) return;
    const ns = realExport((e) => e.namespace !== '');
    const r = check(await calling('namespace.ko', ns.name));
    expect([ns.name, rules(r)]).toEqual([ns.name, ['undefined.namespace']]);
    expect(placesOf(r, 'undefined.namespace')).toEqual([`symbol ${ns.name}`]);
    expect(r.problems[0].message).toContain(ns.namespace);
    const imported = check(await calling('namespace-imported.ko', ns.name, (o) => addModinfo(o, 'import_ns', ns.namespace)));
    expect([ns.name, imported.problems]).toEqual([ns.name, []]);
  });
});

describe('kelp check: relocations', () => {
  test('relocation.rel: a relocation section of type SHT_REL', async () => {
    if (skipUnlessReady(pre)) return;
    const r = check(await broken('rel.ko', (o) => {
      const s = section(o, '.rela.text');
      expect(s.type).toBe(SHT_RELA);
      s.type = SHT_REL;
      s.entsize = 16;
      s.name = '.rel.text';
    }));
    expect(rules(r)).toEqual(['relocation.rel']);
    expect(r.problems.map((p) => p.place)).toEqual(['section .rel.text']);
  });

  test('relocation.bounds: r_offset + field size past the end of the section', async () => {
    if (skipUnlessReady(pre)) return;
    let place = '';
    const r = check(await broken('bounds.ko', (o) => {
      const { r: rel, size } = fieldRelocation(o);
      // The field starts inside .text and ends one byte past it.
      rel.offset = BigInt(section(o, '.text').size - size + 1);
      place = textPlace(o, rel.offset);
    }));
    expect(rules(r)).toEqual(['relocation.bounds']);
    expect(r.problems.map((p) => p.place)).toEqual([place]);
  });

  test('relocation.nonzero: a nonzero byte under a relocation field', async () => {
    if (skipUnlessReady(pre)) return;
    let place = '';
    const r = check(await broken('nonzero.ko', (o) => {
      const { r: rel, size } = fieldRelocation(o);
      const text = section(o, '.text');
      const data = Buffer.from(text.data);
      const last = Number(rel.offset) + size - 1;
      expect(data[last]).toBe(0);
      data[last] = 0x5a; // only the field's last byte
      text.data = data;
      place = textPlace(o, rel.offset);
    }));
    expect(rules(r)).toEqual(['relocation.nonzero']);
    expect(r.problems.map((p) => p.place)).toEqual([place]);
  });
});

describe('kelp check: klp_func', () => {
  test('klp-func.ambiguous: old_sympos 0 for a name vmlinux has twice', async () => {
    if (skipUnlessReady(pre)) return;
    const dup = duplicatedName(t.systemMap, PATCHED_FUNCTION.length);
    const r = check(await broken('func-ambiguous.ko', (o) => renameOldName(o, PATCHED_FUNCTION, dup)));
    expect([dup, rules(r)]).toEqual([dup, ['klp-func.ambiguous']]);
    expect(r.problems[0].message).toContain(`klp_func ${dup} of vmlinux`);
  });

  test('klp-func.not-function: old_name naming a data symbol', async () => {
    if (skipUnlessReady(pre)) return;
    const data = uniqueDataName(t.systemMap, PATCHED_FUNCTION.length);
    const r = check(await broken('func-data.ko', (o) => renameOldName(o, PATCHED_FUNCTION, data)));
    expect([data, rules(r)]).toEqual([data, ['klp-func.not-function']]);
    expect(r.problems[0].message).toContain(`klp_func ${data} of vmlinux`);
  });
});

describe('kelp check agrees with the kernel', () => {
  test('the kernel refuses the non-GPL module using a GPL-only export, and loads the good one', async () => {
    if (skipUnlessReady(pre)) return;
    const gpl = realExport((e) => e.type === 'EXPORT_SYMBOL_GPL' && e.namespace === '');
    const gplOnly = await calling('kelp-check-more-gpl.ko', gpl.name, nonGpl);
    expect(rules(check(gplOnly))).toEqual(['undefined.gpl-only']);
    const r = await runOnTarget('check-gpl-only', {
      kernel: t.kernel,
      load: [gplOnly, one],
      check: [`dmesg | grep -e "Unknown symbol ${gpl.name}" -e "module license"`],
    });
    const why = JSON.stringify({ error: r.error, modules: r.modules, kernelMessages: r.kernelMessages }, null, 1);
    expect([r.error, why]).toEqual([null, why]);
    expect(r.modules.map((m) => m.loaded)).toEqual([false, true]);
    expect(r.checks[0].output).toMatch(new RegExp(`Unknown symbol ${gpl.name} \\(err`));
    expect(r.checks[0].output).toMatch(/module license 'MIT' taints kernel/);
  }, 300_000);
});
