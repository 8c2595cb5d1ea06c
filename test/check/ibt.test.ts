/**
 * kelp check's `ibt.endbr` rule on real gcc output (-fcf-protection=branch):
 * a module whose code takes the address of target functions through
 * `.klp.sym` symbols (the livepatch core resolves them to the running
 * kernel's functions), against a "kernel" linked by ld whose
 * `.ibt_endbr_seal` is laid out as objtool writes it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHN_LIVEPATCH } from '../../elf/constants.js';
import { ElfObject } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { checkModule } from '../../src/check/index.js';

const CFLAGS = ['-O2', '-fno-pie', '-mcmodel=kernel', '-mno-red-zone', '-mfentry', '-ffunction-sections', '-fdata-sections', '-fcf-protection=branch'];
let dir: string;
let image: string;
let map: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kelp-check-ibt-'));
  writeFileSync(join(dir, 'kernel.c'), [
    'int ext_sealed(int x) { return x + 1; }',
    'int ext_live(int x) { return x + 2; }',
    '__attribute__((nocf_check)) int ext_noendbr(int x) { return x + 3; }',
    'int (*keep_live)(int) = ext_live;',
  ].join('\n'));
  execFileSync('gcc', [...CFLAGS, '-c', join(dir, 'kernel.c'), '-o', join(dir, 'kernel.o')]);
  writeFileSync(join(dir, 'seal.s'), '.section .note.GNU-stack,"",@progbits\n.section .ibt_endbr_seal,"a"\n.long ext_sealed - .\n');
  execFileSync('as', [join(dir, 'seal.s'), '-o', join(dir, 'seal.o')]);
  image = join(dir, 'vmlinux');
  execFileSync('ld', ['-static', '-nostdlib', '-e', '0', '-Ttext=0xffffffff81000000', '-o', image, join(dir, 'kernel.o'), join(dir, 'seal.o')]);
  map = join(dir, 'System.map');
  writeFileSync(map, execFileSync('nm', ['-n', image], { encoding: 'utf8' }));
});

/** A module whose `caller` does `body`, its references to ext_* turned into `.klp.sym.vmlinux.<name>,0` (SHN_LIVEPATCH). */
function livepatchModule(name: string, body: string): string {
  const c = join(dir, `${name}.c`);
  writeFileSync(c, [
    'extern int ext_sealed(int), ext_live(int), ext_noendbr(int);',
    '__attribute__((noinline)) int run(int (*f)(int), int x) { return f(x); }',
    `__attribute__((noinline)) int caller(int x) { ${body} }`,
    'static const char modinfo[] __attribute__((section(".modinfo"), used)) = "livepatch=Y\\0license=GPL\\0name=lp_ibt";',
  ].join('\n'));
  const o = join(dir, `${name}.o`);
  execFileSync('gcc', [...CFLAGS, '-c', c, '-o', o]);
  const obj = ElfObject.read(readFileSync(o), o);
  for (const s of obj.symbols) {
    if (s.isUndefined && s.name.startsWith('ext_')) {
      s.name = `.klp.sym.vmlinux.${s.name},0`;
      s.shndx = SHN_LIVEPATCH;
    }
  }
  const ko = join(dir, `${name}.ko`);
  writeFileSync(ko, writeObject(obj));
  return ko;
}

const ibtProblems = (ko: string, kernel?: string) => {
  const r = checkModule(ko, { symbols: map, kernel });
  return { problems: r.problems.filter((p) => p.rule === 'ibt.endbr'), notes: r.notes.filter((n) => n.startsWith('ibt.endbr')) };
};

describe('kelp check: ibt.endbr', () => {
  test('taking the address of a sealed and of an ENDBR-less function: two problems, naming them', () => {
    const ko = livepatchModule('bad', 'return run(ext_sealed, x) + run(ext_noendbr, x) + run(ext_live, x);');
    const { problems } = ibtProblems(ko, image);
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^takes the address of vmlinux's ext_sealed \(\.klp\.sym\.vmlinux\.ext_sealed,0\), but the kernel seals its ENDBR64 when it boots .*"Missing ENDBR"/),
      expect.stringMatching(/^takes the address of vmlinux's ext_noendbr \(.*\), but it has no ENDBR64 \(.*the compiler left it out\)/),
    ]);
    expect(problems[0].place).toMatch(/^\.text\.caller\+0x[0-9a-f]+$/);
  });

  test('direct calls and a function whose ENDBR survives: no problem', () => {
    const ko = livepatchModule('good', 'return ext_sealed(x) + ext_noendbr(x) + run(ext_live, x);');
    expect(ibtProblems(ko, image).problems).toEqual([]);
  });

  test('without --kernel: a note says what was not checked', () => {
    const ko = livepatchModule('unknown', 'return run(ext_sealed, x);');
    const r = ibtProblems(ko);
    expect(r.problems).toEqual([]);
    expect(r.notes).toEqual([expect.stringMatching(/functions of vmlinux under IBT; whether their ENDBR survives was not checked \(give --kernel/)]);
  });
});
