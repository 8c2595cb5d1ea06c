import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kpatchUnitObjects } from './corpus.js';
import { buildSmallCorpus } from './small-corpus.js';
import { differenceAll, kelpInProcess, readelf, parseArgs } from './harness.js';
import { rng } from '../support/rng.js';
import { MUTATIONS, mutate } from './mutate.js';
import { Out } from '../../src/dump/context.js';
import { dumpBuffer } from '../../src/dump/index.js';

const OPTION_SETS = [['-hlSgsrn'], ['-hlSgsrnW'], ['-sW', '-x', '1', '-p', '2'], ['-rn', '-x', '3'], ['-eg', '-p', '.strtab'],
  ['-aW', '-z', '-x', '2'], ['-tdVI', '--dyn-syms']];
const dir = '/tmp/dump5/fz';
mkdirSync(dir, { recursive: true });
const files = [...buildSmallCorpus(dir), ...kpatchUnitObjects().filter((_, i) => i % 20 === 3)];
const seeds = files.map((f) => ({ name: f.split('/').pop()!, buf: readFileSync(f) }));
const env = { ...process.env, LC_ALL: 'C' };
const only = process.argv[2] ? new Set(process.argv[2].split(',').map(Number)) : undefined;
let same = 0, differ = 0, refused = 0;
const report: string[] = [];
for (let n = 0; n < 1200; n++) {
  if (only && !only.has(n)) continue;
  const r = rng(0xc0ffee00 + n);
  const seed = seeds[n % seeds.length];
  const kind = MUTATIONS[Math.floor(r() * MUTATIONS.length)];
  const buf = mutate(seed.buf, kind, r);
  const args = OPTION_SETS[n % OPTION_SETS.length];
  const file = join(dir, `m${n}.o`);
  writeFileSync(file, buf);
  let err: unknown;
  try { const chunks: Buffer[] = []; const out = new Out((b) => chunks.push(Buffer.from(b))); dumpBuffer(buf, 'fuzz.o', parseArgs(args), out, false, false); } catch (e) { err = e; }
  const re = readelf(args, [file], env);
  if (err !== undefined) {
    refused++;
    const k = kelpInProcess(args, [file], { utf8: false });
    report.push(`=== REFUSED ${n} ${kind} ${seed.name} ${args.join(' ')} readelf=${re.status}\n--- readelf\n${re.stderr.split('\n').slice(0, 6).join('\n')}\n--- kelp\n${k.stderr}`);
    continue;
  }
  if (re.status !== 0 || re.stderr !== '') {
    const k = kelpInProcess(args, [file], { utf8: false });
    const d = differenceAll(re, k, '');
    if (d === '') same++;
    else {
      differ++;
      report.push(`=== DIFF ${n} ${kind} ${seed.name} ${args.join(' ')} status r=${re.status} k=${k.status}\n--- readelf\n${re.stderr}--- kelp\n${k.stderr}--- diff\n${d.split('\n').filter((l) => !/stderr/.test(l)).slice(0, 3).join('\n')}`);
    }
  }
}
writeFileSync('/tmp/dump5/report.txt', report.join('\n'));
console.log(`same ${same} differ ${differ} refused ${refused}`);
