/**
 * Every refusal of `kelp diff` carries a category and, where there is one,
 * a line of advice, in the JSON report and on stderr: small C pairs compiled
 * here with kernel-like flags (see support.ts), one per kind of refusal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, kelpDiff, workdir } from './support.js';
import type { DiffReport } from '../../src/diff/report.js';
import { ElfObject } from '../../elf/model.js';

function refusals(orig: string, patched: string, args: string[] = []): { status: number | null; stderr: string; report: DiffReport } {
  const dir = workdir();
  const r = kelpDiff(compile(dir, 'orig', orig), compile(dir, 'patched', patched), join(dir, 'out.o'), [...args, '--json', join(dir, 'report.json')]);
  return { status: r.status, stderr: r.stderr, report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as DiffReport };
}

const JUMP16 = ['--entry-size', '__jump_table=16'];

const keyed = (key: string, decl: string, site = 'JUMP_SITE') => (k: number) => `
/* A jump label site compiled on: a jmp to the label instead of the NOP. */
#define JUMP_SITE_ON(key, label) asm goto("1: jmp %l[" #label "]\\n.pushsection __jump_table,\\"aw\\"\\n.balign 8\\n.long 1b - .\\n.long %l[" #label "] - .\\n.quad %c0 - .\\n.popsection" :: "i"(&(key)) :: label)
${decl}
noinline int gated(int x) {
  ${site}(${key}, yes); x += 1;
yes:
  return x + ${k};
}
`;

test.each([
  ['existing data', (k: number) => `int limits[2] = {10, ${k}};\nnoinline int lim(int i) { return limits[i]; }\n`, [], 'limits', 'data-changed', /shadow variable/],
  ['a device ID table (MODULE_DEVICE_TABLE\'s alias)', (k: number) => `const int ids[3] = {1, ${k}, 0};\nextern const int __mod_pci__ids_device_table[3] __attribute__((unused, alias("ids")));\nnoinline int first(int i) { return ids[i]; }\n`, [], 'ids', 'device-table', /updated module/],
  ['__init code', (k: number) => `int setup_value;\n__init int setup(void) { setup_value = ${k}; return 0; }\n`, [], 'setup', 'init-code', /callback/],
  // __exit is notrace as well (no __fentry__): refused as exit code, not also for the missing __fentry__.
  ['__exit code', (k: number) => `int teardown_value;\nnotrace __attribute__((section(".exit.text"), cold)) void teardown(void) { teardown_value = ${k}; }\n`, [], 'teardown', 'init-code', /callback/],
  ['a function without __fentry__', (k: number) => `notrace noinline int raw(int x) { return x + ${k}; }\nnoinline int use(int x) { return raw(x) + 1; }\nvoid *keep_raw = raw;\n`, [], 'raw', 'no-fentry', /functions that call it/],
  // (A jump label keyed in the module, a tracepoint's too, is built with a run-time test of its key;
  // its refusals: test/diff/key-test.test.ts.)
] as const)('%s: refused with its category and advice', (_what, src, args, name, category, advice) => {
  const r = refusals(src(1), src(2), [...args]);
  expect(r.status).toBe(2);
  expect(r.report.refusals.length).toBeGreaterThan(0);
  expect(r.report.refusals.filter((x) => x.category !== category)).toEqual([]);
  const [x] = r.report.refusals;
  expect(x.where).toContain(name);
  expect(x.advice).toMatch(advice);
  expect(r.stderr).toContain(`[${category}]; advice: ${x.advice}`);
});

describe('module sites the livepatch builds anyway', () => {
  test.each([
    ['compiled off (6.1: the NOP objtool makes of it in the object)', 'JUMP_SITE', [0x0f, 0x66]],
    ['on (6.12: the jmp objtool makes a NOP only in the linked module)', 'JUMP_SITE_ON', [0xe9, 0xeb]],
  ])('a tracepoint of the module whose site is %s tests its key at run time', (_what, form, first) => {
    // 6.1's 16-byte jump entries, as kelp build passes them from the target kernel.
    const src = keyed('__tracepoint_kelp_ev', 'struct static_key __tracepoint_kelp_ev;', form);
    const dir = workdir();
    const orig = compile(dir, 'orig', src(1));
    const r = kelpDiff(orig, compile(dir, 'patched', src(2)), join(dir, 'out.o'), ['--target', 'mymod', ...JUMP16, '--json', join(dir, 'r.json')]);
    expect([r.status, r.stderr]).toEqual([0, expect.stringMatching(/gated\+0x[0-9a-f]+: jump label of module mymod \(key __tracepoint_kelp_ev\) left out of the livepatch's table: the patched code tests the key at run time/)]);
    expect(r.stderr).not.toMatch(/stays off/);
    const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as DiffReport;
    expect(report.refusals).toEqual([]);
    const jt = r.obj!.sections.find((x) => x.name === '__jump_table');
    expect(jt === undefined || jt.data.length === 0).toBe(true);
    // The test reads the key through a livepatch symbol of the module.
    expect(r.obj!.symbols.some((x) => x.name === '.klp.sym.mymod.__tracepoint_kelp_ev,0')).toBe(true);
    // The site was what the case says (a 5-byte NOP or jmp) and is now a jmp to the test past the function's old end.
    const text = (o: ElfObject) => o.sections.find((x) => x.name === '.text.gated')!.data;
    const site = parseInt(/gated\+0x([0-9a-f]+): jump label/.exec(r.stderr)![1]!, 16);
    const before = text(ElfObject.read(readFileSync(orig), orig));
    const after = text(r.obj!);
    expect(first).toContain(before[site]);
    const to = after[site] === 0xe9 ? site + 5 + after.readInt32LE(site + 1) : after[site] === 0xeb ? site + 2 + after.readInt8(site + 1) : -1;
    expect(to).toBeGreaterThanOrEqual(before.length);
    // The function's symbol covers its test.
    expect(Number(r.obj!.symbols.find((x) => x.name === 'gated')!.size)).toBe(after.length);
  });

  test('a dynamic debug site of the module gets the livepatch\'s own descriptor: copied into its __dyndbg, the jump entry keyed on the copy', () => {
    const decl = 'struct _ddebug { const char *modname, *function, *format; struct static_key key; };\nstatic struct _ddebug __UNIQUE_ID_ddebug7 __attribute__((used, aligned(8), section("__dyndbg"))) = { "mymod", "gated", "gated %d\\n" };';
    const src = (k: number) => keyed('__UNIQUE_ID_ddebug7.key', decl)(k);
    const dir = workdir();
    const r = kelpDiff(compile(dir, 'orig', src(1)), compile(dir, 'patched', src(2)), join(dir, 'out.o'), ['--target', 'mymod', ...JUMP16, '--json', join(dir, 'r.json')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/__UNIQUE_ID_ddebug7: the dynamic debug site gets the livepatch's own descriptor/);
    const dyndbg = r.obj!.sections.find((x) => x.name === '__dyndbg')!;
    expect(dyndbg).toBeDefined();
    const rela = r.obj!.sections.find((x) => x.name === '.rela__jump_table')!;
    const key = rela.relocations!.find((x) => x.offset === 8n)!;
    // The key is the output's own: its __dyndbg section (or the descriptor), not a .klp.sym placeholder of mymod.
    expect(key.symbol!.section).toBe(dyndbg);
    expect(r.obj!.symbols.filter((x) => x.name.startsWith('.klp.sym.mymod.'))).toEqual([]);
    // The descriptor's strings came along.
    const drela = r.obj!.sections.find((x) => x.isRelocation && x.infoSection === dyndbg)!;
    expect(drela.relocations!.length).toBe(3);
  });
});

test('a replaced function whose original has a .cold part is named with its parts in the report', () => {
  const src = (k: number) => `
noinline int work(int x) {
  if (__builtin_expect(x > 1000, 0)) { do_report("big"); do_report("really"); return -${k}; }
  return x * 2 + ${k};
}
noinline int plain(int x) { return x + ${k}; }
`;
  const dir = workdir();
  const r = kelpDiff(compile(dir, 'orig', src(1)), compile(dir, 'patched', src(2)), join(dir, 'out.o'), ['--json', join(dir, 'r.json')]);
  expect(r.status).toBe(0);
  const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as DiffReport;
  expect(report.changedFunctions.map((f) => f.name).sort()).toEqual(['plain', 'work']);
  expect(report.coldParts).toEqual([{ name: 'work', parts: ['work.cold'] }]);
  expect(r.stderr).toMatch(/^old \.cold parts: work: work\.cold \(/m);
});

test('a table only __init code uses (a sysctl table registered at boot) is refused as changed data that the init code used, and the init function names the table it changed with', () => {
  // kernel/sysctl.c between Debian's 6.12.107 and 6.12.117: an entry leaves kern_table, registered by sysctl_init_bases.
  const src = (entries: string) => `
struct entry { const char *name; int (*handler)(int); };
noinline int dointvec(int x) { return x + 1; }
noinline int do_cad_pid(int x) { return x + 2; }
static struct entry kern_table[] = { ${entries} };
extern int register_table(struct entry *t, int n);
__init int sysctl_init_bases(void) { return register_table(kern_table, sizeof(kern_table) / sizeof(kern_table[0])); }
noinline int proc_dointvec(int x) { return dointvec(x) * 3; }
`;
  const r = refusals(src('{ "threads-max", dointvec }, { "cad_pid", do_cad_pid }'), src('{ "threads-max", dointvec }'));
  expect(r.status).toBe(2);
  const byCategory = Object.fromEntries(r.report.refusals.map((x) => [x.category, x.reason]));
  expect(byCategory['data-changed']).toMatch(/^existing data changed \(in \.data\.kern_table\); only __init\/__exit code refers to it \(sysctl_init_bases\): what the init code set up from the old data/);
  expect(byCategory['init-code']).toMatch(/\(it refers to changed data: kern_table\)/);
  // Data that running code reads keeps the general reason.
  const running = refusals('int limits[2] = {10, 1};\nnoinline int lim(int i) { return limits[i]; }\n', 'int limits[2] = {10, 2};\nnoinline int lim(int i) { return limits[i]; }\n');
  expect(running.report.refusals[0]!.reason).toMatch(/changes to data that running code uses cannot be live-patched/);
});
