/**
 * templates/kpatch-macros.h: a kpatch-style patch source using every macro
 * builds with the target's kbuild, and the sections it emits have the record
 * layouts the header documents (what kelp diff reads).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { R_X86_64_64, SHF_ALLOC, STT_FUNC } from '../../elf/constants.js';
import { ElfObject, type ElfSymbol, type Section } from '../../elf/model.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { pointedFunction, readCallbacks } from './support/fake-diff.js';
import { buildObjects } from './support/kbuild-objects.js';

let pre: PrereqStatus;
let obj: ElfObject;
const tmp = makeTmpDir('kpatch-macros');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  const target = await getTarget();
  const [o] = await buildObjects('test/fixtures/link/kpatch-macros', join(tmp.dir, 'build'), target.kdir, ['macros.o']);
  obj = ElfObject.read(await fs.readFile(o), o);
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
