/**
 * `kelp dump` against GNU readelf 2.40, byte for byte on stdout: every option
 * alone and in combinations, narrow and wide, one file and many at once, on
 * the peer's kpatch unit objects, objects gcc/g++/as build here (function and
 * data sections, mcount records, COMDAT groups, CET properties, UTF-8 names),
 * a livepatch-marked object, an object with more than 65280 sections, a PIE,
 * shared libraries, Debian's kernel modules (every one of the target's, for
 * the common options), the node binary (with its
 * annobin build attribute notes) and objects carrying such notes; -a and what
 * it adds (-d -V -I -A -u), --dyn-syms, -t/-N, -z on zlib and zstd compressed
 * sections, -D, and archives (regular, thin, libc.a) with -c.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget } from '../support/target.js';
import { FETCH_PACKAGES } from '../../src/target/packages.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildCorpus, kpatchUnitObjects, pickModules, type BuiltCorpus } from './corpus.js';
import { buildAttributeCorpus } from './build-attributes-corpus.js';
import { difference, differenceAll, kelpInProcess, kelpProcess, readelf } from './harness.js';

/** Option sets every corpus is dumped with: each option alone, narrow and wide, and combinations. */
const OPTION_SETS: string[][] = [
  ['-h'], ['-l'], ['-lW'], ['-S'], ['-SW'], ['-g'], ['-gW'], ['-s'], ['-sW'], ['-r'], ['-rW'], ['-n'], ['-nW'],
  ['-e'], ['-eW'], ['-x', '.comment', '-p', '.strtab', '-x', '2', '-p', '1'],
  ['-x', '.shstrtab', '-W'], ['-p', '.rodata.str1.1', '-p', '.modinfo', '-x', '__versions'],
  ['-hlSgsrn'], ['-hlSgsrnW'], ['--syms', '--relocs', '--wide'], ['--section-groups', '--notes', '--file-header'],
  ['-a'], ['-aW'], ['-d'], ['-dW'], ['-V'], ['--dyn-syms'], ['--dyn-syms', '-W'], ['-I'], ['-A'], ['-u'], ['-t'], ['-tW'], ['-N'],
  ['-c'], ['-z', '-x', '.debug_info', '-p', '.debug_str', '-x', '.comment'], ['--all', '--section-details', '--wide'],
];

/** The options readelf's -a adds, for corpora too large for the whole OPTION_SETS. */
const ALL_SETS: string[][] = [['-a'], ['-aW'], ['-dW'], ['-V'], ['-I'], ['--dyn-syms'], ['-t'], ['-tW'], ['-DrsW'], ['-D', '--dyn-syms', '-r']];

const tmp = makeTmpDir('dump');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let built: BuiltCorpus;
let modules: string[] = [];
let allModules: string[] = [];
let buildAttributes: string[] = [];

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev', ...FETCH_PACKAGES]);
  if (!pre.ok) return;
  built = buildCorpus(tmp.dir);
  const gaDir = join(tmp.dir, 'ga');
  mkdirSync(gaDir);
  buildAttributes = buildAttributeCorpus(gaDir);
  const target = await getTarget();
  modules = pickModules(join(target.modules, 'kernel'), 36);
  allModules = pickModules(join(target.modules, 'kernel'), Number.MAX_SAFE_INTEGER);
}, 900_000);

/** Compares kelp (in-process) with readelf for every option set over `files` dumped together. */
function compareAll(files: string[], sets: string[][] = OPTION_SETS, env: NodeJS.ProcessEnv = process.env, utf8?: boolean, sparseFrom?: number): string[] {
  const problems: string[] = [];
  let printed = 0;
  for (const args of sets) {
    const r = readelf(args, files, env);
    printed += r.stdout.length;
    const k = kelpInProcess(args, files, { utf8, sparseFrom });
    const d = differenceAll(r, k, `readelf ${args.join(' ')} on ${files.length} file(s)`);
    if (d) problems.push(d);
  }
  // Guards against a comparison of two empty outputs (readelf missing or failing on every file).
  if (printed === 0) problems.push(`readelf printed nothing for ${files.join(' ')}`);
  return problems;
}

test('the peer kpatch unit objects, all at once', () => {
  if (skipUnlessReady(pre)) return;
  const objs = kpatchUnitObjects();
  expect(objs.length).toBeGreaterThan(50);
  expect(compareAll(objs)).toEqual([]);
}, 300_000);

test('objects gcc, g++ and as build here, the livepatch object, one at a time and together', () => {
  if (skipUnlessReady(pre)) return;
  expect(compareAll(built.objects)).toEqual([]);
  for (const f of built.objects) expect(compareAll([f], [['-hlSgsrn'], ['-hlSgsrnW']])).toEqual([]);
}, 300_000);

test('the livepatch marks: OS [0xff20] symbols and the o flag', () => {
  if (skipUnlessReady(pre)) return;
  const s = kelpInProcess(['-sW'], [built.livepatch]).stdout.toString('latin1');
  expect(s).toMatch(/OS \[0xff20\] \.klp\.sym\.vmlinux\.printk,0\n/);
  const S = kelpInProcess(['-SW'], [built.livepatch]).stdout.toString('latin1');
  expect(S).toMatch(/\.klp\.rela\.vmlinux\.\.text\.exported_fn RELA .* AIo /);
  expect(compareAll([built.livepatch])).toEqual([]);
});

test('an object with more than 65280 sections (extended numbering)', () => {
  if (skipUnlessReady(pre)) return;
  const h = kelpInProcess(['-h'], [built.big]).stdout.toString('latin1');
  expect(h).toMatch(/Number of section headers: +0 \(\d{5}\)/);
  expect(compareAll([built.big], [['-h'], ['-S'], ['-SW'], ['-s'], ['-sW'], ['-r'], ['-rW'], ['-g'], ['-n'], ['-x', '65300', '-p', '.shstrtab'], ['-aW'], ['-t']])).toEqual([]);
}, 120_000);

test('a PIE, shared libraries and the system libc', () => {
  if (skipUnlessReady(pre)) return;
  expect(compareAll(built.linked)).toEqual([]);
}, 120_000);

test('Debian kernel modules (.modinfo, __versions, .gnu.linkonce.this_module)', () => {
  if (skipUnlessReady(pre)) return;
  expect(modules.length).toBeGreaterThan(20);
  expect(compareAll(modules)).toEqual([]);
}, 300_000);

test('every Debian kernel module of the target: headers, sections, groups, notes, symbols, dynamic section and versions', () => {
  if (skipUnlessReady(pre)) return;
  expect(allModules.length).toBeGreaterThan(1000);
  const problems: string[] = [];
  for (let i = 0; i < allModules.length && problems.length < 5; i += 200) {
    const batch = allModules.slice(i, i + 200);
    // Relocations, -a and the rest are compared on the 36 modules above; here the whole set, 200 files a run.
    problems.push(...compareAll(batch, [['-hlSgnsdVW']]));
  }
  expect(problems).toEqual([]);
}, 600_000);

test('the node binary (185k symbols), read on demand', () => {
  if (skipUnlessReady(pre)) return;
  const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
  expect(compareAll([node], [['-h'], ['-lW'], ['-S'], ['-s'], ['-sW'], ['-rW'], ['-n'], ['-nW'], ['-e', '-n'], ['-x', '.interp', '-p', '.comment'],
    ['-aW'], ['-dW'], ['-V'], ['-I'], ['-tW']])).toEqual([]);
  // An empty descriptor repeats the last range readelf saw, in this file or the one before.
  expect(compareAll([buildAttributes[0], node, buildAttributes[1]], [['-nW']])).toEqual([]);
}, 120_000);

test('-a and the options it adds on every kernel module of the corpus, libc.so.6 and the PIE, one at a time', () => {
  if (skipUnlessReady(pre)) return;
  const problems: string[] = [];
  for (const f of [...modules, ...built.linked]) problems.push(...compareAll([f], ALL_SETS));
  expect(problems).toEqual([]);
  // The dynamic section, versions and histograms are really printed (not two empty outputs).
  const a = kelpInProcess(['-aW'], [built.linked[0]]).stdout.toString('latin1');
  for (const re of [/Dynamic section at offset 0x[0-9a-f]+ contains \d+ entries:/, /\(FLAGS_1\) +Flags: (NOW )?PIE/, /Version needs section '\.gnu\.version_r'/,
    /Histogram for `\.gnu\.hash' bucket list length/, /No processor specific unwind information to decode/]) {
    expect(a).toMatch(re);
  }
  const dr = kelpInProcess(['-D', '-r', '-s'], [built.linked[0]]).stdout.toString('latin1');
  expect(dr).toMatch(/'RELA' relocation section at offset 0x[0-9a-f]+ contains \d+ bytes:/);
  expect(dr).toMatch(/Symbol table for image contains \d+ entries:/);
  const so = kelpInProcess(['-V'], [built.linked[1]]).stdout.toString('latin1');
  expect(so).toMatch(/Version definition section '\.gnu\.version_d' contains 3 entries:/);
  expect(so).toMatch(/Parent 1: KELP_1\.0/);
}, 600_000);

test('compressed debug sections: -t shows the compression headers, -z -x and -z -p decompress zlib and zstd', () => {
  if (skipUnlessReady(pre)) return;
  const t = kelpInProcess(['-t'], built.compressed).stdout.toString('latin1');
  expect(t).toMatch(/\n {7}ZLIB, [0-9a-f]{16}, 1\n/);
  expect(t).toMatch(/\n {7}ZSTD, [0-9a-f]{16}, 1\n/);
  const sets = [['-t'], ['-tW'], ['-z', '-x', '.debug_info'], ['-z', '-p', '.debug_str', '-x', '.debug_abbrev'], ['-x', '.debug_info'], ['-z', '-x', '.debug_line', '-p', '.debug_line_str']];
  for (const f of built.compressed) expect(compareAll([f], sets)).toEqual([]);
  const z = kelpInProcess(['-z', '-p', '.debug_str'], [built.compressed[1]]).stdout.toString('latin1');
  expect(z).toMatch(/GNU C17 12/);
});

test('archives: a regular and a thin archive, libc.a, each member as lib.a(member.o), -c the symbol index', () => {
  if (skipUnlessReady(pre)) return;
  const libcA = '/usr/lib/x86_64-linux-gnu/libc.a';
  expect(existsSync(libcA)).toBe(true);
  const [lib, thin] = built.archives;
  const sets = [['-c'], ['-h'], ['-c', '-s'], ['-aW'], ['-a'], ['-t'], ['-eW'], ['-x', '.text', '-p', '.comment'], ['-z', '-x', '.debug_info']];
  expect(compareAll([lib], sets)).toEqual([]);
  expect(compareAll([thin], sets)).toEqual([]);
  // A plain object after an archive is named too; -c on it is a note on stderr.
  expect(compareAll([built.objects[0], lib, built.objects[1], thin], [['-h'], ['-c'], ['-sW']])).toEqual([]);
  const c = kelpInProcess(['-c'], [lib]).stdout.toString('latin1');
  expect(c).toMatch(/^Index of archive .*lib\.a: \(\d+ entries, 0x[0-9a-f]+ bytes in the symbol table\)\n/);
  expect(c).toMatch(/Contents of binary .*lib\.a\(a_member_with_a_name_longer_than_sixteen\.o\) at offset 0x/);
  const k = kelpInProcess(['-c'], [built.objects[0]]);
  expect(k.stderr).toMatch(/is not an archive so its index cannot be displayed/);
  expect(k.status).toBe(0);
  expect(compareAll([libcA], [['-c'], ['-aW'], ['-t']])).toEqual([]);
}, 600_000);

test('GNU build attribute notes: every attribute and value type, odd names, ranges and the symbols they name', () => {
  if (skipUnlessReady(pre)) return;
  expect(buildAttributes).toHaveLength(4);
  const n = kelpInProcess(['-n'], buildAttributes).stdout.toString('latin1');
  for (const re of [/GA\*<PIC>pie/, /GA\*<stack prot>all /, /GA\*<stack prot>\[\.\.\.\]/, /GA\$<tool>runnin\[\.\.\.\]/, /GA\*GOW:0x000000002052a/, /GA\*<unknown:_9>/,
    /<invalid descsz>  GA/, /Applies to region from 0x600300 to 0x600310 \(o_3\)/, /\(\.annobin_biased\.c\)/, /\(main\)/]) {
    expect(n).toMatch(re);
  }
  const sets = [['-n'], ['-nW'], ['-e', '-n'], ['-hlSgsrn'], ['-hlSgsrnW'], ['--notes', '--wide', '--syms']];
  expect(compareAll(buildAttributes, sets)).toEqual([]);
  for (const f of buildAttributes) expect(compareAll([f], [['-n'], ['-nW']])).toEqual([]);
}, 120_000);

test('small files read on demand give the same bytes as files read whole', () => {
  if (skipUnlessReady(pre)) return;
  expect(compareAll([...built.objects.slice(0, 4), ...built.linked, ...modules.slice(0, 4)], OPTION_SETS, process.env, undefined, 0)).toEqual([]);
}, 120_000);

test('names with bytes above 0x7f in the C locale and in a UTF-8 locale', () => {
  if (skipUnlessReady(pre)) return;
  const files = built.objects.slice(0, 3);
  const sets = [['-s'], ['-sW'], ['-p', '.rodata', '-p', '.rodata.str1.1', '-p', '.strtab'], ['-r']];
  expect(compareAll(files, sets, { ...process.env, LC_ALL: 'C' }, false)).toEqual([]);
  expect(compareAll(files, sets, { ...process.env, LC_ALL: 'C.UTF-8' }, true)).toEqual([]);
});

test('the real CLI accepts readelf\'s option forms and prints the same bytes', () => {
  if (skipUnlessReady(pre)) return;
  const files = [built.objects[0], built.objects[4], built.linked[0]];
  const forms: [string[], string[]][] = [
    [['-hlS'], ['-hlS']], [['-sW'], ['-sW']], [['-x', '.comment'], ['-x', '.comment']],
    [['--hex-dump=.comment'], ['--hex-dump=.comment']], [['-p', '3'], ['-p', '3']], [['-x.comment'], ['-x.comment']],
    [['-Wx', '.comment'], ['-Wx', '.comment']], [['--segments', '--sections', '--symbols'], ['--segments', '--sections', '--symbols']],
    [['-e', '-g', '-r', '-n'], ['-e', '-g', '-r', '-n']], [['--string-dump=.comment', '-p', '0x3', '-x', '010'], ['--string-dump=.comment', '-p', '0x3', '-x', '010']],
    [['-a'], ['-a']], [['--all', '--wide'], ['--all', '--wide']], [['-dVIAu'], ['-dVIAu']], [['--dynamic', '--version-info', '--dyn-syms'], ['--dynamic', '--version-info', '--dyn-syms']],
    [['--histogram', '--arch-specific', '--unwind'], ['--histogram', '--arch-specific', '--unwind']], [['-t'], ['-t']], [['-NW'], ['-NW']],
    [['--section-details', '--full-section-name'], ['--section-details', '--full-section-name']], [['-zx', '.comment'], ['-zx', '.comment']], [['-Drs'], ['-Drs']], [['--use-dynamic', '--relocs'], ['--use-dynamic', '--relocs']],
    [['--decompress', '--hex-dump=.comment'], ['--decompress', '--hex-dump=.comment']],
  ];
  const problems: string[] = [];
  for (const [re, ke] of forms) {
    const r = readelf(re, files);
    const k = kelpProcess(ke, files);
    const d = difference(r.stdout, k.stdout, `kelp dump ${ke.join(' ')}`);
    if (d) problems.push(d);
    if (k.status !== 0) problems.push(`kelp dump ${ke.join(' ')}: exit ${k.status}: ${k.stderr}`);
  }
  expect(problems).toEqual([]);
}, 120_000);

test('a missing section or file: readelf\'s messages and exit status, after the rest of the output', () => {
  if (skipUnlessReady(pre)) return;
  const f = built.objects[0];
  const cases: [string[], string[]][] = [
    [['-h', '-x', '.no-such-section', '-x', '9999'], [f]],
    [['-h', '-R', '.no-such-section'], [f]],
    [['-h'], [join(tmp.dir, 'nope.o')]],
    [['-h'], [f, join(tmp.dir, 'nope.o'), f]],
  ];
  const problems: string[] = [];
  for (const [args, files] of cases) {
    const d = differenceAll(readelf(args, files), kelpProcess(args, files), `kelp dump ${args.join(' ')}`);
    if (d) problems.push(d);
  }
  expect(problems).toEqual([]);
  const missing = kelpProcess(['-h'], [join(tmp.dir, 'nope.o')]);
  expect([missing.status, missing.stderr]).toEqual([1, `kelp: Error: '${join(tmp.dir, 'nope.o')}': No such file\n`]);
});
