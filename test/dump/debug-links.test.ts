/**
 * -L alone (readelf's check_all: every display) against readelf 2.40, and
 * the debug link sections it shows (src/dump/debug-links.ts): objects, a PIE,
 * a shared library, libc.so.6 and coreutils' ls (.gnu_debuglink and
 * .gnu_debugaltlink), libc.a (the archive index), an object with an empty
 * note section (exit status 1). Files whose DWARF readelf would dump, or
 * whose linked debug file exists, get kelp's one-line refusal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { run } from '../support/tools.js';
import { buildSmallCorpus } from './small-corpus.js';
import { differenceAll, kelpInProcess, readelf } from './harness.js';

const tmp = makeTmpDir('dump-debug-links');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let files: string[] = [];
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const LIBC_A = '/usr/lib/x86_64-linux-gnu/libc.a';

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev', 'coreutils']);
  if (!pre.ok) return;
  files = buildSmallCorpus(tmp.dir);
}, 120_000);

test('-L alone: every display, as readelf prints it', () => {
  if (skipUnlessReady(pre)) return;
  const empty = join(tmp.dir, 'empty.s');
  writeFileSync(empty, '.section .nt,"",@note\n.section .pb,"aw",@progbits\n.text\nnop\n');
  run('as', [empty, '-o', join(tmp.dir, 'empty.o')]);
  const problems: string[] = [];
  for (const args of [['-L', ...files], ['-L', join(tmp.dir, 'empty.o')], ['-L', LIBC], ['--lint', '/usr/bin/ls'], ['-L', '-W', files[2]], ['-L', LIBC_A]]) {
    const d = differenceAll(readelf(args, []), kelpInProcess(args, []), `readelf ${args.join(' ')}`);
    if (d) problems.push(d);
  }
  expect(problems).toEqual([]);
  // What the debug links look like (readelf's debug dump of them).
  const ls = kelpInProcess(['-L'], ['/usr/bin/ls']).stdout.toString('latin1');
  expect(ls).toMatch(/Contents of the \.gnu_debuglink section:\n\n {2}Separate debug info file: \S+\.debug\n {2}CRC value: 0x[0-9a-f]+\n\n/);
  expect(ls).toMatch(/Contents of the \.gnu_debugaltlink section:\n\n {2}Separate debug info file: \/\S+\n {2}Build-ID \(0x14 bytes\):\n( [0-9a-f]{2}){20}\n\n/);
  expect(kelpInProcess(['-L'], [join(tmp.dir, 'empty.o')]).status).toBe(1);
});

test('-L alone on files it would dump DWARF or a linked debug file of: one line refusing the file', () => {
  if (skipUnlessReady(pre)) return;
  const d = join(tmp.dir, 'dbg');
  mkdirSync(d);
  writeFileSync(join(d, 'p.c'), 'int main(void) { return 0; }\n');
  run('gcc', ['-g', '-c', 'p.c', '-o', 'p.o'], { cwd: d });
  run('gcc', ['-g', 'p.c', '-o', 'prog'], { cwd: d });
  run('objcopy', ['--only-keep-debug', 'prog', 'prog.debug'], { cwd: d });
  run('objcopy', ['--strip-debug', '--add-gnu-debuglink=prog.debug', 'prog', 'linked'], { cwd: d });
  const g = kelpInProcess(['-L'], [join(d, 'p.o')]);
  expect([g.status, g.stderr, g.stdout.length]).toEqual([1, `kelp: ${join(d, 'p.o')}: -L alone on a file with .debug_info (readelf dumps it as -w would) is not supported by kelp dump\n`, 0]);
  const l = kelpInProcess(['-L'], [join(d, 'linked')]);
  expect([l.status, l.stderr]).toEqual([1, `kelp: ${join(d, 'linked')}: -L alone: dumping the linked debug file ${join(d, 'prog.debug')} is not supported by kelp dump\n`]);
  // readelf does dump the linked file there.
  expect(readelf(['-L'], [join(d, 'linked')]).stdout.toString('latin1')).toMatch(/prog\.debug/);
});
