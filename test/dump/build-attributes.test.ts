/**
 * The gaps between GNU build attribute notes (src/dump/build-attributes.ts):
 * readelf 2.40 warns about a gap only where the previous note's end and the
 * next note's start fall in one section (its same_section test, section
 * ends exclusive). Compared with readelf on node (whose annobin notes give
 * 11 such warnings, and 3 pairs across sections or at a section's end that
 * give none) and on the build attribute corpus.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildAttributeCorpus } from './build-attributes-corpus.js';
import { differenceAll, kelpInProcess, readelf } from './harness.js';

const tmp = makeTmpDir('dump-build-attributes');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let corpus: string[] = [];
// Debian's node carries annobin notes; the node running the tests is the fallback.
const NODE = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc']);
  if (!pre.ok) return;
  const d = join(tmp.dir, 'ga');
  mkdirSync(d);
  corpus = buildAttributeCorpus(d);
}, 120_000);

const GAP = /^(readelf|kelp): Warning: Gap in build notes detected from 0x[0-9a-f]+ to 0x[0-9a-f]+\n/gm;

test('gap warnings between build notes: readelf\'s, in its order, on node and the corpus', () => {
  if (skipUnlessReady(pre)) return;
  const problems: string[] = [];
  let gaps = 0;
  for (const args of [['-n'], ['-nW']]) {
    for (const files of [[NODE], corpus, [corpus[0], NODE]]) {
      const r = readelf(args, files);
      gaps += r.stderr.match(GAP)?.length ?? 0;
      const d = differenceAll(r, kelpInProcess(args, files), `readelf ${args.join(' ')} ${files.length} file(s)`);
      if (d) problems.push(d);
    }
  }
  expect(problems).toEqual([]);
  // The comparison covers warnings that are there: node alone gives some in each run.
  expect(gaps).toBeGreaterThan(4);
}, 120_000);
