/**
 * kelp diff's IBT rule on real gcc output (-fcf-protection=branch, as an
 * IBT kernel compiles): a "kernel" image linked by ld from gcc objects, its
 * `.ibt_endbr_seal` written as objtool writes it (s32 offsets to the sealed
 * ENDBRs), and its System.map from nm. A patch that newly takes the address
 * of a sealed or ENDBR-less target function is refused; one of a function
 * the patched object defines gets the patch's own copy; direct calls and
 * live ENDBRs pass.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, definedFunctions, kelpDiff, workdir, CFLAGS } from './support.js';

const IBT = ['-fcf-protection=branch', '-fpatchable-function-entry=16,16'];

/** The "kernel": functions with and without ENDBR, some sealed; returns [image, System.map]. */
function kernelImage(dir: string, sealed: string[]): [string, string] {
  const c = join(dir, 'kernel.c');
  writeFileSync(c, `
int ext_sealed(int x) { return x + 1; }
int ext_live(int x) { return x + 2; }
__attribute__((nocf_check)) int ext_noendbr(int x) { return x + 3; }
int helper(int x) { return x * 7; }
int (*keep_live)(int) = ext_live;
`);
  execFileSync('gcc', [...CFLAGS.filter((f) => f !== '-pg' && f !== '-mrecord-mcount'), '-fcf-protection=branch', '-c', c, '-o', join(dir, 'kernel.o')]);
  const s = join(dir, 'seal.s');
  writeFileSync(s, `.section .note.GNU-stack,"",@progbits\n.section .ibt_endbr_seal,"a"\n${sealed.map((f) => `.long ${f} - .\n`).join('')}`);
  execFileSync('as', [s, '-o', join(dir, 'seal.o')]);
  const image = join(dir, 'vmlinux');
  execFileSync('ld', ['-static', '-nostdlib', '-e', '0', '-Ttext=0xffffffff81000000', '-o', image, join(dir, 'kernel.o'), join(dir, 'seal.o')]);
  const map = join(dir, 'System.map');
  writeFileSync(map, execFileSync('nm', ['-n', image], { encoding: 'utf8' }));
  return [image, map];
}

const ORIG = `
extern int ext_sealed(int), ext_live(int), ext_noendbr(int);
int helper(int x) { return x * 7; }
noinline int run(int (*f)(int), int x) { return f(x); }
noinline int caller(int x) { return ext_sealed(x) + helper(x); }
`;

function diffPair(patchedBody: string, args: (image: string, map: string) => string[]) {
  const dir = workdir();
  const [image, map] = kernelImage(dir, ['ext_sealed', 'ext_noendbr', 'helper']);
  const o = compile(dir, 'orig', ORIG, IBT);
  const p = compile(dir, 'patched', ORIG.replace(/noinline int caller[^\n]*\n/, `noinline int caller(int x) { ${patchedBody} }\n`), IBT);
  return kelpDiff(o, p, join(dir, 'out.o'), args(image, map));
}

const withKernel = (image: string, map: string): string[] => ['--symbols', map, '--kernel', image];

describe('IBT: taking the address of a target function', () => {
  test('of a sealed function: refused, naming the function and the fault', () => {
    const r = diffPair('return run(ext_sealed, x);', withKernel);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/orig|patched/);
    expect(r.stderr).toMatch(/caller\+0x[0-9a-f]+: takes the address of ext_sealed, but the target seals its ENDBR64 at boot .*\.ibt_endbr_seal lists it.*Missing ENDBR/);
  });

  test('of a function compiled without ENDBR: refused', () => {
    const r = diffPair('return run(ext_noendbr, x);', withKernel);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/takes the address of ext_noendbr, but it has no ENDBR64 in the target/);
  });

  test('of a function whose ENDBR survives: accepted', () => {
    const r = diffPair('return run(ext_live, x);', withKernel);
    expect(r.stderr).not.toMatch(/ENDBR/);
    expect(r.status).toBe(0);
  });

  test('direct calls of a sealed function need no ENDBR: accepted', () => {
    const r = diffPair('return ext_sealed(x) * 2 + helper(x);', withKernel);
    expect(r.stderr).not.toMatch(/ENDBR/);
    expect(r.status).toBe(0);
  });

  test('of a sealed function the object defines: the patch carries its own copy (with its ENDBR) and points there', () => {
    const r = diffPair('return run(helper, x);', withKernel);
    expect(r.status).toBe(0);
    expect(definedFunctions(r)).toEqual(expect.arrayContaining(['caller', 'helper']));
    expect(r.meta!.newFunctions).toContain('helper');
    const text = r.obj!.sections.find((s) => s.name === '.text.helper')!;
    const at = r.obj!.symbols.find((s) => s.name === 'helper')!;
    expect(text.data.subarray(Number(at.value), Number(at.value) + 4)).toEqual(Buffer.from([0xf3, 0x0f, 0x1e, 0xfa]));
  });

  test('without --kernel an IBT object refuses it, asking for the image', () => {
    const r = diffPair('return run(ext_live, x);', (_i, map) => ['--symbols', map]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/takes the address of ext_live, and kelp cannot tell .* give --kernel/);
  });

  test('a kernel without IBT (objects without ENDBR, no --kernel): no rule', () => {
    const dir = workdir();
    const o = compile(dir, 'orig', ORIG);
    const p = compile(dir, 'patched', ORIG.replace(/noinline int caller[^\n]*\n/, 'noinline int caller(int x) { return run(ext_sealed, x); }\n'));
    const r = kelpDiff(o, p, join(dir, 'out.o'));
    expect(r.status).toBe(0);
  });
});

test("IBT: taking the address of an export of a module the target depends on is accepted: its __ksymtab entry keeps that function's ENDBR64, and the livepatch reaches it with the target", () => {
  const dir = workdir();
  // The target module's .ko: IBT code, and a .modinfo that says it depends on other_mod.
  const ko = join(dir, 'mymod.ko');
  writeFileSync(join(dir, 'mymod.c'), 'static const char dep[] __attribute__((section(".modinfo"), used, aligned(1))) = "depends=other_mod";\nint mymod_fn(int x) { return x + 1; }\n');
  execFileSync('gcc', [...CFLAGS, ...IBT, '-c', join(dir, 'mymod.c'), '-o', ko]);
  const symvers = join(dir, 'Module.symvers');
  writeFileSync(symvers, '0x00000000\tother_mod_helper\tdrivers/x/other_mod\tEXPORT_SYMBOL\t\n');
  const src = (body: string) => `extern int other_mod_helper(int);\nnoinline int run(int (*f)(int), int x) { return f(x); }\nnoinline int caller(int x) { ${body} }\n`;
  const o = compile(dir, 'orig', src('return other_mod_helper(x);'), IBT);
  const p = compile(dir, 'patched', src('return run(other_mod_helper, x);'), IBT);
  const r = kelpDiff(o, p, join(dir, 'out.o'), ['--target', 'mymod', '--symbols', ko, '--symvers', symvers]);
  expect([r.status, r.stderr]).toEqual([0, expect.not.stringMatching(/ENDBR|cannot tell/)]);
  expect(r.obj!.symbols.map((s) => s.name)).toContain('.klp.sym.other_mod.other_mod_helper,0');
});
