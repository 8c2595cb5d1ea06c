/**
 * readelf's checks on program headers (src/dump/segment-checks.ts), made
 * whatever is displayed, each on a damaged copy of a PIE or shared library,
 * compared with readelf 2.40 (stdout, stderr, exit status): a program header
 * offset with no headers, a LOAD segment with more file than memory, a PHDR
 * segment after a LOAD or outside every LOAD, two dynamic segments, a dynamic
 * segment no .dynamic section names (readelf then reads the segment), a
 * .dynamic section past the end of the file, and -L's mismatch between them;
 * and program headers readelf cannot read at all (too many for the file, an
 * entry size of 0 or below a header's, the table past the end).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildSmallCorpus } from './small-corpus.js';
import { compareOptionSets, differenceAll, kelpInProcess, readelf } from './harness.js';
import { phdr, sectionIndex, segmentIndex, setPhdr, setShdr, shdr, edited } from './edit.js';

const tmp = makeTmpDir('dump-segment-checks');
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

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_PHDR = 6;
const PT_GNU_STACK = 0x6474e551;


/** Swaps two program headers. */
function swapSegments(b: Buffer, i: number, j: number): void {
  const at = (k: number): number => Number(b.readBigUInt64LE(0x20)) + k * 56;
  const a = Buffer.from(b.subarray(at(i), at(i) + 56));
  b.copy(b, at(i), at(j), at(j) + 56);
  a.copy(b, at(j));
}

test('program header problems: readelf messages whatever is displayed, and the output around them', () => {
  if (skipUnlessReady(pre)) return;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['no-phdrs.pie', edited(pie, (b) => b.writeUInt16LE(0, 0x38)), /possibly corrupt ELF header - it has a non-zero program header offset, but no program headers/],
    ['load-filesz.pie', edited(pie, (b) => {
      const l = segmentIndex(b, PT_LOAD);
      setPhdr(b, l, 'p_filesz', phdr(b, l, 'p_memsz') + 0x10n);
    }), /the segment's file size is larger than its memory size/],
    ['phdr-late.pie', edited(pie, (b) => swapSegments(b, segmentIndex(b, PT_PHDR), segmentIndex(b, PT_LOAD))), /the PHDR segment must occur before any LOAD segment/],
    ['phdr-uncovered.pie', edited(pie, (b) => setPhdr(b, segmentIndex(b, PT_PHDR), 'p_vaddr', 0x7fff0000)), /the PHDR segment is not covered by a LOAD segment/],
    ['two-dynamic.so', edited(so, (b) => setPhdr(b, segmentIndex(b, PT_GNU_STACK), 'p_type', PT_DYNAMIC)), /more than one dynamic segment/],
    // With .dynamic renamed readelf reads the dynamic entries from the segment.
    ['no-dynamic-section.so', edited(so, (b) => setShdr(b, sectionIndex(b, '.dynamic'), 'sh_name', shdr(b, sectionIndex(b, '.got'), 'sh_name'))),
      /no \.dynamic section in the dynamic segment/],
    ['dynamic-past-end.so', edited(so, (b) => setShdr(b, sectionIndex(b, '.dynamic'), 'sh_offset', b.length - 0x20)), /the dynamic segment offset \+ size exceeds the size of the file/],
  ];
  const problems: string[] = [];
  for (const [name, buf, expected] of cases) {
    const file = join(tmp.dir, name);
    writeFileSync(file, buf);
    // Without program headers readelf reads version tables at file offsets equal to their addresses; kelp refuses those (-V, -a).
    const sets = name === 'no-phdrs.pie' ? [['-h'], ['-lW'], ['-l'], ['-dW'], ['-S'], ['-sW'], ['-e', '-g', '-n']] : [['-h'], ['-lW'], ['-l'], ['-dW'], ['-S'], ['-sW'], ['-aW']];
    const r = compareOptionSets(file, name, sets);
    problems.push(...r.problems);
    const messages = r.messages;
    if (!expected.test(messages)) problems.push(`${name}: readelf said ${JSON.stringify(messages)}`);
  }
  expect(problems).toEqual([]);
});

test('-L: a .dynamic section that is not the dynamic segment', () => {
  if (skipUnlessReady(pre)) return;
  const file = join(tmp.dir, 'dynamic-smaller.so');
  writeFileSync(file, edited(so, (b) => {
    const d = sectionIndex(b, '.dynamic');
    setShdr(b, d, 'sh_size', shdr(b, d, 'sh_size') - 16);
  }));
  const problems: string[] = [];
  for (const args of [['-L', '-h'], ['-L', '-dW'], ['-dW']]) {
    const r = readelf(args, [file]);
    const d = differenceAll(r, kelpInProcess(args, [file]), `readelf ${args.join(' ')}`);
    if (d) problems.push(d);
  }
  expect(problems).toEqual([]);
  expect(readelf(['-L', '-h'], [file]).stderr).toMatch(/the \.dynamic section is not the same as the dynamic segment/);
});

test('program headers readelf cannot read: its error at each attempt (file type, segments, notes), the rest dumped', () => {
  if (skipUnlessReady(pre)) return;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['too-many.o', edited(obj, (b) => b.writeUInt16LE(0x9000, 0x38)), /Too many program headers - 0x9000 - the file is not that big/],
    ['too-many-no-notes.o', edited(cxx, (b) => b.writeUInt16LE(0x9000, 0x38)), /Too many program headers - 0x9000/],
    ['too-many.so', edited(so, (b) => b.writeUInt16LE(0xfff0, 0x38)), /Too many program headers - 0xfff0/],
    ['phentsize-zero.pie', edited(pie, (b) => b.writeUInt16LE(0, 0x36)), /^$/],
    ['phentsize-short.pie', edited(pie, (b) => b.writeUInt16LE(32, 0x36)), /e_phentsize field in the ELF header is less than the size of an ELF program header/],
    ['phoff-past-end.so', edited(so, (b) => b.writeBigUInt64LE(BigInt(b.length - 100), 0x20)), /Reading \d+ bytes extends past end of file for program headers/],
  ];
  const problems: string[] = [];
  for (const [name, buf, expected] of cases) {
    const file = join(tmp.dir, name);
    writeFileSync(file, buf);
    const r = compareOptionSets(file, name, [['-h'], ['-l'], ['-lW'], ['-n'], ['-e'], ['-S', '-s', '-r'], ['-hln'], ['-d']]);
    problems.push(...r.problems);
    const messages = r.messages;
    if (!expected.test(messages)) problems.push(`${name}: readelf said ${JSON.stringify(messages)}`);
  }
  expect(problems).toEqual([]);
});
