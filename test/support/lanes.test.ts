/**
 * The lanes of `npm test` (test/support/lanes.mjs): every test file that uses
 * the default target's prepared tree runs in lane "6.1", so no two files
 * build in or check that tree at once, and the lists name files that exist.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './paths.js';
// @ts-expect-error: a plain .mjs module of the test runner, without types.
import { BALANCE_FILES, TREE_61_FILES, laneOf61 } from './lanes.mjs';

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith('.test.ts')) out.push(relative(REPO_ROOT, p));
  }
  return out.sort();
}

test('every file that takes the default target with its source runs in lane "6.1"; the lists name existing files', () => {
  const files = testFiles(join(REPO_ROOT, 'test'));
  const users = files.filter((f) => /getTarget\(\{\s*source:\s*true/.test(readFileSync(join(REPO_ROOT, f), 'utf8')));
  expect(users.length).toBeGreaterThan(5);
  expect(users.filter((f) => !(TREE_61_FILES as string[]).includes(f))).toEqual([]);
  for (const f of [...TREE_61_FILES, ...BALANCE_FILES] as string[]) expect([f, existsSync(join(REPO_ROOT, f))]).toEqual([f, true]);
  // The patterns jest gets match their own file only.
  const patterns = (laneOf61() as string[]).map((p) => new RegExp(p));
  for (const f of files) expect([f, patterns.filter((re) => re.test(join(REPO_ROOT, f))).length]).toEqual([f, ([...TREE_61_FILES, ...BALANCE_FILES] as string[]).includes(f) ? 1 : 0]);
});
