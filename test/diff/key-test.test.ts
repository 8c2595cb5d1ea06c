/**
 * Jump labels keyed in the target module: the site leaves the livepatch's
 * __jump_table and jumps to a test of the key kelp appends to its function
 * (src/diff/key-test.ts). Small C pairs compiled here (support.ts); the VM
 * proof is test/build/module-keys.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, kelpDiff, workdir, type DiffRun } from './support.js';
import type { DiffReport } from '../../src/diff/report.js';
import { ElfObject, type Section } from '../../elf/model.js';

const JUMP16 = ['--target', 'mymod', '--entry-size', '__jump_table=16'];

/** A site: `nop5` (JUMP_SITE's), or a `jmp` the assembler sizes; the key field's low bits (`bits`: the branch bit and objtool's hack bit). */
const site = (form: 'nop5' | 'jmp', bits = 0) => `asm goto("1: ${form === 'nop5' ? '.byte 0x0f,0x1f,0x44,0x00,0x00' : 'jmp %l[yes]'}\\n.pushsection __jump_table,\\"aw\\"\\n.balign 8\\n.long 1b - .\\n.long %l[yes] - .\\n.quad %c0 + ${bits} - .\\n.popsection" :: "i"(&mod_key) :: yes)`;

const gated = (s: string, body = '') => (k: number) => `
struct static_key mod_key;
noinline int gated(int x) {
  ${s}; x += 1;${body}
yes:
  return x + ${k};
}
`;

function diff(src: (k: number) => string): DiffRun & { report: DiffReport } {
  const dir = workdir();
  const r = kelpDiff(compile(dir, 'orig', src(1)), compile(dir, 'patched', src(2)), join(dir, 'out.o'), [...JUMP16, '--json', join(dir, 'r.json')]);
  return { ...r, report: JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as DiffReport };
}

function text(obj: ElfObject): Section {
  return obj.sections.find((s) => s.name === '.text.gated')!;
}

/** The relocations of the output's .text.gated, as `offset type symbol addend`. */
function relocs(obj: ElfObject): string[] {
  const rela = obj.sections.find((s) => s.isRelocation && s.infoSection === text(obj))!;
  return rela.relocations!.map((r) => `${r.offset} ${r.type} ${r.symbol ? r.symbol.name || r.symbol.section!.name : '-'} ${r.addend}`);
}

/** The offsets of the jmps of `length` bytes (e9 rel32, eb rel8) before `end` that go to `end`. */
function jumpsTo(code: Buffer, end: number, length: 2 | 5): number[] {
  const out: number[] = [];
  for (let at = 0; at + length <= end; at++) {
    if (length === 5 && code[at] === 0xe9 && at + 5 + code.readInt32LE(at + 1) === end) out.push(at);
    if (length === 2 && code[at] === 0xeb && at + 2 + code.readInt8(at + 1) === end) out.push(at);
  }
  return out;
}

test.each([
  ['a 5-byte NOP site, branch bit clear: jne', 'nop5', 0, 0x85, 5],
  ['a 5-byte NOP site, branch bit set (static_branch_likely on a true key): je', 'nop5', 1, 0x84, 5],
  ['a 2-byte jmp site (objtool\'s hack bit set as well): a short jmp to the test', 'jmp', 3, 0x84, 2],
] as const)('%s', (_what, form, bits, jcc, length) => {
  const r = diff(gated(site(form, bits)));
  expect([r.status, r.report.refusals]).toEqual([0, []]);
  expect(r.stderr).toMatch(/gated\+0x[0-9a-f]+: jump label of module mymod \(key mod_key\) left out of the livepatch's table: the patched code tests the key at run time/);
  const jt = r.obj!.sections.find((s) => s.name === '__jump_table');
  expect(jt === undefined || jt.data.length === 0).toBe(true);
  const code = text(r.obj!).data;
  const end = code.length - 18;
  // The test: cmpl $0, key(%rip); jcc target; jmp back.
  expect([...code.subarray(end, end + 2), code[end + 6], code[end + 7], code[end + 8], code[end + 13]]).toEqual([0x83, 0x3d, 0, 0x0f, jcc, 0xe9]);
  const sites = jumpsTo(code, end, length);
  expect(sites).toHaveLength(1);
  const at = sites[0];
  expect(end + 18 + code.readInt32LE(end + 14)).toBe(at + length);
  // The key by a .klp.sym placeholder (the flag bits dropped, -5 for the field's place in its instruction); the target by the function.
  const rs = relocs(r.obj!);
  expect(rs).toContain(`${end + 2} 2 .klp.sym.mymod.mod_key,0 -5`);
  expect(rs.filter((x) => x.startsWith(`${end + 9} 2 gated `))).toHaveLength(1);
  // No relocation is left in the site's bytes.
  expect(rs.filter((x) => { const o = Number(x.split(' ')[0]); return o >= at && o < at + length; })).toEqual([]);
  // The function covers its test.
  const fn = r.obj!.symbols.find((s) => s.name === 'gated')!;
  expect(Number(fn.value + fn.size)).toBe(code.length);
});

test('the test jumps where the entry\'s target is: a cold part in another section, reached by a relocation; the site\'s own relocation is dropped', () => {
  const r = diff((k) => `
struct static_key mod_key;
noinline int gated(int x) {
  ${site('jmp')};
  return x + ${k};
yes:
  do_report("on"); do_report("again");
  return -${k};
}
`);
  expect([r.status, r.report.refusals]).toEqual([0, []]);
  const code = text(r.obj!).data;
  const end = code.length - 18;
  const rs = relocs(r.obj!);
  const target = rs.find((x) => x.startsWith(`${end + 9} 2 `))!;
  expect(target).toMatch(/ gated\.cold -4$| \.text\.unlikely\.gated -?\d+$/);
  // The site is a 5-byte jmp to the test, with no relocation of its own any more.
  const sites = jumpsTo(code, end, 5);
  expect(sites).toHaveLength(1);
  const at = sites[0];
  expect(rs.filter((x) => { const o = Number(x.split(' ')[0]); return o >= at && o < at + 5; })).toEqual([]);
});

test('a 2-byte site beyond a short jmp\'s reach of the function\'s end: the next instruction moves into the test to make room for a 5-byte jmp', () => {
  const r = diff((k) => `
struct static_key mod_key;
extern int counter;
noinline int gated(int x) {
  ${site('jmp')};
  x += counter;
yes:
  asm volatile(".fill 200, 1, 0x90");
  return x + ${k};
}
`);
  expect([r.status, r.report.refusals]).toEqual([0, []]);
  const code = text(r.obj!).data;
  // The test holds the moved instruction (add counter(%rip), %edi: 03 3d + disp32) between the jcc and the jmp back.
  const end = code.length - 24;
  const sites = jumpsTo(code, end, 5);
  expect(sites).toHaveLength(1);
  const at = sites[0];
  // The window: the 2-byte site and the 6-byte add, now a jmp and int3 up to the add's end, where the test returns.
  expect([...code.subarray(at + 5, at + 8)]).toEqual([0xcc, 0xcc, 0xcc]);
  expect([...code.subarray(end, end + 2), code[end + 8], code[end + 13], code[end + 14], code[end + 19]]).toEqual([0x83, 0x3d, 0x85, 0x03, 0x3d, 0xe9]);
  expect(end + 24 + code.readInt32LE(end + 20)).toBe(at + 8);
  // The moved instruction's relocation moved with it.
  const rs = relocs(r.obj!);
  expect(rs).toContain(`${end + 15} 2 .klp.sym.vmlinux.counter,0 -4`);
  expect(rs.filter((x) => { const o = Number(x.split(' ')[0]); return o >= at && o < at + 8; })).toEqual([]);
  const fn = r.obj!.symbols.find((s) => s.name === 'gated')!;
  expect(Number(fn.value + fn.size)).toBe(code.length);
});

test('a 2-byte site beyond a short jmp\'s reach with no instruction next to it that can move (calls) is refused, saying so', () => {
  const near = diff((k) => `
struct static_key mod_key;
noinline int gated(int x) {
  asm volatile("call do_report");
  ${site('jmp')};
  asm volatile("call do_report");
  x += 1;
yes:
  asm volatile(".fill 200, 1, 0x90");
  return x + ${k};
}
`);
  expect(near.status).toBe(2);
  expect(near.report.refusals).toHaveLength(1);
  const [x] = near.report.refusals;
  expect(x.category).toBe('jump-label-key-in-module');
  expect(x.where).toMatch(/gated\+0x/);
  expect(x.reason).toMatch(/this 2-byte site lies \d+ bytes before the end of its function, beyond a short jmp's reach of 127 to a run-time test of the key, with no instructions next to it that kelp can move out of the way/);
  expect(x.advice).toMatch(/static_key_enabled\(\)/);
});

test('a tracepoint\'s 2-byte site with no room for its test stays off instead: objtool\'s NOP, no table entry, a warning naming it', () => {
  const tp = (k: number) => `
struct static_key __tracepoint_kelp_ev;
noinline int gated(int x) {
  asm volatile("call do_report");
  ${site('jmp', 2).replace('&mod_key', '&__tracepoint_kelp_ev')};
  asm volatile("call do_report");
  x += 1;
yes:
  asm volatile(".fill 200, 1, 0x90");
  return x + ${k};
}
`;
  const r = diff(tp);
  expect([r.status, r.report.refusals]).toEqual([0, []]);
  expect(r.stderr).toMatch(/gated\+0x([0-9a-f]+): tracepoint site of module mymod \(key __tracepoint_kelp_ev\) stays off in the patched code: the livepatch cannot use the module's key, and this 2-byte site lies \d+ bytes before the end/);
  const at = parseInt(/gated\+0x([0-9a-f]+): tracepoint site/.exec(r.stderr)![1], 16);
  const code = text(r.obj!).data;
  expect([...code.subarray(at, at + 2)]).toEqual([0x66, 0x90]);
  const jt = r.obj!.sections.find((x) => x.name === '__jump_table');
  expect(jt === undefined || jt.data.length === 0).toBe(true);
  expect(r.obj!.symbols.some((x) => x.name.includes('__tracepoint_kelp_ev'))).toBe(false);
  // A plain key of the module in the same place is still refused (the previous test); so is a tracepoint
  // site whose branch bit is set, where a NOP would not be "off".
  const likely = diff((k) => tp(k).replace(' + 2 - .', ' + 3 - .'));
  expect(likely.report.refusals.map((x) => x.category)).toEqual(['tracepoint']);
});

test('a window may move a rel32 jcc before the site: its copy in the test is re-aimed at the same place', () => {
  // cmp; jne out (rel32, no relocation); the 2-byte site, whose target `yes` follows it (so nothing after it can move).
  const src = (k: number) => `
struct static_key mod_key;
noinline int gated(int x) {
  asm goto("cmpl $8, %0\\n.byte 0x0f,0x85\\n.long %l[out] - . - 4\\n1: jmp %l[yes]\\n.pushsection __jump_table,\\"aw\\"\\n.balign 8\\n.long 1b - .\\n.long %l[yes] - .\\n.quad %c1 - .\\n.popsection" :: "r"(x), "i"(&mod_key) :: yes, out);
yes:
  asm volatile(".fill 200, 1, 0x90");
  return x + ${k};
out:
  return -${k};
}
`;
  const dir = workdir();
  const patched = compile(dir, 'patched', src(2));
  const r = kelpDiff(compile(dir, 'orig', src(1)), patched, join(dir, 'out.o'), [...JUMP16]);
  expect(r.status).toBe(0);
  const before = ElfObject.read(readFileSync(patched), patched).sections.find((s) => s.name === '.text.gated')!.data;
  const jcc = before.indexOf(Buffer.from([0x0f, 0x85]));
  const out = jcc + 6 + before.readInt32LE(jcc + 2);
  const code = text(r.obj!).data;
  // The test: the moved jne, then cmpl, jne/je, jmp back; 6 + 18 bytes at the end.
  const end = code.length - 24;
  expect(jumpsTo(code, end, 5)).toEqual([jcc]);
  expect([code[end], code[end + 1], code[end + 6], code[end + 7]]).toEqual([0x0f, 0x85, 0x83, 0x3d]);
  expect(end + 6 + code.readInt32LE(end + 2)).toBe(out);
  expect(end + 24 + code.readInt32LE(end + 20)).toBe(jcc + 8);
});
