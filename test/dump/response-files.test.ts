/**
 * `@file` arguments (src/dump/response-files.ts) against readelf 2.40, which
 * reads them with libiberty's expandargv: options and file names from a
 * file, quoted and escaped words, nested @files, an empty or blank file, an
 * @name that is not a file (kept as a file name), and the two ways the run
 * ends (a directory, a file that names itself).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildSmallCorpus } from './small-corpus.js';
import { differenceAll, kelpInProcess, kelpProcess, readelf } from './harness.js';
import { splitWords } from '../../src/dump/response-files.js';

const tmp = makeTmpDir('dump-response-files');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let files: string[] = [];

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev']);
  if (!pre.ok) return;
  files = buildSmallCorpus(tmp.dir);
}, 120_000);

test('buildargv words: blanks, quotes, backslashes', () => {
  expect(splitWords('')).toEqual([]);
  expect(splitWords(' \t\n ')).toEqual([]);
  expect(splitWords('-h  -S\n')).toEqual(['-h', '-S']);
  expect(splitWords(`'a b' "c 'd'" e\\ f g\\\\h ''`)).toEqual(['a b', "c 'd'", 'e f', 'g\\h', '']);
  expect(splitWords('x"y z"w')).toEqual(['xy zw']);
});

test('@file against readelf: options and files from files, nested, quoted, blank, missing, a directory, a loop', () => {
  if (skipUnlessReady(pre)) return;
  const d = join(tmp.dir, 'rsp');
  mkdirSync(join(d, 'a dir'), { recursive: true });
  const [obj, , pie] = files;
  const spaced = join(d, 'with space.o');
  writeFileSync(spaced, readFileSync(obj));
  const rsp = (name: string, text: string): string => {
    writeFileSync(join(d, name), text);
    return `@${join(d, name)}`;
  };
  const opts = rsp('opts', '-h\n-S -W\n');
  const nested = rsp('nested', `${opts} --syms\n`);
  const quoted = rsp('quoted', `-h '${spaced}' "${pie}"\n`);
  const escaped = rsp('escaped', `-h ${spaced.replace(/ /g, '\\ ')}\n`);
  const empty = rsp('empty', '');
  const blank = rsp('blank', '  \n\t\n');
  const loop = rsp('loop', `-h @${join(d, 'loop')}\n`);
  const problems: string[] = [];
  const cases: string[][] = [
    [opts, obj], [nested, obj, pie], [quoted], [escaped], ['-h', empty, obj], ['-h', blank, obj],
    ['-h', `@${join(d, 'missing')}`, obj], ['-h', `@${join(d, 'a dir')}`, obj], [loop, obj], ['--', opts, obj],
  ];
  for (const args of cases) {
    const d2 = differenceAll(readelf(args, []), kelpInProcess(args, []), `readelf ${args.join(' ')}`);
    if (d2) problems.push(d2);
  }
  // Through bin/kelp as well: its own argument handling passes @files to the same expansion.
  for (const args of [[opts, obj], ['-h', `@${join(d, 'a dir')}`, obj]]) {
    const d2 = differenceAll(readelf(args, []), kelpProcess(args, []), `bin/kelp dump ${args.join(' ')}`);
    if (d2) problems.push(d2);
  }
  expect(problems).toEqual([]);
  expect(kelpInProcess([loop, obj], []).stderr).toBe('kelp: error: too many @-files encountered\n');
});
