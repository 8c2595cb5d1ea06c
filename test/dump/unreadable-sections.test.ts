/**
 * Files whose section header table readelf cannot load
 * (src/dump/unreadable-sections.ts, elf/headers.ts readSectionTable with
 * `readelf`): the table past the end of the file or cut short, entries
 * smaller than a header, a count with no offset, an offset with no count,
 * and a name table index beyond the sections. readelf reports each its way
 * and dumps what needs no sections; kelp must print the same bytes, messages
 * and exit status. Also offsets no file reaches and a section name table
 * outside the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildSmallCorpus } from './small-corpus.js';
import { edited } from './edit.js';
import { differenceAll, kelpInProcess, readelf } from './harness.js';

const tmp = makeTmpDir('dump-unreadable-sections');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let obj: Buffer;
let pie: Buffer;
let so: Buffer;

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev']);
  if (!pre.ok) return;
  const files = buildSmallCorpus(tmp.dir).map((f) => readFileSync(f));
  [obj, , pie, so] = files;
}, 120_000);


test('section header tables readelf cannot load: its messages, then what needs no sections', () => {
  if (skipUnlessReady(pre)) return;
  const shoff = (b: Buffer): number => Number(b.readBigUInt64LE(0x28));
  const cases: Array<[string, Buffer, RegExp | undefined]> = [
    ['past-end.o', edited(obj, (b) => b.writeBigUInt64LE(BigInt(b.length + 4096), 0x28)), /Reading 1600 bytes extends past end of file for section headers/],
    ['cut.pie', edited(pie, (b) => b.subarray(0, shoff(b) + 100)), /Reading \d+ bytes extends past end of file for section headers/],
    ['cut.so', edited(so, (b) => b.subarray(0, shoff(b) - 200)), /extends past end of file for section headers/],
    ['more.o', edited(obj, (b) => b.writeUInt16LE(b.readUInt16LE(0x3c) + 400, 0x3c)), /extends past end of file/],
    ['short-entries.pie', edited(pie, (b) => b.writeUInt16LE(40, 0x3a)), /e_shentsize field in the ELF header is less than the size of an ELF section header/],
    ['zero-entries.o', edited(obj, (b) => b.writeUInt16LE(0, 0x3a)), undefined],
    ['no-offset.so', edited(so, (b) => b.writeBigUInt64LE(0n, 0x28)), undefined],
    ['no-count.pie', edited(pie, (b) => b.writeUInt16LE(0, 0x3c)), /non-zero section header offset, but no section headers/],
    ['names-beyond.o', edited(obj, (b) => b.writeUInt16LE(4000, 0x3e)), undefined],
    // Entries larger than a header: readelf warns, needs e_shentsize * count bytes, and reads headers 64 bytes apart.
    ['large-entries.o', edited(obj, (b) => b.writeUInt16LE(80, 0x3a)), /larger than the size of an ELF section header\n.*Reading 2000 bytes extends past end of file/s],
    ['large-entries-fit.o', edited(obj, (b) => {
      b.writeUInt16LE(65, 0x3a);
      b.writeUInt16LE(b.readUInt16LE(0x3c) - 1, 0x3c);
    }), /larger than the size of an ELF section header/],
    // Offsets no file reaches (-h prints them signed, as readelf does).
    ['huge-shoff.o', edited(obj, (b) => b.writeBigUInt64LE(0xffffffffffffffffn, 0x28)), /Reading 1600 bytes extends past end of file for section headers/],
    ['huge-phoff.o', edited(obj, (b) => b.writeBigUInt64LE(0x7fffffffffffffffn, 0x20)), /non-zero program header offset, but no program headers/],
    ['names-outside.o', edited(obj, (b) => {
      const at = Number(b.readBigUInt64LE(0x28)) + b.readUInt16LE(0x3e) * 64;
      b.writeBigUInt64LE(BigInt(b.length), at + 0x18);
    }), /Reading \d+ bytes extends past end of file for string table/],
  ];
  const problems: string[] = [];
  for (const [name, buf, expected] of cases) {
    const file = join(tmp.dir, name);
    writeFileSync(file, buf);
    let messages = '';
    for (const args of [['-h'], ['-S'], ['-tW'], ['-e', '-g'], ['-sW', '-r', '-x', '1'], ['-n'], ['-dW'], ['-aW']]) {
      const r = readelf(args, [file], { ...process.env, LC_ALL: 'C' });
      messages += r.stderr;
      const d = differenceAll(r, kelpInProcess(args, [file], { utf8: false }), `${name}: readelf ${args.join(' ')}`);
      if (d) problems.push(d);
    }
    if (expected !== undefined && !expected.test(messages)) problems.push(`${name}: readelf said ${JSON.stringify(messages)}`);
  }
  expect(problems).toEqual([]);
  // readelf -D finds the symbols without sections through DT_SYMTAB and the hash tables; kelp refuses the file there.
  const k = kelpInProcess(['-DrW'], [join(tmp.dir, 'cut.so')]);
  expect(k.status).toBe(1);
  expect(k.stderr).toMatch(/^kelp: Error: Reading \d+ bytes extends past end of file for section headers\nkelp: \S+cut\.so: -D relocations of a file without section headers is not supported by kelp dump\n$/);
});
