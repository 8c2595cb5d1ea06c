/**
 * readelf's checks on section headers (src/dump/section-checks.ts), each on a
 * deliberately damaged copy of a gcc object, PIE or shared library, compared
 * with readelf 2.40 (stdout, stderr with readelf's name read as kelp's, exit
 * status): sh_link and SHF_INFO_LINK sh_info beyond the section count, wrong
 * entry sizes of symbol, relocation, group and dynamic symbol sections (and
 * the corrected size in what is printed), what sh_link and sh_info should
 * index, an info link with no newline after it, sizes beyond the file, and
 * -L's zero-sized sections by type.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { run } from '../support/tools.js';
import { buildSmallCorpus } from './small-corpus.js';
import { compareOptionSets } from './harness.js';
import { sectionIndex, setShdr, shdr, edited } from './edit.js';

const tmp = makeTmpDir('dump-section-checks');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let obj: Buffer;
let cxx: Buffer;
let pie: Buffer;
let so: Buffer;

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev']);
  if (!pre.ok) return;
  [obj, cxx, pie, so] = buildSmallCorpus(tmp.dir).map((f) => readFileSync(f));
}, 120_000);

const SHF_INFO_LINK = 0x40;

/** Writes `buf` as `name`, compares kelp with readelf for each option set; returns the differences and readelf's messages. */
function compare(name: string, buf: Buffer, sets: string[][]): { problems: string[]; messages: string } {
  const file = join(tmp.dir, name);
  writeFileSync(file, buf);
  return compareOptionSets(file, name, sets);
}


test('links and infos beyond the section count, and what they should index', () => {
  if (skipUnlessReady(pre)) return;
  const rela = sectionIndex(obj, '.rela.text.exported');
  const cases: Array<[string, Buffer, RegExp]> = [
    ['symtab-link-far.o', edited(obj, (b) => setShdr(b, sectionIndex(b, '.symtab'), 'sh_link', 999)), /Section 22 has an out of range sh_link value of 999\n.*\[22\]: Link field \(999\) should index a string section\./s],
    ['rela-info-far.o', edited(obj, (b) => setShdr(b, rela, 'sh_info', 0x10000)), /out of range sh_info value of 65536\n.*\[ 6\]: Info field \(65536\) should index a relocatable section\./s],
    ['rela-link-strtab.o', edited(obj, (b) => setShdr(b, rela, 'sh_link', sectionIndex(b, '.strtab'))), /\[ 6\]: Link field \(23\) should index a symtab section\./],
    ['rela-info-symtab.o', edited(obj, (b) => setShdr(b, rela, 'sh_info', sectionIndex(b, '.symtab'))), /Info field \(22\) should index a relocatable section/],
    // readelf's message for an SHF_INFO_LINK section with no section in sh_info has no newline: the next one follows on its line.
    ['info-link-none.o', edited(obj, (b) => {
      const c = sectionIndex(b, '.comment');
      setShdr(b, c, 'sh_flags', shdr(b, c, 'sh_flags') | SHF_INFO_LINK);
      setShdr(b, sectionIndex(b, '.eh_frame'), 'sh_info', 7);
    }), /Expected link to another section in info fieldreadelf: Warning: \[20\]: Unexpected value \(7\) in info field\./],
    ['init-array.pie', edited(pie, (b) => {
      const i = sectionIndex(b, '.init_array');
      setShdr(b, i, 'sh_link', 3);
      setShdr(b, i, 'sh_info', 5);
    }), /Unexpected value \(3\) in link field\.\n.*Unexpected value \(5\) in info field\./s],
    ['dynamic-link.so', edited(so, (b) => setShdr(b, sectionIndex(b, '.dynamic'), 'sh_link', 0)), /Link field \(0\) should index a string section/],
    ['comment-size.o', edited(obj, (b) => setShdr(b, sectionIndex(b, '.comment'), 'sh_size', 0x100000)), /Size of section 17 is larger than the entire file!/],
  ];
  const problems: string[] = [];
  for (const [name, buf, expected] of cases) {
    const c = compare(name, buf, [['-S'], ['-SW'], ['-t'], ['-h'], ['-e', '-g']]);
    problems.push(...c.problems);
    // The messages are readelf's own: each case shows the one it was made for.
    if (!expected.test(c.messages)) problems.push(`${name}: readelf said ${JSON.stringify(c.messages)}`);
  }
  expect(problems).toEqual([]);
});

test('wrong entry sizes are reported and the right ones used for the rest of the dump', () => {
  if (skipUnlessReady(pre)) return;
  const group = (b: Buffer): number => {
    for (let i = 1; i < b.readUInt16LE(0x3c); i++) if (shdr(b, i, 'sh_type') === 17) return i;
    throw new Error('no group');
  };
  const cases: Array<[string, Buffer, RegExp]> = [
    ['symtab-entsize.o', edited(obj, (b) => setShdr(b, sectionIndex(b, '.symtab'), 'sh_entsize', 0x19)), /Section 22 has invalid sh_entsize of 19\n.*\(Using the expected size of 18 for the rest of this dump\)/s],
    ['rela-entsize.o', edited(obj, (b) => setShdr(b, sectionIndex(b, '.rela.text.exported'), 'sh_entsize', 7)), /Section 6 has invalid sh_entsize of 7/],
    ['rela-entsize-zero.o', edited(obj, (b) => setShdr(b, sectionIndex(b, '.rela.eh_frame'), 'sh_entsize', 0)), /Section 21 has invalid sh_entsize of 0/],
    ['group-entsize.o', edited(cxx, (b) => setShdr(b, group(b), 'sh_entsize', 8)), /invalid sh_entsize of 8\n.*expected size of 4 /s],
    ['dynsym-entsize.so', edited(so, (b) => setShdr(b, sectionIndex(b, '.dynsym'), 'sh_entsize', 0x1000)), /invalid sh_entsize of 1000/],
  ];
  const problems: string[] = [];
  for (const [name, buf, expected] of cases) {
    const c = compare(name, buf, [['-SW'], ['-s'], ['-rW'], ['-g'], ['--dyn-syms'], ['-aW']]);
    problems.push(...c.problems);
    if (!expected.test(c.messages)) problems.push(`${name}: readelf said ${JSON.stringify(c.messages)}`);
  }
  expect(problems).toEqual([]);
});

test('-L: zero-sized PROGBITS, NOTE and relocation sections, not others', () => {
  if (skipUnlessReady(pre)) return;
  const src = join(tmp.dir, 'empty.s');
  writeFileSync(src, ['.section .ia,"aw",@init_array', '.section .nt,"",@note', '.section .nb,"aw",@nobits', '.section .pb,"aw",@progbits',
    '.section .rela.pb,"",@rela', '.section .gs,"",@progbits', '.text', 'nop', ''].join('\n'));
  run('as', [src, '-o', join(tmp.dir, 'empty.o')]);
  const c = compare('empty.o', readFileSync(join(tmp.dir, 'empty.o')), [['-L', '-h'], ['-L', '-S'], ['--lint', '-e', '-x', '.nope']]);
  expect(c.problems).toEqual([]);
  expect(c.messages).toMatch(/Section '\.nt': has a size of zero/);
  expect(c.messages).toMatch(/Section '\.rela\.pb': zero-sized relocation section/);
  expect(c.messages).not.toMatch(/'\.ia'|'\.nb'/);
});
