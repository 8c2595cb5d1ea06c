/**
 * objtool's tables keep exactly the entries of the functions the output
 * holds: `.static_call_sites`, `.retpoline_sites`, `.return_sites`,
 * `.ibt_endbr_seal` and ORC (`.orc_unwind_ip` with `.orc_unwind`). Real gcc
 * output with the mitigations' flags (thunk-extern retpolines and return
 * thunks, -fcf-protection=branch), annotated by the target kernel's own
 * objtool (--module, as kbuild runs it on a module's object; the fetched
 * Debian 6.1 target's kbuild ships it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianPackages } from '../support/prereq.js';
import { getTarget, targetPackages } from '../support/target.js';
import { CFLAGS, kelpDiff, workdir } from './support.js';

const FLAGS = [...CFLAGS, '-fcf-protection=branch', '-mindirect-branch=thunk-extern', '-mindirect-branch-register', '-mfunction-return=thunk-extern', '-fno-asynchronous-unwind-tables'];
const TABLES = ['.static_call_sites', '.retpoline_sites', '.return_sites', '.ibt_endbr_seal', '.orc_unwind_ip'];

let objtool: string;

beforeAll(async () => {
  await ensureDebianPackages(targetPackages());
  const t = await getTarget();
  objtool = join(t.kdir, 'tools', 'objtool', 'objtool');
  if (!existsSync(objtool)) throw new Error(`the target's kbuild has no objtool (${objtool})`);
}, 1_800_000);

const SRC = (aBody: string, extra = ''): string => `
extern void __SCT__tp_demo(int);
extern int (*hook)(int);
int sealed_one(int x) { return x + 1; }
__attribute__((noinline)) int a(int x) { ${aBody} }
__attribute__((noinline)) int b(int x) { __SCT__tp_demo(x + 1); return hook(x) * 2; }
${extra}
`;

function build(dir: string, name: string, src: string): string {
  const c = join(dir, `${name}.c`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, src);
  execFileSync('gcc', [...FLAGS, '-c', c, '-o', o]);
  execFileSync(objtool, ['--ibt', '--orc', '--retpoline', '--rethunk', '--static-call', '--module', '--link', o]);
  return o;
}

/** Per table, the functions its entries' first relocations name (section symbol `.text.f` or `f`/`__pfx_f`), in order. */
function tableOwners(file: string): Map<string, string[]> {
  const text = execFileSync('readelf', ['-rW', file], { encoding: 'utf8' });
  const out = new Map<string, string[]>();
  for (const block of text.split(/\nRelocation section '/).slice(1)) {
    const sec = /^\.rela(\S+)'/.exec(block)?.[1];
    if (!sec || !TABLES.includes(sec)) continue;
    const owners: string[] = [];
    const step = sec === '.static_call_sites' ? 8 : 4;
    for (const line of block.split('\n')) {
      const m = /^([0-9a-f]{16})\s+\S+\s+R_X86_64_\w+\s+[0-9a-f]+\s+(\S+)/.exec(line);
      if (!m || Number.parseInt(m[1], 16) % step !== 0) continue;
      owners.push(m[2].replace(/^\.text\./, '').replace(/^__pfx_/, ''));
    }
    out.set(sec, owners);
  }
  return out;
}

test('objtool tables keep exactly the included functions\' entries', () => {
  const dir = workdir();
  const o = build(dir, 'orig', SRC('__SCT__tp_demo(x); return hook(x) + sealed_one(x);'));
  const p = build(dir, 'patched', SRC('__SCT__tp_demo(x); __SCT__tp_demo(x + 2); return hook(x) + sealed_one(x) + fresh(x);',
    '__attribute__((noinline)) int fresh(int x) { return hook(x ^ 3); }').replace('int sealed_one', 'int fresh(int);\nint sealed_one'));
  const r = kelpDiff(o, p, join(dir, 'out.o'));
  expect(r.stderr).toMatch(/changed function: a\b/);
  expect(r.status).toBe(0);
  const included = new Set(['a', 'fresh']);
  const before = tableOwners(p);
  const after = tableOwners(r.out);
  // The patched object has entries for every function; the output for a and fresh only, all of them.
  expect([...before.keys()].sort()).toEqual([...TABLES].sort());
  for (const t of TABLES) {
    const want = (before.get(t) ?? []).filter((f) => included.has(f));
    expect([t, (after.get(t) ?? []).sort()]).toEqual([t, want.sort()]);
  }
  expect(after.get('.static_call_sites')!.filter((f) => f === 'a')).toHaveLength(2);
  expect(after.get('.ibt_endbr_seal')).toEqual(expect.arrayContaining(['fresh']));
});
