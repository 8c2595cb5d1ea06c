/**
 * The peer suite ../shared/kpatch-unit/x86_64: every PATCHED pair must diff
 * (exit 0) and pass its NAME.test; every PATCHED.FAIL pair must yield no
 * patch (exit 2 refused or 3 no change) with a message. The target's symbol
 * table is the ORIG object's own, as `readelf -s --wide` prints it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = process.cwd();
const SUITE = resolve(ROOT, '../shared/kpatch-unit/x86_64');
const LIBRARY = resolve(SUITE, '../test-library.sh');
const KELP = join(ROOT, 'bin/kelp');

interface Case { name: string; base: string; patched: string; fail: boolean }

function cases(): Case[] {
  if (!existsSync(SUITE)) return [];
  const files = readdirSync(SUITE);
  return files.filter((f) => f.endsWith('.ORIG.o')).sort().map((f) => {
    const name = f.slice(0, -'.ORIG.o'.length);
    const patched = files.find((p) => p === `${name}.PATCHED.o` || p === `${name}.PATCHED.FAIL.o`)!;
    return { name, base: name.replace(/\.NOSTRIP$/, ''), patched, fail: patched.endsWith('.FAIL.o') };
  });
}

function envFor(base: string): Record<string, string> {
  const env: Record<string, string> = {};
  const file = join(SUITE, `${base}.env`);
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(line.trim());
      if (m) env[m[1]] = m[2];
    }
  }
  return env;
}

const work = mkdtempSync(join(tmpdir(), 'kelp-peer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the peer suite is present', () => {
  expect(existsSync(SUITE)).toBe(true);
  expect(cases().length).toBeGreaterThan(30);
});

test.each(cases())('$name', (c) => {
  const dir = mkdtempSync(join(work, `${c.base}-`));
  const symbols = join(dir, 'symbols.txt');
  writeFileSync(symbols, execFileSync('readelf', ['-s', '--wide', join(SUITE, `${c.name}.ORIG.o`)]));
  const out = join(dir, `${c.base}.OUTPUT.o`);
  const r = spawnSync('node', [KELP, 'diff', join(SUITE, `${c.name}.ORIG.o`), join(SUITE, c.patched), '-o', out, '--symbols', symbols],
    { env: { ...process.env, ...envFor(c.base) }, encoding: 'utf8' });
  if (c.fail) {
    expect([2, 3]).toContain(r.status);
    expect(r.stderr).toMatch(/kelp: .*(cannot be live-patched|no functional change)/);
    expect(existsSync(out)).toBe(false);
    return;
  }
  if (r.status !== 0) throw new Error(`kelp diff exited ${r.status}:\n${r.stderr}`);
  const script = join(SUITE, `${c.base}.test`);
  if (!existsSync(script)) return;
  const t = spawnSync('bash', [script, out], { cwd: dir, env: { ...process.env, KPATCH_TEST_LIBRARY: LIBRARY }, encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`${c.base}.test failed (exit ${t.status}):\n${t.stdout}${t.stderr}\nkelp said:\n${r.stderr}`);
});
