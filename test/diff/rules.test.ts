/**
 * One test per rule of `kelp diff`, on small C files compiled here with
 * kernel-like flags (see support.ts).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ElfFile } from '../../elf/reader.js';
import { R_X86_64_PC32, R_X86_64_PC64 } from '../../elf/constants.js';
import { compile, definedFunctions, diffC, kelpDiff, undefinedNames, workdir, KELP } from './support.js';

const BASE = `
int shared_counter;
static noinline int helper(int x) { return x * 3 + shared_counter; }
noinline int compute(int x) { return helper(x) + 1; }
noinline int other(int x) { return x - 7; }
`;

test('a changed function is written, replacing its old self', () => {
  const r = diffC(BASE, BASE.replace('helper(x) + 1', 'helper(x) + 2'));
  expect(r.status).toBe(0);
  expect(definedFunctions(r)).toEqual(['compute']);
  expect(r.meta!.functions).toEqual([{ name: 'compute', oldName: 'compute', sympos: 0 }]);
  expect(r.stderr).toMatch(/changed function: compute/);
});

test('no change at all: exit 3, no output', () => {
  const r = diffC(BASE, BASE);
  expect(r.status).toBe(3);
  expect(r.obj).toBeNull();
  expect(r.stderr).toMatch(/no functional change/);
});

test('a new function called from a changed one is included', () => {
  const patched = `${BASE}\nnoinline int brand_new(int x) { return x ^ 0x5a5a; }\n`.replace('helper(x) + 1', 'brand_new(helper(x))');
  const r = diffC(BASE, patched);
  expect(r.status).toBe(0);
  expect(definedFunctions(r)).toEqual(['brand_new', 'compute']);
  expect(r.meta!.newFunctions).toContain('brand_new');
});

test('new global data is included and defined', () => {
  const patched = `int added_total = 42;\n${BASE.replace('helper(x) + 1', 'helper(x) + added_total')}`;
  const r = diffC(BASE, patched);
  expect(r.status).toBe(0);
  expect(r.meta!.newData).toEqual(['added_total']);
  const sym = r.obj!.symbols.find((s) => s.name === 'added_total')!;
  expect(sym.section).not.toBeNull();
});

test('static locals renumbered by the compiler (foo.1 vs foo.2) still correlate', () => {
  const orig = `noinline int a(void) { static int calls; return ++calls; }\nnoinline int b(void) { static int calls; return calls += 2; }\n`;
  // An extra static local in front renumbers every `calls.N`.
  const patched = `noinline int z(void) { static int calls; return calls--; }\n${orig.replace('calls += 2', 'calls += 3')}`;
  const r = diffC(orig, patched);
  expect(r.status).toBe(0);
  // z is a new global function: included as such; b is the changed one.
  expect(definedFunctions(r)).toEqual(['b', 'z']);
  expect(r.meta!.functions.map((f) => f.name)).toEqual(['b']);
  // b's counter is the running kernel's: a placeholder named with the original's name.
  const placeholders = undefinedNames(r).filter((n) => n.startsWith('.klp.sym.vmlinux.calls.'));
  expect(placeholders).toHaveLength(1);
  // Only z's own counter is new data.
  expect(r.meta!.newData).toHaveLength(1);
});

test('.cold parts are grouped with their parent', () => {
  const src = (k: number) => `
noinline int work(int x) {
  if (__builtin_expect(x > 1000, 0)) { do_report("big"); do_report("really"); return -${k}; }
  return x * 2;
}`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  const fns = definedFunctions(r);
  expect(fns).toContain('work');
  expect(fns.some((f) => f.startsWith('work.cold'))).toBe(true);
  expect(r.meta!.functions.map((f) => f.name)).toEqual(['work']);
  // The jumps between a function and its .cold part are relocated against section symbols, as gcc's
  // assembler writes them: objtool (run on a 6.12 module's link) takes a jump against a function
  // symbol for a sibling call, and would give the .cold part the unwind data of a function entry.
  const jumps = r.obj!.sections.filter((s) => s.isRelocation && s.infoSection !== null && /^\.text\.(unlikely\.)?work$/.test(s.infoSection.name))
    .flatMap((rel) => rel.relocations!.filter((x) => x.symbol !== null && /^(\.text\.(unlikely\.)?)?work(\.cold.*)?$/.test(x.symbol.name || x.symbol.section?.name || ''))
      .filter((x) => [0xe9, 0x0f].includes(rel.infoSection!.data[Number(x.offset) - 1]!) || (rel.infoSection!.data[Number(x.offset) - 2] === 0x0f))
      .map((x) => `${rel.infoSection!.name}+0x${x.offset.toString(16)} -> ${x.symbol!.type === 3 ? `section ${x.symbol!.section!.name}` : x.symbol!.name}`));
  expect(jumps.length).toBeGreaterThanOrEqual(1);
  for (const j of jumps) expect(j).toMatch(/-> section \.text\./);
});

test('.isra/.constprop clones renumbered between builds correlate', () => {
  const src = (k: number) => `
struct big { int a, b, c, d; };
static noinline int use(struct big *p, int mode) { return p->a * mode + ${k}; }
int caller(struct big *p) { return use(p, 4); }`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  const changed = r.meta!.functions.map((f) => f.oldName);
  expect(changed.some((n) => n.startsWith('use'))).toBe(true);
  expect(changed).not.toContain('caller');
});

test('a reference through a section symbol equals one through the named symbol', () => {
  // The same object compiled with and without -fdata-sections names the
  // variable either way; nothing changed.
  const dir = workdir();
  const src = `static int table[4] = {1,2,3,4};\nnoinline int get(int i) { return table[i]; }\nint *addr(void) { return &table[1]; }\n`;
  const o = compile(dir, 'o', src);
  const p = compile(dir, 'p', src, ['-fno-data-sections']);
  const r = kelpDiff(o, p, join(dir, 'out.o'));
  expect(r.status).toBe(3);
});

test('a change of __LINE__ only is no change (exit 3)', () => {
  const src = (pad: string) => `noinline int check(int x) {${pad}\n  WARN_LINE(x < 0);\n  return x;\n}\n`;
  const r = diffC(src(''), src('\n\n\n'));
  expect(r.status).toBe(3);
  expect(r.stderr).toMatch(/only line numbers differ in check/);
});

/** Compiles the pair, writes the patch between the two sources with diff -u, and diffs with --patch. */
function diffWithPatch(orig: string, patched: string, args: string[] = []): ReturnType<typeof kelpDiff> {
  const dir = workdir();
  const o = compile(dir, 'orig', orig);
  const p = compile(dir, 'patched', patched);
  const u = spawnSync('diff', ['-u', '--label', 'a/x.c', '--label', 'b/x.c', join(dir, 'orig.c'), join(dir, 'patched.c')], { encoding: 'utf8' });
  expect(u.status).toBe(1);
  writeFileSync(join(dir, 'x.patch'), u.stdout);
  return kelpDiff(o, p, join(dir, 'out.o'), ['--patch', join(dir, 'x.patch'), ...args]);
}

describe('line numbers checked against the patch (--patch)', () => {
  const warn = (pad: string) => `noinline int check(int x) {${pad}\n  WARN_LINE(x < 0);\n  return x;\n}\n`;
  const value = (k: number) => `noinline int check(int x) {\n  if (x < 0) __warn_printk("bad value %d\\n", ${k});\n  return x;\n}\n`;

  test('a __LINE__ that moved with its line is no change', () => {
    const r = diffWithPatch(warn(''), warn('\n\n\n'));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/only line numbers differ in check/);
  });

  test('lines moved by a hunk elsewhere in the file (not in the function) are recognised too', () => {
    const r = diffWithPatch(`int a;\n${warn('')}`, `int a;\nint b;\nint c;\n${warn('')}`);
    expect(r.status).toBe(3);
  });

  test('a constant passed to a line-number consumer that the patch changed is a change, with the reason', () => {
    const r = diffWithPatch(value(5), value(6));
    expect(r.status).toBe(0);
    expect(r.meta!.functions.map((f) => f.name)).toEqual(['check']);
    expect(r.stderr).toMatch(/constant passed to __warn_printk changed from 5 to 6, and the patch moves no line from 5 to 6/);
  });

  test('a changed constant that happens to equal a moved line number is taken as a line only if the patch moves that line there', () => {
    // The patch adds one line above: line 3 moves to 4, but the constant goes 3 -> 5.
    const r = diffWithPatch(`int a;\n${value(3)}`, `int a;\nint b;\n${value(5)}`);
    expect(r.status).toBe(0);
  });

  test('without --patch the constant change is taken for a line move, and -v says it was not confirmed', () => {
    const r = diffC(value(5), value(6), ['-v']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/taken as __LINE__ moves without the patch to confirm them \(give --patch\)/);
  });

  test('a --patch that is not a unified diff is bad input', () => {
    const dir = workdir();
    const o = compile(dir, 'orig', value(5));
    writeFileSync(join(dir, 'junk.patch'), 'hello\n');
    const r = kelpDiff(o, o, join(dir, 'out.o'), ['--patch', join(dir, 'junk.patch')]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`kelp: ${join(dir, 'junk.patch')}: changes no existing file (not a unified diff?)`);
  });
});

test('__func__ and switch tables used by a changed function are copied, not looked up in the target', () => {
  const src = (k: number) => `
noinline int a(int x) { if (x < 0) printk("%s\\n", __func__); switch (x) { case 0: return 11; case 1: return 27; case 2: return 39; case 3: return 44; case 4: return 58; case 5: return 61; default: return x + ${k}; } }
noinline int b(int x) { if (x < 0) printk("%s\\n", __func__); return x + 2; }
`;
  const r = diffC(src(1), src(3), ['--target', 'mymod']);
  expect(r.status).toBe(0);
  expect(r.meta!.functions.map((f) => f.name)).toEqual(['a']);
  const defined = r.obj!.symbols.filter((s) => s.section !== null && s.type === 1).map((s) => s.name.replace(/\.\d+$/, '.N')).sort();
  expect(defined).toEqual(['CSWTCH.N', '__func__.N']);
  expect(undefinedNames(r).filter((n) => /__func__|CSWTCH/.test(n))).toEqual([]);
  // Unchanged copies are not reported as new data.
  expect(r.meta!.newData).toEqual([]);
});

test('once-flags and ratelimit states of a changed function are copied, not looked up in the target', () => {
  const src = (k: number) => `
noinline int a(int x) { static int __already_done; static int _rs; if (x < 0 && !__already_done) { __already_done = 1; _rs++; printk("once\\n"); } return x + ${k}; }
noinline int b(int x) { static int __already_done; if (x < 0 && !__already_done) { __already_done = 1; printk("once\\n"); } return x + 2; }
`;
  const r = diffC(src(1), src(3), ['--target', 'mymod']);
  expect(r.status).toBe(0);
  expect(r.meta!.functions.map((f) => f.name)).toEqual(['a']);
  const defined = r.obj!.symbols.filter((s) => s.section !== null && s.type === 1).map((s) => s.name.replace(/\.\d+$/, '.N')).sort();
  expect(defined).toEqual(['__already_done.N', '_rs.N']);
  expect(undefinedNames(r).filter((n) => /__already_done|_rs/.test(n))).toEqual([]);
});

test('a changed constant passed like a line number to a non-line function is still a change', () => {
  const src = (k: number) => `extern void log_value(const char *, int);\nnoinline int check(int x) { if (x < 0) log_value("v %d\\n", ${k}); return x; }\n`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
});

test('a changed function without an __fentry__ call is refused', () => {
  const src = (k: number) => `notrace noinline int raw(int x) { return x + ${k}; }\n`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/patched\.o: raw: changed, but it has no __fentry__ call/);
  expect(r.obj).toBeNull();
});

describe('a changed function without __fentry__ is replaced through its callers when it can be', () => {
  const helper = (k: number) => `static noinline notrace int helper(int x) { return x * ${k} + 1; }\n`;
  const callers = 'noinline int one(int x) { return helper(x) + 1; }\nnoinline int two(int x) { return helper(x) - 2; }\nnoinline int other(int x) { return x; }\n';

  test('a static notrace function called directly: its callers are replaced and call the patch\'s copy', () => {
    const r = diffC(helper(3) + callers, helper(5) + callers, ['--target', 'mymod']);
    expect(r.status).toBe(0);
    expect(r.meta!.functions.map((f) => f.name).sort()).toEqual(['one', 'two']);
    expect(definedFunctions(r)).toEqual(['helper', 'one', 'two']);
    expect(undefinedNames(r).filter((n) => n.includes('helper'))).toEqual([]);
    expect(r.stderr).toMatch(/changed function: one: calls helper, which changed but has no __fentry__ to be patched by itself/);
    expect(r.stderr).toMatch(/changed function: helper \(no __fentry__: replaced through its callers one, two\): code differs/);
  });

  test('through a chain: a notrace caller of a notrace function passes the change on to its own callers', () => {
    const chain = (k: number) => `static noinline notrace int inner(int x) { return x + ${k}; }\nstatic noinline notrace int middle(int x) { return inner(x) * 2; }\nnoinline int outer(int x) { return middle(x) - 1; }\n`;
    const r = diffC(chain(1), chain(4), ['--target', 'mymod']);
    expect(r.status).toBe(0);
    expect(r.meta!.functions.map((f) => f.name)).toEqual(['outer']);
    expect(definedFunctions(r)).toEqual(['inner', 'middle', 'outer']);
  });

  test.each([
    ['its address stored in data', 'int (*hook)(int) = helper;\n', /helper: changed, but it has no __fentry__ .* nor replaced through its callers: its address is stored in \.data\.hook/],
    ['its address taken in code', 'extern void keep(int (*)(int));\nnoinline void reg(void) { keep(helper); }\n', /helper: changed, but .* nor replaced through its callers: reg\+0x[0-9a-f]+ takes its address/],
  ])('refused when %s', (_what, extra, message) => {
    const r = diffC(helper(3) + callers + extra, helper(5) + callers + extra, ['--target', 'mymod']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.obj).toBeNull();
  });

  test('refused when it is global (callers in other objects)', () => {
    const src = (k: number) => `notrace noinline int shared_helper(int x) { return x * ${k}; }\nnoinline int user(int x) { return shared_helper(x); }\n`;
    const r = diffC(src(3), src(5));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/shared_helper: changed, but .* nor replaced through its callers: it is global, so callers elsewhere may call it/);
  });
});

test('jump labels: 16-byte __jump_table entries are found although the default size is 24, and kept with their keys', () => {
  const src = (k: number) => `
struct static_key key_a, key_b, key_c;
noinline int gated(int x) {
  JUMP_SITE(key_a, yes_a); x += 1;
yes_a:
  JUMP_SITE(key_b, yes_b); x *= 2;
yes_b:
  return x + ${k};
}
noinline int other(int x) {
  JUMP_SITE(key_c, yes_c); return x;
yes_c:
  return -x;
}
`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  const jt = r.obj!.sections.find((s) => s.name === '__jump_table')!;
  expect(jt.data.length).toBe(32);
  const rel = r.obj!.sections.find((s) => s.name === '.rela__jump_table')!;
  expect(rel.relocations!.map((x) => [x.offset, x.type, x.symbol?.name ?? ''])).toEqual([
    [0n, R_X86_64_PC32, 'gated'], [4n, R_X86_64_PC32, 'gated'], [8n, R_X86_64_PC64, '.klp.sym.vmlinux.key_a,0'],
    [16n, R_X86_64_PC32, 'gated'], [20n, R_X86_64_PC32, 'gated'], [24n, R_X86_64_PC64, '.klp.sym.vmlinux.key_b,0'],
  ]);
});

test('a change to __init code is refused', () => {
  const src = (k: number) => `int setup_value;\n__init int setup(void) { setup_value = ${k}; return 0; }\n`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/setup: __init\/__exit function changed/);
});

test('a change to existing data is refused, naming the variable', () => {
  const src = (k: number) => `int limits[2] = {10, ${k}};\nnoinline int lim(int i) { return limits[i]; }\n`;
  const r = diffC(src(20), src(30));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/patched\.o: limits: existing data changed/);
});

describe('a changed static read-only table that only running code reads', () => {
  // A quirk table in the style of sound/soc/amd/acp-config.c's config_table:
  // entries with strings and a pointer to other read-only data, searched by code.
  const table = (extra: string) => `
struct quirk { int vendor; int flags; const char *name; const int *limits; };
static const int small_limits[] = { 1, 2, 3 };
static const struct quirk quirks[] = {
  { 0x1022, 1, "first", small_limits },
  { 0x8086, 2, "second", 0 },${extra}
  { 0 }
};
noinline int quirk_flags(int vendor) {
  for (const struct quirk *q = quirks; q->vendor; q++) if (q->vendor == vendor) return q->flags;
  return 0;
}
noinline const char *quirk_name(int i) { return quirks[i].name; }
noinline int unrelated(int x) { return x - 7; }
`;
  const added = '\n  { 0x10ec, 4, "third", small_limits },';

  test('is carried as a new copy, and every function reading it is replaced to read the copy', () => {
    const r = diffC(table(''), table(added), ['-v']);
    expect(r.stderr).toMatch(/note: quirks: read-only table changed \(in \.rodata\.quirks\); only code of this object reads it \(quirk_flags, quirk_name\)/);
    expect(r.stderr).toMatch(/changed function: quirk_flags: reads quirks, a read-only table the patch changes/);
    expect(r.status).toBe(0);
    expect(r.meta!.functions.map((f) => f.name).sort()).toEqual(['quirk_flags', 'quirk_name']);
    expect(r.meta!.newData).toContain('quirks');
    const q = r.obj!.symbols.find((s) => s.name === 'quirks')!;
    expect(q.section).not.toBeNull();
    expect(Number(q.size)).toBe(4 * 24);
    // The new table points at the target's own unchanged data, by placeholder or copy, never at nothing.
    expect(r.stderr).not.toMatch(/cannot be live-patched/);
  });

  test.each([
    ['global (other objects may read it)', (s: string) => s.replace('static const struct quirk quirks', 'const struct quirk quirks')],
    ['writable (running state)', (s: string) => s.replace('static const struct quirk quirks', 'static struct quirk quirks')],
    ['read by __init code (what it set up stays)', (s: string) => `${s}\nvoid record_quirks(const void *);\n__init int quirk_setup(void) { record_quirks(quirks); return 0; }\n`],
    ['pointed to by data (running data keeps the old address)', (s: string) => `${s}\nconst struct quirk *current_quirks = quirks;\n`],
  ])('is refused when it is %s', (_why, edit) => {
    const r = diffC(edit(table('')), edit(table(added)));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/quirks: existing data changed/);
  });

  test('a table pointing at another object\'s symbol (maybe a function) is refused', () => {
    const withCallback = (n: number) => `
struct cb_quirk { int vendor; int (*cb)(int); };
extern int vendor_fixup(int);
static const struct cb_quirk cb_quirks[] = { { ${n}, vendor_fixup }, { 0 } };
noinline int cb_quirk_run(int i, int v) { return cb_quirks[i].vendor == v ? cb_quirks[i].cb(v) : 0; }
`;
    const r = diffC(withCallback(1), withCallback(2));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cb_quirks: existing data changed/);
  });

  test('an ops table (function pointers) is refused: its address is what running code registers', () => {
    const ops = (n: number) => `
struct demo_ops { int (*open)(int); int (*release)(int); int mode; };
static noinline int demo_open(int x) { return x + 1; }
static noinline int demo_release(int x) { return x - 1; }
static const struct demo_ops dops = { demo_open, demo_release, ${n} };
noinline const struct demo_ops *get_ops(void) { return &dops; }
`;
    const r = diffC(ops(1), ops(2));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/dops: existing data changed/);
  });
});

test('a changed device-ID table (MODULE_DEVICE_TABLE) is refused as such, once, under the table\'s name', () => {
  // What MODULE_DEVICE_TABLE(pci, demo_ids) expands to: an alias modpost reads the IDs from.
  const src = (dev: string) => `
struct pci_device_id { unsigned int vendor, device, subvendor, subdevice, class, class_mask; unsigned long driver_data; };
static const struct pci_device_id demo_ids[] = { { 0x8086, ${dev}, ~0u, ~0u, 0, 0, 0 }, { 0 } };
extern typeof(demo_ids) __mod_pci__demo_ids_device_table __attribute__((unused, alias("demo_ids")));
noinline const void *demo_table(void) { return demo_ids; }
`;
  const r = diffC(src('0x1234'), src('0x5678'));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/patched\.o: demo_ids: device-ID table changed \(MODULE_DEVICE_TABLE\(pci, demo_ids\), in \.rodata\.demo_ids\)/);
  expect(r.stderr).not.toMatch(/__mod_pci__demo_ids_device_table/);
  expect(r.stderr).not.toMatch(/existing data changed/);
});

test('__bug_table and __ex_table keep only the entries of included functions', () => {
  const src = (k: number) => `
noinline int f1(int x) { if (x == 5) BUG_SITE(); EX_SITE(); return x + ${k}; }
noinline int f2(int x) { if (x == 6) BUG_SITE(); EX_SITE(); return x - 1; }
noinline int f3(int x) { if (x == 7) BUG_SITE(); EX_SITE(); return x * 9; }`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  const bug = r.obj!.sections.find((s) => s.name === '__bug_table')!;
  const ex = r.obj!.sections.find((s) => s.name === '__ex_table')!;
  expect(bug.size).toBe(12);
  expect(ex.size).toBe(12);
  const rela = r.obj!.sections.find((s) => s.name === '.rela__bug_table')!;
  expect(rela.relocations!.map((x) => x.symbol?.name)).toContain('f1');
});

test('.discard.* sections and .kpatch markers are dropped', () => {
  const src = (k: number) => `noinline int f(int x) { asm volatile(".pushsection .discard.reachable\\n.long 0\\n.popsection"); return x + ${k}; }\n`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  expect(r.obj!.sections.some((s) => s.name.startsWith('.discard'))).toBe(false);
});

test('.printk_index keeps the entries of included functions, each with its own copy of the record', () => {
  const src = (k: number, extra = '') => `
noinline int f1(int x) { pk("f1 says %d\\n", x); return x + ${k}; }
noinline int f2(int x) { pk("f2 says %d\\n", x); return x - 1; }
${extra}`;
  const r = diffC(src(1), src(2, 'noinline int f3(int x) { pk("f3 says %d\\n", x); return f1(x); }'));
  expect(r.status).toBe(0);
  const pi = r.obj!.sections.find((s) => s.name === '.printk_index')!;
  expect(pi).toBeDefined();
  expect(pi.size).toBe(16);
  const rela = r.obj!.sections.find((s) => s.name === '.rela.printk_index')!;
  const records = rela.relocations!.map((x) => x.symbol!);
  // Each entry points at a record defined in the output (not at the target's through .klp.sym).
  expect(records.every((s) => s.section !== null)).toBe(true);
  const funcOf = (rec: (typeof records)[number]) => {
    const relaRec = r.obj!.sections.find((s) => s.name === `.rela${rec.section!.name}`)!;
    const f = relaRec.relocations!.find((x) => Number(x.offset) === Number(rec.value) + 8)!;
    const str = f.symbol!.section!;
    const at = Number(f.symbol!.value) + Number(f.addend);
    return str.data.toString('latin1', at, str.data.indexOf(0, at));
  };
  expect(records.map(funcOf).sort()).toEqual(['f1', 'f3']);
  expect(undefinedNames(r).filter((n) => n.includes('_entry'))).toEqual([]);
  expect(r.meta!.newData.filter((n) => n.includes('_entry'))).toEqual([]);
});

test('.kpatch.* marker sections never reach the output', () => {
  const src = (k: number) => `
noinline int keep(int x) { return x + ${k}; }
noinline int skip(int x) { return x * ${k}; }
KPATCH_IGNORE_FUNCTION(skip);
static int pre(void *obj) { return 0; }
KPATCH_PRE_PATCH_CALLBACK(pre);
`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  expect(r.obj!.sections.filter((s) => s.name.startsWith('.kpatch') || s.name.startsWith('.rela.kpatch')).map((s) => s.name)).toEqual([]);
  expect(definedFunctions(r)).toEqual(['keep', 'pre']);
});

test('code that points into a .kpatch.* section is refused rather than copying the marker section', () => {
  const src = (k: number) => `static int marker __attribute__((used, section(".kpatch.data"))) = 1;\nnoinline int f(int x) { return x + marker + ${k}; }\n`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/\.kpatch\.data, a kpatch marker section that never reaches the output/);
});

test('KPATCH_IGNORE_FUNCTION: the function\'s changes are ignored', () => {
  const src = (k: number, j: number) => `noinline int keep(int x) { return x + ${k}; }\nnoinline int skip(int x) { return x * ${j}; }\n`;
  const r = diffC(src(1, 2), `${src(5, 3)}KPATCH_IGNORE_FUNCTION(skip);\n`);
  expect(r.status).toBe(0);
  expect(definedFunctions(r)).toEqual(['keep']);
});

test('KPATCH_IGNORE_SECTION: the section\'s changes are ignored', () => {
  const src = (k: number, j: number) => `noinline int keep(int x) { return x + ${k}; }\nnoinline int skip(int x) { return x * ${j}; }\n`;
  const r = diffC(src(1, 2), `${src(5, 3)}KPATCH_IGNORE_SECTION(".text.skip");\n`);
  expect(r.status).toBe(0);
  expect(definedFunctions(r)).toEqual(['keep']);
});

test('callbacks are recorded in the metadata and their functions defined', () => {
  const src = (k: number) => `noinline int f(int x) { return x + ${k}; }\n`;
  const r = diffC(src(1), `${src(2)}static int before(void *obj) { return 0; }\nKPATCH_PRE_PATCH_CALLBACK(before);\n`);
  expect(r.status).toBe(0);
  expect(r.meta!.callbacks).toEqual({ prePatch: 'before' });
  expect(definedFunctions(r)).toContain('before');
  expect(r.obj!.sections.some((s) => s.name.startsWith('.kpatch'))).toBe(false);
});

test('placeholders for static and non-exported symbols, ordinary references for exported ones', () => {
  const dir = workdir();
  const symvers = join(dir, 'Module.symvers');
  writeFileSync(symvers, '0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n0x12345679\tshared_counter\tvmlinux\tEXPORT_SYMBOL_GPL\t\n');
  const src = (k: number) => `${BASE}\nextern int internal_thing(void);\nnoinline int user(int x) { printk("%d", x); return helper(x) + internal_thing() + ${k}; }\n`;
  const o = compile(dir, 'orig', src(1));
  const p = compile(dir, 'patched', src(2));
  const r = kelpDiff(o, p, join(dir, 'out.o'), ['--symvers', symvers]);
  expect(r.status).toBe(0);
  const u = undefinedNames(r);
  expect(u).toContain('printk');
  expect(u).toContain('.klp.sym.vmlinux.helper,0');
  expect(u).toContain('.klp.sym.vmlinux.internal_thing,0');
  expect(r.meta!.klpSymbols.map((k) => k.name).sort()).toEqual(expect.arrayContaining(['helper', 'internal_thing', '__fentry__']));
});

describe('module target: which object an undefined symbol belongs to', () => {
  const src = (k: number) => `extern char *saved_command_line;\nextern int mod_helper(int);\nint mod_state;\nnoinline int modfn(int x) { return saved_command_line[x] + mod_helper(x) + mod_state + ${k}; }\n`;
  function run(args: (dir: string) => string[]) {
    const dir = workdir();
    const symvers = join(dir, 'Module.symvers');
    writeFileSync(symvers, '0x12345678\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n');
    const o = compile(dir, 'orig', src(1));
    const p = compile(dir, 'patched', src(2));
    return kelpDiff(o, p, join(dir, 'out.o'), ['--target', 'my-mod', '--symvers', symvers, ...args(dir)]);
  }
  test('a non-exported vmlinux symbol is .klp.sym.vmlinux, the module\'s own data .klp.sym.<module>', () => {
    const r = run(() => []);
    expect(r.status).toBe(0);
    const u = undefinedNames(r);
    expect(u).toContain('.klp.sym.vmlinux.saved_command_line,0');
    expect(u).toContain('.klp.sym.my_mod.mod_state,0');
    expect(u).toContain('__fentry__');
    expect(u.filter((n) => n.startsWith('.klp.sym.my_mod.saved_command_line'))).toEqual([]);
    expect(r.meta!.klpSymbols).toEqual(expect.arrayContaining([{ placeholder: '.klp.sym.vmlinux.saved_command_line,0', object: 'vmlinux', name: 'saved_command_line', sympos: 0 }]));
  });
  test('the module\'s symbol table places a symbol of another object of the module in the module', () => {
    // The module's table (readelf -s of the .ko): mod_helper is defined there, saved_command_line is not.
    const text = [
      "Symbol table '.symtab' contains 6 entries:",
      '   Num:    Value          Size Type    Bind   Vis      Ndx Name',
      '     0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND ',
      '     1: 0000000000000000    10 FUNC    GLOBAL DEFAULT    2 modfn',
      '     2: 0000000000000010    10 FUNC    GLOBAL DEFAULT    2 mod_helper',
      '     3: 0000000000000000     4 OBJECT  GLOBAL DEFAULT    4 mod_state',
      '     4: 0000000000000000     0 NOTYPE  GLOBAL DEFAULT  UND saved_command_line',
      '     5: 0000000000000000     0 NOTYPE  GLOBAL DEFAULT  UND __fentry__',
    ].join('\n');
    const r = run((dir) => { const f = join(dir, 'mod.syms'); writeFileSync(f, `${text}\n`); return ['--symbols', f]; });
    expect(r.status).toBe(0);
    const u = undefinedNames(r);
    expect(u).toContain('.klp.sym.vmlinux.saved_command_line,0');
    expect(u).toContain('.klp.sym.my_mod.mod_helper,0');
  });
  test('a vmlinux System.map confirms vmlinux; a name it lacks belongs to the module', () => {
    const r = run((dir) => { const f = join(dir, 'System.map'); writeFileSync(f, 'ffffffff81000000 T _text\nffffffff82000000 D saved_command_line\n'); return ['--symbols', f]; });
    expect(r.status).toBe(0);
    const u = undefinedNames(r);
    expect(u).toContain('.klp.sym.vmlinux.saved_command_line,0');
    expect(u).toContain('.klp.sym.my_mod.mod_helper,0');
  });
});

describe('sympos', () => {
  const src = (k: number) => `static noinline int dup(int x) { return x + 11; }\nnoinline int user(int x) { return dup(x) + ${k}; }\n`;
  const map = (lines: string[]) => lines.map((l, i) => `${(0xffffffff81000000 + i * 16).toString(16)} ${l}`).join('\n') + '\n';
  function run(mapLines: string[] | null, symbolsText?: string) {
    const dir = workdir();
    const o = compile(dir, 'orig', src(1));
    const p = compile(dir, 'patched', src(2));
    const file = join(dir, 'System.map');
    writeFileSync(file, symbolsText ?? map(mapLines!));
    return kelpDiff(o, p, join(dir, 'out.o'), ['--symbols', file]);
  }
  test('unique name: 0', () => {
    const r = run(['T _text', 't dup', 'T user', 'T __fentry__']);
    expect(r.status).toBe(0);
    expect(undefinedNames(r)).toContain('.klp.sym.vmlinux.dup,0');
  });
  test('duplicated name: the one among the object\'s own neighbours', () => {
    const far = Array.from({ length: 20 }, (_, i) => `t unrelated_${i}`);
    const r = run(['t dup', ...far, 'T _text', 't dup', 'T user', 'T __fentry__']);
    expect(r.status).toBe(0);
    expect(undefinedNames(r)).toContain('.klp.sym.vmlinux.dup,2');
  });
  test('undecidable: refused, listing the candidates', () => {
    const r = run(['t dup', 't a', 't b', 't c', 't d', 't e', 't f', 't g', 't h', 't i', 't dup', 'T __fentry__']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/which of the target's symbols named dup.*dup,1.*dup,2/);
  });
  test('FILE symbols of an ELF/readelf table decide', () => {
    const text = [
      "Symbol table '.symtab' contains 6 entries:",
      '   Num:    Value          Size Type    Bind   Vis      Ndx Name',
      '     0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND ',
      '     1: 0000000000000000     0 FILE    LOCAL  DEFAULT  ABS other.c',
      '     2: 0000000000000000    10 FUNC    LOCAL  DEFAULT    1 dup',
      '     3: 0000000000000000     0 FILE    LOCAL  DEFAULT  ABS orig.c',
      '     4: 0000000000000010    10 FUNC    LOCAL  DEFAULT    1 dup',
      '     5: 0000000000000020    10 FUNC    GLOBAL DEFAULT    1 user',
    ].join('\n');
    const r = run(null, `${text}\n`);
    expect(r.status).toBe(0);
    expect(undefinedNames(r)).toContain('.klp.sym.vmlinux.dup,2');
  });
});

test('deterministic: two runs give byte-identical output', () => {
  const dir = workdir();
  const o = compile(dir, 'orig', BASE);
  const p = compile(dir, 'patched', `${BASE.replace('helper(x) + 1', 'helper(x) + 9')}\nint fresh = 3;\nint usefresh(void) { return fresh; }\n`);
  const a = kelpDiff(o, p, join(dir, 'a.o'));
  const b = kelpDiff(o, p, join(dir, 'b.o'));
  expect(a.status).toBe(0);
  expect(b.status).toBe(0);
  expect(readFileSync(join(dir, 'a.o')).equals(readFileSync(join(dir, 'b.o')))).toBe(true);
});

describe('bad input: exit 1, one line naming the file', () => {
  test('not an ELF file', () => {
    const dir = workdir();
    const bad = join(dir, 'bad.o');
    writeFileSync(bad, 'hello, not elf\n');
    const o = compile(dir, 'orig', BASE);
    const r = spawnSync('node', [KELP, 'diff', o, bad, '-o', join(dir, 'out.o')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^kelp: ${bad}: `));
    expect(existsSync(join(dir, 'out.o'))).toBe(false);
  });
  test('a truncated object', () => {
    const dir = workdir();
    const o = compile(dir, 'orig', BASE);
    const cut = join(dir, 'cut.o');
    writeFileSync(cut, readFileSync(o).subarray(0, 200));
    const r = spawnSync('node', [KELP, 'diff', cut, o, '-o', join(dir, 'out.o')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^kelp: ${cut}: `));
  });
  // Objects are read on demand: the parts read later (relocations, section contents) are checked as strictly.
  function corrupt(edit: (buf: Buffer, elf: ElfFile) => void): DiffRunLike {
    const dir = workdir();
    const o = compile(dir, 'orig', BASE);
    const bad = join(dir, 'bad.o');
    const buf = readFileSync(o);
    edit(buf, ElfFile.parse(buf, o));
    writeFileSync(bad, buf);
    const r = spawnSync('node', [KELP, 'diff', o, bad, '-o', join(dir, 'out.o')], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr, bad, out: join(dir, 'out.o') };
  }
  test('a relocation naming a symbol past the symbol table', () => {
    const r = corrupt((buf, elf) => {
      const rela = elf.sections.find((s) => s.sh_type === 4 && elf.sectionName(s) === '.rela.text.compute')!;
      buf.writeUInt32LE(0xfffff, rela.sh_offset + 12);
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^kelp: ${r.bad}: relocation section \\d+ \\(\\.rela\\.text\\.compute\\) at offset 0x[0-9a-f]+: entry 0 names symbol 1048575, past the symbol count`));
    expect(existsSync(r.out)).toBe(false);
  });
  test('section contents past the end of the file', () => {
    const r = corrupt((buf, elf) => {
      const text = elf.sections.find((s) => elf.sectionName(s) === '.text.other')!;
      buf.writeUInt32LE(buf.length, text.headerOffset + 0x18);
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/extend past the end of the file/);
  });
});

interface DiffRunLike { status: number | null; stderr: string; bad: string; out: string }

test('objtool\'s annotations (.discard.reachable) of included code are kept, by section symbol, and the others dropped', () => {
  // What WARN's ASM_REACHABLE writes after its ud2; objtool reads it on a 6.12 module's link.
  const src = (k: number) => `
#define REACHABLE() asm volatile("998:\\n\\t.pushsection .discard.reachable\\n\\t.long 998b\\n\\t.popsection\\n\\t")
noinline int warned(int x) { if (x > ${k}) { REACHABLE(); return x + 1; } return x; }
noinline int quiet(int x) { if (x > 7) { REACHABLE(); return x - 1; } return x; }`;
  const r = diffC(src(1), src(2));
  expect(r.status).toBe(0);
  expect(r.meta!.functions.map((f) => f.name)).toEqual(['warned']);
  const sec = r.obj!.sections.find((s) => s.name === '.discard.reachable');
  expect(sec?.data.length).toBe(4);
  const rel = r.obj!.sections.find((s) => s.isRelocation && s.infoSection === sec)!;
  expect(rel.relocations!.map((x) => [x.symbol!.type, x.symbol!.section!.name])).toEqual([[3, '.text.warned']]);
});
