/**
 * The files the dump tests compare on, built or found at run time: gcc and
 * g++ objects (function/data sections, mcount records, COMDAT groups, TLS,
 * IFUNC, CET properties, UTF-8 names), a PIE and a shared library, a
 * livepatch-marked object written with elf/model + elf/writer, an object with
 * more than 65280 sections assembled with `as`, the peer's kpatch unit
 * objects, and kernel modules from the Debian kernel image.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfObject, Section, ElfSymbol } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { KPATCH_UNIT_DIR } from '../support/paths.js';
import { run } from '../support/tools.js';

const C_SOURCE = `
#include <stdio.h>
#include <string.h>
static int counter;
__thread int tls_var = 3;
int global_data[100] = {1, 2, 3};
const char *msg = "hello\\tworld\\nsecond line\\n";
const char bytes[] = "\\x01\\x7f\\x80\\xc3\\xa9\\xe2\\x82\\xac end";
static int helper(int x) { return x * 2 + counter; }
int exported(int y) { counter++; return helper(y) + printf("%d\\n", y); }
static void *resolve_foo(void) { return (void *)exported; }
int foo(int) __attribute__((ifunc("resolve_foo")));
int weak_fn(void) __attribute__((weak));
int weak_fn(void) { return 1; }
int __attribute__((visibility("hidden"))) hidden_fn(void) { return 2; }
int __attribute__((visibility("protected"))) protected_fn(void) { return 3; }
int café_count = 1;
int a_very_long_function_name_that_readelf_truncates_in_narrow_mode(void) { return strlen(msg); }
#ifdef WITH_MAIN
int main(void) { return exported(1) + foo(2); }
#endif
`;

const CXX_SOURCE = `
#include <string>
#include <vector>
#include <map>
template <typename T> struct Box { T v; T get() const { return v; } };
inline int inl(int x) { return x + 1; }
int use(std::vector<int> &v, std::map<std::string, int> &m) {
  Box<long> b{3};
  std::string s("abc");
  v.push_back(inl(b.get()));
  m[s] += 1;
  return s.size();
}
`;

const KERNEL_LIKE = `
int printk(const char *fmt, ...);
static int state;
int cmdline_proc_show(void *m, void *v) { state++; return printk("%p %p\\n", m, v); }
static int __attribute__((noinline)) local_helper(int x) { return x + state; }
int exported_fn(int x) { return local_helper(x) * 3; }
const char banner[] = "kelp test";
`;

export interface BuiltCorpus {
  /** Relocatable objects gcc/g++/as built here, plus the livepatch object. */
  objects: string[];
  /** Linked files: a PIE and a shared library built here, and the system libc. */
  linked: string[];
  /** The livepatch-marked object. */
  livepatch: string;
  /** The object with more than 65280 sections. */
  big: string;
  /** Objects with compressed debug sections: gcc -gz=zlib, and zstd (objcopy; gcc 12 has no -gz=zstd). */
  compressed: string[];
  /** A regular archive (with a long member name) and a thin archive of the same members. */
  archives: string[];
}

/** Builds the compiled part of the corpus in `dir` (without the 66000-section object when `big` is false: `big` is then ''). */
export function buildCorpus(dir: string, opts: { big?: boolean } = {}): BuiltCorpus {
  const c = join(dir, 'a.c');
  writeFileSync(c, C_SOURCE);
  const cc = join(dir, 'b.cc');
  writeFileSync(cc, CXX_SOURCE);
  const k = join(dir, 'k.c');
  writeFileSync(k, KERNEL_LIKE);
  const objects: string[] = [];
  const cObj = (name: string, flags: string[], src = c): void => {
    const out = join(dir, name);
    run('gcc', [...flags, '-c', src, '-o', out], { cwd: dir });
    objects.push(out);
  };
  cObj('fsections.o', ['-O2', '-ffunction-sections', '-fdata-sections', '-mfentry', '-pg', '-mrecord-mcount']);
  cObj('plain-g.o', ['-O1', '-g']);
  cObj('cet.o', ['-O2', '-fcf-protection=full', '-Wa,-mx86-used-note=yes']);
  cObj('kernel-like.o', ['-O2', '-fno-pie', '-mcmodel=kernel', '-mno-red-zone', '-mfentry', '-pg', '-mrecord-mcount', '-ffunction-sections', '-fdata-sections'], k);
  const cxx = join(dir, 'comdat.o');
  run('g++', ['-O2', '-ffunction-sections', '-fdata-sections', '-c', cc, '-o', cxx], { cwd: dir });
  objects.push(cxx);
  const gzZlib = join(dir, 'gz-zlib.o');
  run('gcc', ['-O1', '-g', '-gz=zlib', '-c', c, '-o', gzZlib], { cwd: dir });
  const gzZstd = join(dir, 'gz-zstd.o');
  run('objcopy', ['--compress-debug-sections=zstd', join(dir, 'plain-g.o'), gzZstd], { cwd: dir });
  const cxx0 = join(dir, 'comdat-O0.o');
  run('g++', ['-O0', '-c', cc, '-o', cxx0], { cwd: dir });
  objects.push(cxx0);

  const pie = join(dir, 'prog.pie');
  run('gcc', ['-O2', '-DWITH_MAIN', '-pie', '-fPIE', c, '-o', pie, '-Wl,--build-id'], { cwd: dir });
  const so = join(dir, 'liba.so');
  const map = join(dir, 'liba.map');
  writeFileSync(map, 'KELP_1.0 { global: exported; foo; msg; local: *; };\nKELP_2.0 { global: weak_fn; hidden_fn; protected_fn; } KELP_1.0;\n');
  run('gcc', ['-O2', '-shared', '-fPIC', c, '-o', so, `-Wl,--version-script=${map}`], { cwd: dir });
  const linked = [pie, so];
  const libc = '/lib/x86_64-linux-gnu/libc.so.6';
  if (existsSync(libc)) linked.push(libc);

  const livepatch = join(dir, 'livepatch.o');
  writeFileSync(livepatch, livepatchObject(join(dir, 'kernel-like.o')));
  objects.push(livepatch);

  const big = opts.big === false ? '' : join(dir, 'big.o');
  const lines: string[] = [];
  if (big) {
  for (let i = 0; i < 66000; i++) lines.push(`.section .text.f${i},"ax",@progbits\n.globl f${i}\nf${i}: ret\n`);
  lines.push('.section .data.refs,"aw"\n.quad f1\n.quad f65400\n.quad f65999\n');
  writeFileSync(join(dir, 'big.s'), lines.join(''));
  run('as', [join(dir, 'big.s'), '-o', big], { cwd: dir });
  }

  const longName = join(dir, 'a_member_with_a_name_longer_than_sixteen.o');
  run('gcc', ['-O2', '-c', k, '-o', longName], { cwd: dir });
  const members = ['fsections.o', 'comdat.o', 'a_member_with_a_name_longer_than_sixteen.o', 'gz-zlib.o'];
  run('ar', ['rcs', 'lib.a', ...members], { cwd: dir });
  run('ar', ['rcsT', 'thin.a', ...members], { cwd: dir });
  objects.push(gzZlib, gzZstd);
  return { objects, linked, livepatch, big, compressed: [gzZlib, gzZstd], archives: [join(dir, 'lib.a'), join(dir, 'thin.a')] };
}

/**
 * An ET_REL in the kernel's livepatch module format: `.klp.rela.vmlinux..text.exported_fn`
 * (SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH) with relocations against a
 * `.klp.sym` symbol whose st_shndx is SHN_LIVEPATCH.
 */
function livepatchObject(base: string): Buffer {
  const obj = ElfObject.read(readFileSync(base), base);
  const text = obj.sections.find((s) => s.name === '.text.exported_fn');
  if (!text || !obj.symtab) throw new Error('livepatch corpus: base object lacks .text.exported_fn or .symtab');
  const klpSym = obj.addSymbol(new ElfSymbol('.klp.sym.vmlinux.printk,0', 1 /* STB_GLOBAL */, 2 /* STT_FUNC */));
  klpSym.shndx = 0xff20; // SHN_LIVEPATCH
  const klpObj = obj.addSymbol(new ElfSymbol('.klp.sym.vmlinux.saved_command_line,0', 1, 1 /* STT_OBJECT */));
  klpObj.shndx = 0xff20;
  const rela = new Section('.klp.rela.vmlinux..text.exported_fn', 4 /* SHT_RELA */, 0x2 | 0x40 | 0x00100000);
  rela.link = obj.symtab;
  rela.infoSection = text;
  rela.entsize = 24;
  rela.align = 8;
  rela.relocations = [
    { offset: 0x10n, type: 4 /* R_X86_64_PLT32 */, symbol: klpSym, addend: -4n },
    { offset: 0x20n, type: 2 /* R_X86_64_PC32 */, symbol: klpObj, addend: -4n },
  ];
  obj.addSection(rela);
  return writeObject(obj);
}

/** Every object of the peer's kpatch unit suite (empty when the suite is not beside the repository). */
export function kpatchUnitObjects(): string[] {
  if (!existsSync(KPATCH_UNIT_DIR)) return [];
  return readdirSync(KPATCH_UNIT_DIR).filter((n) => n.endsWith('.o')).sort().map((n) => join(KPATCH_UNIT_DIR, n));
}

/** About `count` .ko files spread over a module tree (sorted paths, evenly strided, so the pick is stable). */
export function pickModules(modulesDir: string, count: number): string[] {
  const all: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko') && statSync(p).size > 0) all.push(p);
    }
  };
  walk(modulesDir);
  all.sort();
  if (all.length <= count) return all;
  const step = all.length / count;
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(all[Math.floor(i * step)]);
  return out;
}
