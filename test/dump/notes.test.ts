/**
 * Damaged notes (src/dump/notes.ts) against readelf 2.40: readelf prints the
 * notes before the damage, warns about a name or descriptor size that runs
 * past the section or about too few bytes left for a note header, and goes
 * on (exit status 0); an empty note section is shown as nothing and fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildSmallCorpus } from './small-corpus.js';
import { differenceAll, kelpInProcess, readelf } from './harness.js';
import { sectionIndex, setShdr, shdr, edited } from './edit.js';

const tmp = makeTmpDir('dump-notes');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let obj: Buffer;
let so: Buffer;

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev']);
  if (!pre.ok) return;
  const files = buildSmallCorpus(tmp.dir).map((f) => readFileSync(f));
  [obj, , , so] = files;
}, 120_000);


test('damaged notes: readelf\'s warnings after the notes before them', () => {
  if (skipUnlessReady(pre)) return;
  const at = (b: Buffer, name: string): number => shdr(b, sectionIndex(b, name), 'sh_offset');
  const cases: Array<[string, Buffer, RegExp]> = [
    ['namesz.o', edited(obj, (b) => b.writeUInt32LE(0x100, at(b, '.note.gnu.property'))), /note with invalid namesz and\/or descsz found at offset 0\n.* type: 0x5, namesize: 0x100, descsize: 0x10, alignment: 8\n/s],
    ['namesz-max.o', edited(obj, (b) => b.writeUInt32LE(0xffffffff, at(b, '.note.gnu.property'))), /namesize: 0xffffffff/],
    ['descsz-second.so', edited(so, (b) => b.writeUInt32LE(0x8000, at(b, '.note.gnu.build-id') + 4)), /invalid namesz and\/or descsz/],
    ['short.so', edited(so, (b) => {
      const i = sectionIndex(b, '.note.gnu.build-id');
      setShdr(b, i, 'sh_size', shdr(b, i, 'sh_size') + 8);
    }), /Corrupt note: only 8 bytes remain, not enough for a full note/],
    ['empty.o', edited(obj, (b) => setShdr(b, sectionIndex(b, '.note.gnu.property'), 'sh_size', 0)), /^$/],
  ];
  const problems: string[] = [];
  for (const [name, buf, expected] of cases) {
    const file = join(tmp.dir, name);
    writeFileSync(file, buf);
    let messages = '';
    for (const args of [['-n'], ['-nW'], ['-a']]) {
      const r = readelf(args, [file], { ...process.env, LC_ALL: 'C' });
      if (args[0] === '-n') messages += r.stderr;
      const d = differenceAll(r, kelpInProcess(args, [file], { utf8: false }), `${name}: readelf ${args.join(' ')}`);
      if (d) problems.push(d);
    }
    if (!expected.test(messages)) problems.push(`${name}: readelf said ${JSON.stringify(messages)}`);
  }
  expect(problems).toEqual([]);
  expect(kelpInProcess(['-n'], [join(tmp.dir, 'empty.o')]).status).toBe(1);
});
