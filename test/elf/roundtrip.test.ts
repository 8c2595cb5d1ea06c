/**
 * Reading a real object and writing it back gives an object that readelf -a -W
 * and objdump -dr describe identically, and that ld -r accepts.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfObject } from '../../elf/model.js';
import { ElfFile } from '../../elf/reader.js';
import { writeObject } from '../../elf/writer.js';
import { KPATCH_UNIT_DIR } from '../support/paths.js';
import { makeTmpDir } from '../support/tmp.js';
import { compileC, KERNEL_CFLAGS, run, runStatus } from '../support/tools.js';
import { generateManySections } from './many-sections.js';

const tmp = makeTmpDir('elf-rt');
afterAll(() => tmp.cleanup());

/** A section whose offset breaks its own alignment: no binutils layout reproduces such a file. */
function hasMisalignedSections(path: string): boolean {
  const elf = ElfFile.parse(readFileSync(path), path);
  return elf.sections.some((s) => s.sh_addralign > 1 && s.sh_offset % s.sh_addralign !== 0);
}

function describe_(tool: string, args: string[], path: string, alias: string): string {
  return run(tool, [...args, path]).split(path).join(alias);
}

/** Masks the columns that carry file offsets (for inputs laid out by other tools). */
function maskOffsets(text: string): string {
  return text
    .replace(/^(\s+\[\s*\d+\] .* [0-9a-f]{16} )[0-9a-f]{6}( [0-9a-f]{6} )/gm, '$1XXXXXX$2')
    .replace(/(Start of section headers:\s+)\d+/, '$1N')
    .replace(/(' at offset )0x[0-9a-f]+/g, '$1N');
}

function roundTrip(input: string, opts: { objdump?: boolean } = {}): void {
  const out = join(tmp.dir, 'rt.o');
  const obj = ElfObject.read(readFileSync(input), input);
  writeFileSync(out, writeObject(obj));
  const mask = hasMisalignedSections(input) ? maskOffsets : (s: string) => s;
  expect(mask(describe_('readelf', ['-a', '-W'], out, 'F'))).toBe(mask(describe_('readelf', ['-a', '-W'], input, 'F')));
  // objdump is quadratic in the section count: 66k sections take it minutes.
  if (opts.objdump !== false) expect(describe_('objdump', ['-dr'], out, 'F')).toBe(describe_('objdump', ['-dr'], input, 'F'));
  const ld = runStatus('ld', ['-r', '-o', join(tmp.dir, 'ld.o'), out]);
  expect(ld.stderr).toBe('');
  expect(ld.status).toBe(0);
}

describe('round trip of the peer suite objects', () => {
  const files = readdirSync(KPATCH_UNIT_DIR).filter((f) => f.endsWith('.o')).sort();
  test('the suite is there', () => expect(files.length).toBeGreaterThan(50));
  test.each(files)('%s', (f) => roundTrip(join(KPATCH_UNIT_DIR, f)));
});

describe('round trip of objects gcc builds here', () => {
  const C_SRC = `
    static int counter;
    int foo(int x) { counter++; return x * 2 + counter; }
    static int __attribute__((noinline)) bar(int y) { return foo(y) + 1; }
    int baz(int z) { return bar(z) * 3; }
    const char *s(void) { return "hello world"; }
    int table[16] = { 1, 2, 3 };
    __attribute__((section(".init.text"))) int init_fn(void) { return table[3]; }
  `;
  test('C with -ffunction-sections -fdata-sections -mfentry -pg -mrecord-mcount', () => {
    const o = join(tmp.dir, 'k.o');
    compileC(C_SRC, o, KERNEL_CFLAGS, tmp.dir);
    roundTrip(o);
  });
  test('C with debug information', () => {
    const o = join(tmp.dir, 'g.o');
    compileC(C_SRC, o, ['-O2', '-g', '-ffunction-sections'], tmp.dir);
    roundTrip(o);
  });
  test('C++ with COMDAT section groups', () => {
    const o = join(tmp.dir, 'comdat.o');
    run('g++', ['-O0', '-c', '-x', 'c++', '-', '-o', o], {
      cwd: tmp.dir,
      input: 'template <typename T> T twice(T x) { return x + x; }\ninline int sq(int x) { return x * x; }\nint use(int a) { return twice(a) + sq(a) + (int)twice(2.0); }\n',
    });
    expect(run('readelf', ['-g', o])).toContain('COMDAT group section');
    roundTrip(o);
  });
  test('an object with more than 65280 sections (extended numbering)', () => {
    const o = generateManySections(tmp.dir, 33000);
    const elf = ElfFile.parse(readFileSync(o), o);
    expect(elf.header.e_shnum).toBe(0);
    expect(elf.shnum).toBeGreaterThan(0xff00);
    roundTrip(o, { objdump: false });
  });
});
