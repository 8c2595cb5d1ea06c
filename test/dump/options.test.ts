/**
 * The rest of readelf 2.40's command line against readelf itself, stdout,
 * stderr (readelf's name read as kelp's) and exit status: -R, -L, -T,
 * --sym-base, -C/--demangle (g++ objects, libstdc++, a sample of node's
 * symbols), --no-demangle, -U in every mode and both locales, -P, -v, -H,
 * -X (not an option of 2.40), usage errors (unknown, ambiguous, missing and
 * unwanted arguments, nothing to do), and files readelf complains about:
 * missing, a directory, empty, too short, not ELF, truncated, -c on an object.
 * Compared in-process (the parser and runner bin/kelp uses), a few through bin/kelp.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';
import { run } from '../support/tools.js';
import { buildCorpus, type BuiltCorpus } from './corpus.js';
import { differenceAll, kelpInProcess, kelpProcess, readelf } from './harness.js';
import { demangle } from '../../src/dump/demangle/index.js';

const tmp = makeTmpDir('dump-options');
afterAll(() => tmp.cleanup());

let pre: PrereqStatus;
let built: BuiltCorpus;
let odd: Record<string, string> = {};
const LIBSTDCXX = '/usr/lib/x86_64-linux-gnu/libstdc++.so.6';

beforeAll(async () => {
  pre = await ensureDebianPackages(['binutils', 'gcc', 'g++', 'libc6-dev', 'libstdc++6']);
  if (!pre.ok) return;
  built = buildCorpus(tmp.dir, { big: false });
  const d = join(tmp.dir, 'odd');
  mkdirSync(d);
  const obj = readFileSync(built.objects[0]);
  const files: Record<string, Buffer> = {
    empty: Buffer.alloc(0), short: Buffer.from('hi\n'), header30: obj.subarray(0, 30), header40: obj.subarray(0, 40),
    text: Buffer.from('not an ELF file, but long enough to hold an ELF header of sixty-four bytes\n'.repeat(4)),
  };
  odd = { dir: d };
  for (const [name, buf] of Object.entries(files)) {
    odd[name] = join(d, name);
    writeFileSync(odd[name], buf);
  }
}, 900_000);

/** Compares readelf and kelp (in-process, or through bin/kelp) for each argument list; returns the differences. */
function compare(cases: string[][], how: 'in-process' | 'cli' = 'in-process', env: NodeJS.ProcessEnv = process.env, utf8?: boolean): string[] {
  const problems: string[] = [];
  let printed = 0;
  for (const args of cases) {
    const r = readelf(args, [], env);
    printed += r.stdout.length + r.stderr.length;
    const k = how === 'cli' ? kelpProcess(args, [], env) : kelpInProcess(args, [], { utf8 });
    const d = differenceAll(r, k, `readelf ${args.join(' ')}`);
    if (d) problems.push(d);
  }
  if (printed === 0) problems.push('readelf printed nothing at all');
  return problems;
}

test('-R: relocated hex dumps of objects (debug sections, data, text), warnings for types readelf does not apply', () => {
  if (skipUnlessReady(pre)) return;
  const [fsections, plainG] = built.objects;
  const k = kelpInProcess(['-R', '.debug_info'], [plainG]).stdout.toString('latin1');
  expect(k).toMatch(/Hex dump of section '\.debug_info':\n  0x00000000 /);
  expect(k).not.toMatch(/NOTE: This section has relocations/);
  expect(compare([
    ['-R', '.debug_info', '-R', '.debug_line', '-R', '.eh_frame', plainG], ['-R', '.text', '-x', '.text', plainG],
    ['-R', '2', '-R', '.data.rel.local', '-p', '.comment', fsections], ['-R', '.debug_info', ...built.compressed], ['-z', '-R', '.debug_info', ...built.compressed],
    ['-R', '.data.rel.ro', '-R', '.init_array', built.linked[0]], ['-R', '.text', ...built.objects],
  ])).toEqual([]);
});

test('-L/--lint and --enable-checks', () => {
  if (skipUnlessReady(pre)) return;
  const k = kelpInProcess(['-L', '-h'], [built.objects[1]]);
  expect(k.stderr).toMatch(/^kelp: Warning: Section '[^']+': has a size of zero - is this intended \?\n/m);
  expect(compare([['-L', '-h', ...built.objects], ['-L', '-S', built.linked[0]], ['--enable-checks', '-e', ...built.linked]])).toEqual([]);
  // -L alone: test/dump/debug-links.test.ts.
});

test('-T, --sym-base in every base, narrow and wide', () => {
  if (skipUnlessReady(pre)) return;
  const cases: string[][] = [];
  for (const base of ['0', '8', '10', '16', '0x10', '010', '7', '']) cases.push([base === '' ? '--sym-base' : `--sym-base=${base}`, '-s', ...built.objects.slice(0, 5)]);
  cases.push(['-T', '-s', ...built.objects], ['-T', '-r', ...built.objects], ['-T', '-S', ...built.objects], ['-Ts', built.linked[2] ?? built.linked[0]], ['-TsW', '--sym-base=16', built.linked[0]]);
  expect(compare(cases)).toEqual([]);
  expect(kelpInProcess(['--sym-base=16', '-s'], [built.objects[0]]).stdout.toString('latin1')).toMatch(/: 0{16} 0x00000 NOTYPE/);
});

test('-C: g++ objects, libstdc++ and the C++ symbols of node, as readelf -C prints them', () => {
  if (skipUnlessReady(pre)) return;
  const cxx = built.objects.filter((f) => /comdat/.test(f));
  expect(cxx.length).toBe(2);
  const s = kelpInProcess(['-sW', '-C'], cxx).stdout.toString('latin1');
  expect(s).toMatch(/ std::vector<int, std::allocator<int> >::_M_realloc_insert<int>\(__gnu_cxx::__normal_iterator<int\*, std::vector<int, std::allocator<int> > >, int&&\)\n/);
  expect(s).toMatch(/ Box<long>::get\(\) const\n/);
  expect(compare([['-sW', '-C', ...cxx], ['-s', '-C', ...cxx], ['-rW', '--demangle', ...cxx], ['-r', '-C', ...cxx], ['-aW', '-C', ...cxx],
    ['--demangle=gnu-v3', '-s', cxx[0]], ['--demangle=rust', '-sW', cxx[0]], ['--demangle=dlang', '-s', cxx[0]], ['--demangle=auto', '-sW', cxx[0]], ['--demangle=none', '-sW', cxx[0]], ['-C', '--no-demangle', '-sW', cxx[0]],
    ['-C', '-sTW', cxx[0]], ['-C', '-sT', cxx[0]], ['--demangle=bogus', '-h', cxx[0]]])).toEqual([]);
  expect(existsSync(LIBSTDCXX)).toBe(true);
  expect(compare([['-sW', '-C', LIBSTDCXX], ['-s', '-C', LIBSTDCXX], ['--dyn-syms', '-C', '-W', LIBSTDCXX], ['-rW', '-C', LIBSTDCXX], ['-VW', '-C', LIBSTDCXX]])).toEqual([]);
});

test('the demangler against c++filt -i (readelf\'s flags) on every C++ symbol of libstdc++ and node: mismatches are counted', () => {
  if (skipUnlessReady(pre)) return;
  const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
  const names = new Set<string>();
  for (const f of [LIBSTDCXX, node]) {
    for (const line of run('nm', ['-D', '--defined-only', f]).split('\n')) {
      const n = line.split(' ')[2];
      if (n && n.startsWith('_Z')) names.add(n.replace(/@.*/, ''));
    }
  }
  const list = [...names].sort();
  expect(list.length).toBeGreaterThan(5000);
  const want = run('c++filt', ['-i'], { input: list.join('\n') + '\n' }).split('\n');
  const bad: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const got = demangle(list[i]) ?? list[i];
    if (got !== want[i]) bad.push(`${list[i]}\n  c++filt: ${want[i]}\n  kelp:    ${got}`);
  }
  // Known: template arguments that are expressions (decltype, enable_if conditions) are left mangled; a handful of
  // lambdas in template arguments of return types print differently. The count is reported, and must stay small.
  if (bad.length > 0) console.log(`demangler: ${bad.length} of ${list.length} names differ from c++filt -i, e.g.\n${bad.slice(0, 3).join('\n')}`);
  expect(bad.length / list.length).toBeLessThan(0.005);
}, 120_000);

test('-U in every mode, in the C and a UTF-8 locale', () => {
  if (skipUnlessReady(pre)) return;
  const files = built.objects.slice(0, 2);
  const cases: string[][] = [];
  for (const u of ['default', 'locale', 'escape', 'hex', 'highlight', 'invalid', 'd', 'l', 'e', 'x', 'h', 'i', 'show']) {
    cases.push([`--unicode=${u}`, '-s', ...files], [`-U${u}`, '-sW', ...files]);
  }
  cases.push(['-U', 'e', '-r', ...files]);
  expect(compare(cases, 'in-process', { ...process.env, LC_ALL: 'C' }, false)).toEqual([]);
  expect(compare(cases, 'in-process', { ...process.env, LC_ALL: 'C.UTF-8' }, true)).toEqual([]);
  expect(kelpInProcess(['-Ue', '-sW'], files).stdout.toString('latin1')).toMatch(/caf\\u00e9_count/);
});

test('-P, -v, -H, -X and usage errors, through bin/kelp', () => {
  if (skipUnlessReady(pre)) return;
  const f = built.objects[0];
  expect(compare([
    ['-v'], ['--version'], ['-H'], ['--help'], ['-h', '-v', f], ['-H', '-v'], ['-v', '-H'], ['-h', '-H', f], [],
    ['-h'], ['-z', f], ['-x', f], ['-X', f], ['--extra-sym-info', f], ['-q', f], ['--bogus', f], ['--s', f], ['--sy', f], ['--no', f], ['--a', f],
    ['--all=3', f], ['--hex-dump'], ['-x'], ['-U'], ['--unicode', '-h', f], ['-C=gnu-v3', '-h', f], ['-i', f], ['--file', f], ['--sec', f], ['--sections', f],
    ['-P', f], ['-P', '-h', f], ['--process-links', '-sW', ...built.linked], ['-h', '--', f], ['--recurse-limit', '--no-recurse-limit', '-h', f],
  ])).toEqual([]);
  // The real CLI takes the same path: a few of them through bin/kelp.
  expect(compare([['-v'], ['-H'], [], ['-X', f], ['--s', f], ['-U', 'bogus', '-h', f]], 'cli')).toEqual([]);
  const v = kelpProcess(['-v'], []);
  expect(v.stdout.toString('latin1')).toMatch(/^GNU readelf \(GNU Binutils for Debian\) 2\.40\n/);
  const java = kelpProcess(['--demangle=java', '-s', f], []);
  expect([java.status, java.stderr]).toEqual([1, 'kelp: dump: --demangle=java is not supported: kelp demangles C++ (auto, gnu-v3) only\n']);
  const w = kelpProcess(['-w', f], []);
  expect([w.status, w.stderr]).toEqual([1, 'kelp: dump: -w is not supported: kelp dump leaves DWARF, CTF, SFrame and LTO symbol dumps to readelf\n']);
});

test('-P: the same output where the linked debug file is not found, a refusal where it is', () => {
  if (skipUnlessReady(pre)) return;
  const d = join(tmp.dir, 'links');
  mkdirSync(join(d, 'alone'), { recursive: true });
  writeFileSync(join(d, 'p.c'), 'int main(void) { return 0; }\n');
  run('gcc', ['-g', '-O1', 'p.c', '-o', 'prog'], { cwd: d });
  run('objcopy', ['--only-keep-debug', 'prog', 'prog.debug'], { cwd: d });
  run('objcopy', ['--strip-debug', '--add-gnu-debuglink=prog.debug', 'prog', 'linked'], { cwd: d });
  run('cp', ['linked', join('alone', 'linked')], { cwd: d });
  expect(compare([['-P', '-h', join(d, 'alone', 'linked')], ['-P', '-aW', join(d, 'alone', 'linked')], ['-P', '-x', '.gnu_debuglink', join(d, 'alone', 'linked')]])).toEqual([]);
  // Where prog.debug can be found readelf may dump it too ("ELF Header in linked file 'prog.debug':"): kelp refuses the file.
  const k = kelpInProcess(['-P', '-h'], [join(d, 'linked')]);
  expect([k.status, k.stderr]).toEqual([1, `kelp: ${join(d, 'linked')}: -P: dumping the linked file ${join(d, 'prog.debug')} is not supported by kelp dump\n`]);
});

test('files readelf complains about: its messages, its exit status, the output of the files around them', () => {
  if (skipUnlessReady(pre)) return;
  const f = built.objects[0];
  expect(compare([
    ['-h', odd.dir], ['-h', odd.empty], ['-h', odd.short], ['-h', odd.header30], ['-h', odd.header40], ['-h', odd.text],
    ['-h', f, odd.text, f], ['-a', f, odd.empty, odd.dir, join(odd.dir, 'missing'), f], ['-c', f], ['-c', '-h', f, built.archives[0]],
    ['-x', '.nope', f], ['-x', '99', f], ['-p', '.nope', '-R', '77', '-x', '2', f], ['-L', '-x', '.nope', '-x', '99', '-h', f],
  ])).toEqual([]);
  expect(compare([['-h', odd.dir], ['-h', odd.text], ['-h', f, join(odd.dir, 'missing')], ['-x', '99', '-x', '.nope', f]], 'cli')).toEqual([]);
});
