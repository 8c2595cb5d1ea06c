/**
 * CONFIG_CALL_PADDING (Linux 6.2+, Debian's 6.12): gcc's
 * -fpatchable-function-entry=16,16 puts 16 NOPs in front of every function
 * and records them in __patchable_function_entries; objtool --prefix=16
 * names them `__pfx_<function>` (module objects; vmlinux objects get it at
 * the vmlinux.o link). The padding and the prefix symbol travel with their
 * function; the table keeps the entries of included functions only, linked
 * (SHF_LINK_ORDER) to a section the output has. gcc 12 links every entry
 * of an object to its first function's section (one merged table), so the
 * table must survive when that first function is not in the patch.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CFLAGS, kelpDiff, workdir } from './support.js';
import { SHF_LINK_ORDER } from '../../elf/constants.js';

const PAD = ['-fcf-protection=branch', '-fpatchable-function-entry=16,16'];

/** gcc -S, then the `__pfx_` symbols objtool --prefix=16 adds (FUNC, size 16, the function's binding), then as. */
function compilePadded(dir: string, name: string, source: string): string {
  const c = join(dir, `${name}.c`);
  const s = join(dir, `${name}.s`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, source);
  execFileSync('gcc', [...CFLAGS, ...PAD, '-S', c, '-o', s]);
  const asm = readFileSync(s, 'utf8');
  const globals = new Set([...asm.matchAll(/^\t\.globl\t(\w+)$/gm)].map((m) => m[1]));
  // The padding label (.LPFEn) precedes the NOPs; the function label follows them.
  const out = asm.replace(/^(\.LPFE\d+):\n((?:\tnop\n){16})(?:\t\.type\t(\w+), @function\n)?(\w+):/gm, (_m, lpfe: string, nops: string, _t: string, fn: string) => {
    const bind = globals.has(fn) ? `\t.globl\t__pfx_${fn}\n` : '';
    return `${lpfe}:\n${bind}\t.type\t__pfx_${fn}, @function\n__pfx_${fn}:\n${nops}\t.size\t__pfx_${fn}, 16\n\t.type\t${fn}, @function\n${fn}:`;
  });
  expect(out).not.toBe(asm);
  writeFileSync(s, out);
  execFileSync('as', [s, '-o', o]);
  return o;
}

const SRC = (bar: string): string => `
extern int printk(const char *fmt, ...);
int foo(int x) { return x * 3 + 1; }
static __attribute__((noinline)) int helper(int x) { return x ^ 0x55; }
int bar(int x) { ${bar} }
int baz(int x) { return x - 1; }
`;

describe('call padding and __pfx_ symbols', () => {
  const dir = workdir();
  const o = compilePadded(dir, 'orig', SRC('return helper(x) + 2;'));
  const p = compilePadded(dir, 'patched', `${SRC('printk("bar %d\\n", x); return helper(x) + 3;')}\nint fresh(int x) { return bar(x) * 2; }\n`);
  const r = kelpDiff(o, p, join(dir, 'out.o'));

  test('the objects are what an IBT, call-padding kernel compiles', () => {
    const text = execFileSync('objdump', ['-d', o], { encoding: 'utf8' });
    expect(text).toMatch(/<__pfx_bar>:\n(?:.*\bnop\n){16}\n[0-9a-f]+ <bar>:\n.*endbr64/);
    const sections = execFileSync('readelf', ['-SW', o], { encoding: 'utf8' });
    // gcc 12: one table for the whole object, linked to foo's section.
    expect(sections.match(/\] __patchable_function_entries /g)).toHaveLength(1);
  });

  test('the changed and the new function come with their padding and __pfx_ symbols', () => {
    expect(r.status).toBe(0);
    const obj = r.obj!;
    for (const fn of ['bar', 'fresh']) {
      const f = obj.symbols.find((s) => s.name === fn)!;
      const pfx = obj.symbols.find((s) => s.name === `__pfx_${fn}`)!;
      expect(pfx).toBeDefined();
      expect(pfx.section).toBe(f.section);
      expect(pfx.value + 16n).toBe(f.value);
      expect(pfx.size).toBe(16n);
      expect(pfx.bind).toBe(f.bind);
      const data = f.section!.data;
      expect(data.subarray(Number(pfx.value), Number(f.value))).toEqual(Buffer.alloc(16, 0x90));
      expect(data.subarray(Number(f.value), Number(f.value) + 4)).toEqual(Buffer.from([0xf3, 0x0f, 0x1e, 0xfa]));
    }
    expect(obj.symbols.some((s) => s.name === '__pfx_foo' || s.name === '__pfx_baz' || s.name === 'foo')).toBe(false);
  });

  test('__patchable_function_entries keeps the included functions\' entries, linked to a section of the output', () => {
    const obj = r.obj!;
    const table = obj.sections.find((s) => s.name === '__patchable_function_entries')!;
    expect(table).toBeDefined();
    expect(table.flags & SHF_LINK_ORDER).not.toBe(0);
    expect(table.link).not.toBeNull();
    expect(['bar', 'fresh'].map((n) => obj.symbols.find((s) => s.name === n)!.section)).toContain(table.link);
    const rel = obj.sections.find((s) => s.name === '.rela__patchable_function_entries')!;
    const readelf = execFileSync('readelf', ['-rW', r.out], { encoding: 'utf8' });
    const entries = readelf.split(/Relocation section '/).find((t) => t.startsWith('.rela__patchable_function_entries'))!;
    expect(rel).toBeDefined();
    expect(table.data.length).toBe(16);
    expect(entries).toMatch(/R_X86_64_64\s+0+\s+(?:__pfx_bar|\.text\.bar) \+ 0/);
    expect(entries).toMatch(/R_X86_64_64\s+0+\s+(?:__pfx_fresh|\.text\.fresh) \+ 0/);
  });
});

describe('call padding does not make a notrace function traceable', () => {
  // SYSCALL_DEFINE's __do_sys_* on 6.12: the kernel's inline is notrace (no __fentry__), yet the
  // padding is recorded in __patchable_function_entries like every function's.
  const dir = workdir();
  const src = (k: number) => `static __attribute__((noinline, no_instrument_function)) int body(int x) { return x * ${k} + 1; }
int entry_one(int x) { return body(x) + 1; }
int entry_two(int x) { return body(x) - 2; }
`;
  const o = compilePadded(dir, 'orig', src(3));
  const p = compilePadded(dir, 'patched', src(5));
  const r = kelpDiff(o, p, join(dir, 'out.o'));

  test('the notrace body has a padding entry and no __fentry__ call', () => {
    const rel = execFileSync('readelf', ['-rW', o], { encoding: 'utf8' });
    expect(rel.split(/Relocation section '/).find((t) => t.startsWith('.rela__patchable_function_entries'))).toMatch(/(?:__pfx_body|\.text\.body) \+ 0/);
    expect(execFileSync('objdump', ['-dr', o], { encoding: 'utf8' })).not.toMatch(/<body>:\n(?:.*\n){0,3}.*__fentry__/);
  });

  test('the changed body is replaced through its callers', () => {
    expect([r.status, r.stderr]).toEqual([0, expect.stringMatching(/changed function: body \(no __fentry__: replaced through its callers entry_one, entry_two\)/)]);
    expect(r.meta!.functions.map((f) => f.name).sort()).toEqual(['entry_one', 'entry_two']);
  });
});
