/**
 * The file type of an ET_DYN file: readelf calls it a position-independent
 * executable when the first DT_FLAGS_1 entry it finds through the PT_DYNAMIC
 * segment (not the .dynamic section) has DF_1_PIE. Mutated dynamic segments
 * must give the same verdict as readelf.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFile } from '../../elf/reader.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { run } from '../support/tools.js';
import { kelpInProcess, readelf } from './harness.js';

const tmp = makeTmpDir('dump-pie');
afterAll(() => tmp.cleanup());
let pre: PrereqStatus;
beforeAll(async () => { pre = await ensureDebianPackages(['binutils', 'gcc', 'libc6-dev']); }, 300_000);

test('PIE or shared object, as readelf decides, when the dynamic segment is moved or resized', () => {
  if (skipUnlessReady(pre)) return;
  const pie = join(tmp.dir, 's.pie');
  run('gcc', ['-x', 'c', '-', '-pie', '-fPIE', '-o', pie], { input: 'int main(void) { return 0; }\n' });
  const buf = readFileSync(pie);
  const elf = ElfFile.parse(buf, pie);
  const dyn = elf.segments.find((p) => p.p_type === 2)!;
  const at = elf.header.e_phoff + dyn.index * 56;
  const cases: Array<[string, number, bigint]> = [['unchanged', 0x08, dyn.p_offset]];
  for (const v of [0n, 1n, dyn.p_offset + 16n, BigInt(buf.length), BigInt(buf.length) + 8n]) cases.push([`p_offset ${v}`, 0x08, v]);
  for (const v of [0n, 16n, 0x7fffffffn]) cases.push([`p_filesz ${v}`, 0x20, v]);
  const verdicts = new Set<string>();
  for (const [label, field, value] of cases) {
    const m = Buffer.from(buf);
    m.writeBigUInt64LE(value, at + field);
    const file = join(tmp.dir, 'm.pie');
    writeFileSync(file, m);
    const want = readelf(['-h'], [file]);
    const got = kelpInProcess(['-h'], [file]);
    const type = (s: Buffer | string) => String(s).split('\n').find((l) => l.includes('Type:'));
    expect([label, type(got.stdout)]).toEqual([label, type(want.stdout)]);
    verdicts.add(String(type(want.stdout)));
  }
  // Both verdicts occur, so the test tells them apart.
  expect(verdicts.size).toBe(2);
});
