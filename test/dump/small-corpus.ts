/** A few small real objects for the fuzz test: a gcc object with function sections, a g++ COMDAT object, a PIE and a shared library. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../support/tools.js';

const C = `
#include <stdio.h>
static int counter;
__thread int tls_var = 3;
int global_data[8] = {1, 2, 3};
const char *msg = "hello\\n";
static int helper(int x) { return x * 2 + counter; }
int exported(int y) { counter++; return helper(y) + printf("%d\\n", y); }
int weak_fn(void) __attribute__((weak));
int weak_fn(void) { return 1; }
#ifdef WITH_MAIN
int main(void) { return exported(1); }
#endif
`;

const CXX = `
#include <vector>
inline int inl(int x) { return x + 1; }
int use(std::vector<int> &v) { v.push_back(inl(3)); return v.size(); }
`;

export function buildSmallCorpus(dir: string): string[] {
  const c = join(dir, 's.c');
  writeFileSync(c, C);
  const cc = join(dir, 's.cc');
  writeFileSync(cc, CXX);
  const out = (n: string) => join(dir, n);
  run('gcc', ['-O2', '-ffunction-sections', '-fdata-sections', '-mfentry', '-pg', '-mrecord-mcount', '-fcf-protection', '-c', c, '-o', out('s.o')], { cwd: dir });
  run('g++', ['-O2', '-c', cc, '-o', out('s-cxx.o')], { cwd: dir });
  run('gcc', ['-O2', '-DWITH_MAIN', '-pie', '-fPIE', c, '-o', out('s.pie')], { cwd: dir });
  run('gcc', ['-O2', '-shared', '-fPIC', c, '-o', out('s.so')], { cwd: dir });
  return [out('s.o'), out('s-cxx.o'), out('s.pie'), out('s.so')];
}
