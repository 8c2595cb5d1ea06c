/** Reading diff outputs: .kelp.meta and the symbols must agree, or kelp link says what is wrong in one line. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHT_PROGBITS } from '../../elf/constants.js';
import { KelpError } from '../../src/errors.js';
import { ElfObject, Section } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { readDiffInput } from '../../src/link/inputs.js';
import { kbuildCopy, planLink } from '../../src/link/plan.js';
import { META_SECTION, type DiffMeta } from '../../src/patch/meta.js';
import { makeTmpDir } from '../support/tmp.js';

const tmp = makeTmpDir('link-inputs');
let compiled: Buffer;

const SOURCE = `
extern int secret;
extern int helper(void);
static int __attribute__((used)) show(void) { return secret + helper(); }
static void __attribute__((used)) post(void *obj) { }
`;

beforeAll(() => {
  const out = join(tmp.dir, 'p.o');
  const r = spawnSync('gcc', ['-O2', '-fno-pie', '-mcmodel=kernel', '-mno-red-zone', '-c', '-x', 'c', '-', '-o', out], { input: SOURCE, encoding: 'latin1' });
  if (r.status !== 0) throw new Error(r.stderr);
  compiled = readFileSync(out);
});
afterAll(() => tmp.cleanup());

const goodMeta = (): DiffMeta => ({
  version: 1, target: 'vmlinux', source: 'p.c',
  functions: [{ name: 'show', oldName: 'show', sympos: 0 }],
  newFunctions: [], newData: [],
  klpSymbols: [
    { placeholder: '.klp.sym.vmlinux.secret,0', object: 'vmlinux', name: 'secret', sympos: 0 },
    { placeholder: '.klp.sym.some_mod.helper,2', object: 'some_mod', name: 'helper', sympos: 2 },
  ],
  callbacks: { postPatch: 'post' },
  coldParts: ['show.cold'],
});

/** The compiled object as a diff output: renames and meta as given. */
function diffObject(meta: unknown, renames: Record<string, string> = { secret: '.klp.sym.vmlinux.secret,0', helper: '.klp.sym.some_mod.helper,2' }, opts: { noMeta?: boolean } = {}): Buffer {
  const obj = ElfObject.read(compiled, 'p.o');
  for (const s of obj.symbols) if (renames[s.name]) s.name = renames[s.name];
  if (!opts.noMeta) {
    const m = obj.addSection(new Section(META_SECTION, SHT_PROGBITS));
    m.data = Buffer.from(typeof meta === 'string' ? meta : JSON.stringify(meta));
  }
  return writeObject(obj);
}

function expectError(buf: Buffer, message: string | RegExp): void {
  let err: unknown;
  try {
    readDiffInput('d.o', buf);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(KelpError);
  if (typeof message === 'string') expect((err as KelpError).describe()).toBe(`d.o: ${message}`);
  else expect((err as KelpError).describe()).toMatch(message);
}

describe('diff inputs', () => {
  test('a well-formed diff output reads back with its meta', () => {
    const input = readDiffInput('d.o', diffObject(goodMeta()));
    expect(input.meta).toEqual(goodMeta());
  });

  test('the copy for kbuild: no .kelp.meta, stand-ins for placeholders, hidden aliases for functions and callbacks', () => {
    const input = readDiffInput('d.o', diffObject(goodMeta()));
    const other = readDiffInput('m.o', diffObject({ ...goodMeta(), target: 'some_mod', callbacks: {} }));
    const plan = planLink([input, other]);
    expect([...plan.standInOf.entries()]).toEqual([['.klp.sym.some_mod.helper,2', '__kelp_klp_sym_0'], ['.klp.sym.vmlinux.secret,0', '__kelp_klp_sym_1']]);
    const copy = ElfObject.read(kbuildCopy(input, 0, plan), 'copy.o');
    expect(copy.sections.map((s) => s.name)).not.toContain(META_SECTION);
    const names = copy.symbols.map((s) => s.name);
    expect(names.filter((n) => n.startsWith('.klp.sym.'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['__kelp_klp_sym_0', '__kelp_klp_sym_1', 'show', 'post', '__kelp_func_0_0', '__kelp_cb_0_postPatch']));
    const show = copy.symbols.find((s) => s.name === 'show')!;
    const alias = copy.symbols.find((s) => s.name === '__kelp_func_0_0')!;
    expect([alias.section, alias.value, alias.size, alias.other]).toEqual([show.section, show.value, show.size, 2]);
    expect(show.isLocal).toBe(true);
    expect(plan.objects).toEqual([
      // The replaced functions' old .cold parts go on to the template (modinfo kelp_cold=).
      { name: 'vmlinux', functions: [{ oldName: 'show', newSymbol: '__kelp_func_0_0', sympos: 0 }], callbacks: { postPatch: '__kelp_cb_0_postPatch' }, coldParts: ['show.cold'] },
      { name: 'some_mod', functions: [{ oldName: 'show', newSymbol: '__kelp_func_1_0', sympos: 0 }], callbacks: {}, coldParts: ['show.cold'] },
    ]);
  });

  test('refusals name the file and the problem', () => {
    expectError(diffObject(null, {}, { noMeta: true }), 'no .kelp.meta section: not a kelp diff output');
    expectError(diffObject('{not json'), /^d\.o: \.kelp\.meta: not valid JSON \(.*position 1.*\)$/);
    expectError(diffObject({ ...goodMeta(), version: 2 }), '.kelp.meta: version 2 is not 1');
    expectError(diffObject({ ...goodMeta(), target: 'a-b' }), '.kelp.meta: target "a-b" is not vmlinux or a module name');
    expectError(diffObject({ ...goodMeta(), functions: [{ name: 'nope', oldName: 'nope', sympos: 0 }] }), 'patched function nope is not a function defined in the object');
    expectError(diffObject({ ...goodMeta(), functions: [{ name: 'show', oldName: 'show', sympos: -1 }] }), '.kelp.meta: functions[0].sympos is not a non-negative integer');
    expectError(diffObject({ ...goodMeta(), callbacks: { prePatch: 'missing' } }), 'prePatch callback missing is not a function defined in the object');
    expectError(diffObject({ ...goodMeta(), klpSymbols: goodMeta().klpSymbols.slice(0, 1) }), 'placeholder .klp.sym.some_mod.helper,2 is not listed in .kelp.meta klpSymbols');
    const wrong = goodMeta();
    wrong.klpSymbols[0].sympos = 1;
    expectError(diffObject(wrong), '.kelp.meta: klpSymbols[0].placeholder .klp.sym.vmlinux.secret,0 does not match its object, name and sympos');
    const comma = goodMeta();
    comma.klpSymbols[0] = { placeholder: '.klp.sym.vmlinux.a,b,0', object: 'vmlinux', name: 'a,b', sympos: 0 };
    expectError(diffObject(comma, { secret: '.klp.sym.vmlinux.a,b,0', helper: '.klp.sym.some_mod.helper,2' }), '.kelp.meta: klpSymbols[0].name "a,b" cannot be a livepatch symbol name (a \',\' or over 511 bytes)');
  });

  test('a module symbol of a module the patch does not patch', () => {
    const input = readDiffInput('d.o', diffObject(goodMeta()));
    expect(() => planLink([input])).toThrow(new KelpError('.klp.sym.some_mod.helper,2: the patch patches nothing in some_mod, so the kernel would never apply relocations against it', 'd.o'));
  });

  test('another module\'s symbol used by a patched module goes with that module: one stand-in per target, its relocations in .klp.rela.<target>', () => {
    // dell_wmi's patched code calling an export of dell_smbios, a module it depends on: applied when
    // dell_wmi is patched, so the livepatch needs no dell_smbios to load (klp-build does the same).
    const meta = (target: string): DiffMeta => ({
      ...goodMeta(), target, callbacks: {},
      klpSymbols: [goodMeta().klpSymbols[0]!, { placeholder: '.klp.sym.dep_mod.helper,0', object: 'dep_mod', name: 'helper', sympos: 0 }],
    });
    const renames = { secret: '.klp.sym.vmlinux.secret,0', helper: '.klp.sym.dep_mod.helper,0' };
    const a = readDiffInput('a.o', diffObject(meta('mod_a'), renames));
    const c = readDiffInput('c.o', diffObject({ ...meta('mod_c'), functions: [{ name: 'show', oldName: 'show2', sympos: 0 }] }, renames));
    const plan = planLink([a, c]);
    expect([...plan.standIns.values()].map((k) => [k.placeholder, k.relaObject]).sort()).toEqual([
      ['.klp.sym.dep_mod.helper,0', 'mod_a'],
      ['.klp.sym.dep_mod.helper,0', 'mod_c'],
      ['.klp.sym.vmlinux.secret,0', 'vmlinux'],
    ]);
    // Each copy names its own stand-in.
    const standIn = (input: typeof a, i: number) => ElfObject.read(kbuildCopy(input, i, plan), 'x.o').symbols.find((x) => x.name.startsWith('__kelp_klp_sym_') && plan.standIns.get(x.name)!.name === 'helper')!.name;
    expect(plan.standIns.get(standIn(a, 0))!.relaObject).toBe('mod_a');
    expect(plan.standIns.get(standIn(c, 1))!.relaObject).toBe('mod_c');
  });

  test('conflicting inputs', () => {
    const m = readDiffInput('m.o', diffObject({ ...goodMeta(), target: 'some_mod', functions: [], callbacks: {} }));
    const a = readDiffInput('a.o', diffObject(goodMeta()));
    const b = readDiffInput('b.o', diffObject(goodMeta()));
    expect(() => planLink([m, a, b])).toThrow(new KelpError('function show (sympos 0) of vmlinux is also patched by a.o', 'b.o'));
    const meta = goodMeta();
    meta.functions = [];
    const c = readDiffInput('c.o', diffObject(meta));
    expect(() => planLink([m, a, c])).toThrow(new KelpError('a second postPatch callback for vmlinux (one per object)', 'c.o'));
  });
});
