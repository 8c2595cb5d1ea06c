/**
 * How kelp diff reaches exported symbols (src/diff/include.ts): an export of
 * vmlinux stays an ordinary undefined symbol, and the output imports its
 * namespace; an export of another module stays ordinary too unless the
 * target module depends on it (then a livepatch relocation: oot.test.ts and
 * trixie.test.ts show that in the VM, with the target's .ko and its depends).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, kelpDiff, workdir } from './support.js';

const src = (k: number) => `
extern int ns_helper(int);
extern int other_mod_helper(int);
noinline int use(int x) { return ns_helper(x) + other_mod_helper(x) + ${k}; }
`;

test('a namespaced vmlinux export is an ordinary reference whose namespace the output imports; another module\'s export the target does not depend on is ordinary too', () => {
  const dir = workdir();
  const symvers = join(dir, 'Module.symvers');
  writeFileSync(symvers, '0x00000000\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n0x00000000\tns_helper\tvmlinux\tEXPORT_SYMBOL_GPL\tSOME_NS\n0x00000000\tother_mod_helper\tdrivers/x/other_mod\tEXPORT_SYMBOL\t\n');
  const orig = compile(dir, 'orig', src(1));
  const patched = compile(dir, 'patched', src(2));
  // vmlinux's code may use any namespace it exports (a module's only those its module imports).
  const v = kelpDiff(orig, patched, join(dir, 'v.o'), ['--target', 'vmlinux', '--symvers', symvers]);
  expect([v.status, v.stderr]).toEqual([0, expect.any(String)]);
  expect(v.obj!.symbols.map((s) => s.name).filter((n) => n.startsWith('.klp.sym.'))).toEqual([]);
  const modinfo = v.obj!.sections.find((s) => s.name === '.modinfo')!.data.toString('latin1').split('\0');
  expect(modinfo).toContain('import_ns=SOME_NS');
  // A module target with no .ko to say what it depends on: other_mod's export stays an ordinary reference.
  const m = kelpDiff(orig, patched, join(dir, 'm.o'), ['--target', 'mymod', '--symvers', symvers]);
  expect([m.status, m.stderr]).toEqual([0, expect.any(String)]);
  const names = m.obj!.symbols.map((s) => s.name);
  expect(names).toContain('other_mod_helper');
  expect(names.filter((n) => n.startsWith('.klp.sym.'))).toEqual([]);
});
