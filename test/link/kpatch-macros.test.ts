/**
 * templates/kpatch-macros.h: a kpatch-style patch source using every macro
 * builds with the target's kbuild, and the sections it emits have the record
 * layouts the header documents (what kelp diff reads). KPATCH_PRINTK,
 * KPATCH_STATIC_CALL and KPATCH_SYSCALL_DEFINEn (kpatch-syscall.h) against
 * the kernel's printk(), static_call() and SYSCALL_DEFINEn in real gcc
 * output; a klp-build-style source with <linux/livepatch_helpers.h>, which
 * 6.1 lacks, builds against templates/linux/.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { R_X86_64_64, SHF_ALLOC, STB_GLOBAL, STT_FUNC, STT_SECTION } from '../../elf/constants.js';
import { ElfObject, type ElfSymbol, type Section } from '../../elf/model.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { pointedFunction, readCallbacks } from './support/fake-diff.js';
import { buildObjects } from './support/kbuild-objects.js';
import { KELP_KCFLAGS } from '../../src/build/kbuild.js';

let pre: PrereqStatus;
let obj: ElfObject;
let printkObj: ElfObject;
let apiObj: ElfObject;
let klpObj: ElfObject;
const tmp = makeTmpDir('kpatch-macros');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  const target = await getTarget();
  const built = await buildObjects('test/fixtures/link/kpatch-macros', join(tmp.dir, 'build'), target.kdir, ['macros.o', 'printk.o', 'api.o', 'klp.o'], KELP_KCFLAGS);
  [obj, printkObj, apiObj, klpObj] = await Promise.all(built.map(async (o) => ElfObject.read(await fs.readFile(o), o)));
}, 900_000);

afterAll(() => tmp.cleanup());

function section(name: string): Section {
  const s = obj.sections.find((x) => x.name === name);
  if (!s) throw new Error(`no ${name}`);
  return s;
}

function pointerRecords(s: Section): Array<{ offset: bigint; symbol: ElfSymbol; addend: bigint }> {
  const rela = obj.sections.find((x) => x.isRelocation && x.infoSection === s)!;
  return rela.relocations!.map((r) => {
    expect(r.type).toBe(R_X86_64_64);
    expect(s.data.subarray(Number(r.offset), Number(r.offset) + 8).equals(Buffer.alloc(8))).toBe(true);
    return { offset: r.offset, symbol: r.symbol!, addend: r.addend };
  }).sort((a, b) => Number(a.offset - b.offset));
}

describe('kpatch-macros.h', () => {
  test('the four callback sections hold one 16-byte record each: fn, then a zero objname', () => {
    if (skipUnlessReady(pre)) return;
    for (const kind of ['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch']) {
      const s = section(`.kpatch.callbacks.${kind}`);
      expect(s.size).toBe(16);
      expect(s.align).toBe(8);
      expect(s.flags & SHF_ALLOC).toBe(SHF_ALLOC);
      const recs = pointerRecords(s);
      expect(recs.map((r) => r.offset)).toEqual([0n]);
      expect(s.data.subarray(8, 16).equals(Buffer.alloc(8))).toBe(true);
    }
    expect(readCallbacks(obj)).toEqual({ prePatch: 'pre_patch', postPatch: 'post_patch', preUnpatch: 'pre_unpatch', postUnpatch: 'post_unpatch' });
  });

  test('ignore and force records: one pointer each, to the section name or the function', () => {
    if (skipUnlessReady(pre)) return;
    const ignoreSections = section('.kpatch.ignore.sections');
    expect(ignoreSections.size).toBe(8);
    const [rec] = pointerRecords(ignoreSections);
    const strings = rec.symbol.section!;
    const at = Number(rec.addend);
    expect(strings.data.subarray(at, strings.data.indexOf(0, at)).toString('latin1')).toBe('.discard.kelp_test');

    for (const [name, fn] of [['.kpatch.ignore.functions', 'widget_reset'], ['.kpatch.force', 'widget_weight']]) {
      const s = section(name);
      expect(s.size).toBe(8);
      const f = pointedFunction(obj, s, 0n);
      expect([f.name, f.type]).toEqual([fn, STT_FUNC]);
    }
  });

  test('shadow variables go through the kernel\'s klp_shadow API', () => {
    if (skipUnlessReady(pre)) return;
    const undefinedNames = obj.symbols.filter((s) => s.isUndefined).map((s) => s.name);
    for (const f of ['klp_shadow_get_or_alloc', 'klp_shadow_get', 'klp_shadow_free', 'klp_shadow_alloc', 'klp_shadow_free_all']) {
      expect(undefinedNames).toContain(f);
    }
  });
});

/** The function symbol `name` of `o`. */
function fn(o: ElfObject, name: string): ElfSymbol {
  const f = o.symbols.find((x) => x.name === name && x.type === STT_FUNC);
  if (!f) throw new Error(`no function ${name} in ${o.file}`);
  return f;
}

/**
 * The symbols the relocations inside function `name` name, in order; a
 * section symbol by the function it points into (a call's addend is the
 * target - 4), else by its section's name.
 */
function referenced(o: ElfObject, name: string): string[] {
  const f = fn(o, name);
  const rela = o.sections.find((x) => x.isRelocation && x.infoSection === f.section)!;
  return rela.relocations!
    .filter((r) => r.offset >= f.value && r.offset < f.value + f.size)
    .sort((a, b) => Number(a.offset - b.offset))
    .map((r) => {
      const sym = r.symbol!;
      if (sym.type !== STT_SECTION) return sym.name;
      const at = r.addend + 4n;
      const inside = o.symbols.find((x) => x.type === STT_FUNC && x.section === sym.section && x.value <= at && at < x.value + x.size);
      return inside?.name ?? sym.section!.name;
    });
}

describe('kpatch-macros.h: printing, static calls and syscalls', () => {
  test('KPATCH_PRINTK keeps the code around the message as it is without one; printk() makes gcc stop inlining there', () => {
    if (skipUnlessReady(pre)) return;
    const none = referenced(printkObj, 'kelp_print_none');
    // mix() inlined three times in the block and once after it: ten calls besides __fentry__.
    expect(none.filter((n) => n === 'kelp_helper' || n === 'kelp_helper2')).toHaveLength(8);
    // With printk() the block is cold: gcc calls an out-of-line mix() there (a function the original does not have).
    expect(referenced(printkObj, 'kelp_print_plain')).toContain('mix');
    expect(none).not.toContain('mix');
    // With KPATCH_PRINTK only the call is cold (moved to .cold); the rest references what the message-less function does.
    for (const [f, printer] of [['kelp_print_kpatch', '_printk'], ['kelp_print_deferred', '_printk_deferred']]) {
      expect(referenced(printkObj, f).filter((n) => n !== `${f}.cold`)).toEqual(none);
      expect(referenced(printkObj, `${f}.cold`)).toContain(printer);
    }
  });

  test('KPATCH_STATIC_CALL calls through the key: no .static_call_sites entry, unlike static_call()', () => {
    if (skipUnlessReady(pre)) return;
    const sites = apiObj.sections.find((x) => x.name === '.static_call_sites')!;
    const rela = apiObj.sections.find((x) => x.isRelocation && x.infoSection === sites)!;
    // One 8-byte site (address, key): kelp_static_plain's call.
    expect(sites.size).toBe(8);
    const plain = fn(apiObj, 'kelp_static_plain');
    const siteAt = rela.relocations!.find((r) => r.offset === 0n)!;
    expect(siteAt.symbol!.section).toBe(plain.section);
    expect(siteAt.addend).toBeGreaterThanOrEqual(plain.value);
    expect(siteAt.addend).toBeLessThan(plain.value + plain.size);
    expect(referenced(apiObj, 'kelp_static_plain')).toContain('__SCT__kelp_call');
    const kpatch = referenced(apiObj, 'kelp_static_kpatch');
    expect(kpatch).toContain('__SCK__kelp_call');
    expect(kpatch).not.toContain('__SCT__kelp_call');
  });

  test('KPATCH_SYSCALL_DEFINEn makes the kernel\'s own pt_regs entry points (with __fentry__) and no syscall trace records', () => {
    if (skipUnlessReady(pre)) return;
    for (const name of ['kelp_plain', 'kelp_kpatch', 'kelp_six']) {
      for (const abi of ['x64', 'ia32']) {
        const f = fn(apiObj, `__${abi}_sys_${name}`);
        expect([f.name, f.bind]).toEqual([`__${abi}_sys_${name}`, STB_GLOBAL]);
        expect(referenced(apiObj, f.name)[0]).toBe('__fentry__');
      }
    }
    const names = apiObj.symbols.map((x) => x.name);
    expect(names).toContain('__syscall_meta__kelp_plain');
    expect(names).toContain('__event_enter__kelp_plain');
    expect(names.filter((n) => /kelp_(kpatch|six)/.test(n) && !/^__(x64|ia32)_sys_/.test(n))).toEqual([]);
    // The two pt_regs entry points are what the 6.1 kernel's wrappers make: same sizes as SYSCALL_DEFINE2's.
    expect(fn(apiObj, '__x64_sys_kelp_kpatch').size).toBe(fn(apiObj, '__x64_sys_kelp_plain').size);
    expect(fn(apiObj, '__ia32_sys_kelp_kpatch').size).toBe(fn(apiObj, '__ia32_sys_kelp_plain').size);
  });
});

describe('templates/linux/livepatch_helpers.h (klp-build\'s API) on a kernel without it', () => {
  test('KLP_*_CALLBACK records, KLP_STATIC_CALL and KLP_SYSCALL_DEFINE1', () => {
    if (skipUnlessReady(pre)) return;
    expect(readCallbacks(klpObj)).toEqual({ prePatch: 'klp_pre', postPatch: 'klp_post', preUnpatch: 'klp_pre_un', postUnpatch: 'klp_post_un' });
    expect(referenced(klpObj, 'kelp_klp_static')).toContain('__SCK__kelp_klp_call');
    expect(klpObj.sections.some((x) => x.name === '.static_call_sites')).toBe(false);
    expect(referenced(klpObj, '__x64_sys_kelp_klp')[0]).toBe('__fentry__');
    expect(klpObj.symbols.some((x) => x.name.includes('syscall_meta'))).toBe(false);
  });
});
