/**
 * Every refusal of `kelp diff` carries a category and, where there is one,
 * a line of advice, in the JSON report and on stderr: small C pairs compiled
 * here with kernel-like flags (see support.ts), one per kind of refusal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, kelpDiff, workdir } from './support.js';
import type { DiffReport } from '../../src/diff/report.js';

function refusals(orig: string, patched: string, args: string[] = []): { status: number | null; stderr: string; report: DiffReport } {
  const dir = workdir();
  const r = kelpDiff(compile(dir, 'orig', orig), compile(dir, 'patched', patched), join(dir, 'out.o'), [...args, '--json', join(dir, 'report.json')]);
  return { status: r.status, stderr: r.stderr, report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as DiffReport };
}

const JUMP16 = ['--entry-size', '__jump_table=16'];

const keyed = (key: string, decl: string) => (k: number) => `
${decl}
noinline int gated(int x) {
  JUMP_SITE(${key}, yes); x += 1;
yes:
  return x + ${k};
}
`;

test.each([
  ['existing data', (k: number) => `int limits[2] = {10, ${k}};\nnoinline int lim(int i) { return limits[i]; }\n`, [], 'limits', 'data-changed', /shadow variable/],
  ['a device ID table (MODULE_DEVICE_TABLE\'s alias)', (k: number) => `const int ids[3] = {1, ${k}, 0};\nextern const int __mod_pci__ids_device_table[3] __attribute__((unused, alias("ids")));\nnoinline int first(int i) { return ids[i]; }\n`, [], 'ids', 'device-table', /updated module/],
  ['__init code', (k: number) => `int setup_value;\n__init int setup(void) { setup_value = ${k}; return 0; }\n`, [], 'setup', 'init-code', /callback/],
  ['a function without __fentry__', (k: number) => `notrace noinline int raw(int x) { return x + ${k}; }\nnoinline int use(int x) { return raw(x) + 1; }\nvoid *keep_raw = raw;\n`, [], 'raw', 'no-fentry', /functions that call it/],
  // 6.1's 16-byte jump entries, as kelp build passes them from the target kernel.
  ['a jump label keyed in the module', keyed('mod_key', 'struct static_key mod_key;'), ['--target', 'mymod', ...JUMP16], 'gated', 'jump-label-key-in-module', /static_key_enabled/],
  ['a dynamic debug site of the module', keyed('__UNIQUE_ID_ddebug7', 'static struct { struct static_key key; } __UNIQUE_ID_ddebug7 __attribute__((used));'), ['--target', 'mymod', ...JUMP16], 'gated', 'dynamic-debug', /pr_info/],
  ['a tracepoint of the module', keyed('__tracepoint_kelp_ev', 'struct static_key __tracepoint_kelp_ev;'), ['--target', 'mymod', ...JUMP16], 'gated', 'tracepoint', /trace/],
] as const)('%s: refused with its category and advice', (_what, src, args, name, category, advice) => {
  const r = refusals(src(1), src(2), [...args]);
  expect(r.status).toBe(2);
  expect(r.report.refusals.length).toBeGreaterThan(0);
  expect(r.report.refusals.filter((x) => x.category !== category)).toEqual([]);
  const [x] = r.report.refusals;
  expect(x.where).toContain(name);
  expect(x.advice).toMatch(advice);
  expect(r.stderr).toContain(`[${category}]; advice: ${x.advice}`);
});
