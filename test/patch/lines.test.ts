/**
 * The patch line map: where each surviving original line ends up, from file
 * texts (kelp build) and from unified diffs (kelp diff --patch), checked
 * against random edits whose outcome is known line by line.
 */
import { createTwoFilesPatch } from 'diff';
import { LineMap, mapLine } from '../../src/patch/lines.js';
import { rng } from '../support/rng.js';


/** Random deletions and insertions over distinct lines; returns the new lines and, per original line, its new number (or undefined). */
function edit(lines: string[], rand: () => number, tag: string): { after: string[]; moved: Array<number | undefined> } {
  const after: string[] = [];
  const moved: Array<number | undefined> = [];
  let fresh = 0;
  const insert = (): void => {
    const n = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) after.push(`${tag} new ${fresh++}`);
  };
  for (const l of lines) {
    if (rand() < 0.08) insert();
    if (rand() < 0.08) {
      moved.push(undefined);
      continue;
    }
    after.push(l);
    moved.push(after.length);
  }
  if (rand() < 0.3) insert();
  return { after, moved };
}

const text = (lines: string[]): string => lines.map((l) => `${l}\n`).join('');

describe('one stage', () => {
  test('hand-made hunks: lines before, inside (context and removed) and after', () => {
    // @@ -3,4 +3,5 @@: line 3 context, 4 removed, 5 and 6 context, two lines added after 5.
    const hunk = { oldStart: 3, oldLines: 4, newStart: 3, newLines: 5, lines: [' c3', '-c4', ' c5', '+n1', '+n2', ' c6'] };
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((l) => mapLine([hunk], l))).toEqual([1, 2, 3, undefined, 4, 7, 8, 21]);
  });

  test.each([1, 2, 3, 4, 5, 6, 7, 8])('random edits (seed %i): from the texts and from the unified diff agree with the truth', (seed) => {
    const rand = rng(seed);
    const before = Array.from({ length: 200 + Math.floor(rand() * 300) }, (_, i) => `line ${i}`);
    const { after, moved } = edit(before, rand, 'a');
    const fromTexts = LineMap.fromTexts([['f.c', text(before), text(after)]]);
    const patch = createTwoFilesPatch('a/f.c', 'b/f.c', text(before), text(after));
    const fromPatch = LineMap.fromPatchTexts([patch]);
    expect(fromPatch.files).toEqual(['f.c']);
    moved.forEach((want, i) => {
      expect([i + 1, fromTexts.map('f.c', i + 1)]).toEqual([i + 1, want]);
      expect([i + 1, fromPatch.map('f.c', i + 1)]).toEqual([i + 1, want]);
    });
  });
});

test.each([11, 12, 13])('two patches to one file compose in order (seed %i)', (seed) => {
  const rand = rng(seed);
  const v0 = Array.from({ length: 300 }, (_, i) => `line ${i}`);
  const e1 = edit(v0, rand, 'first');
  const e2 = edit(e1.after, rand, 'second');
  const map = LineMap.fromPatchTexts([
    createTwoFilesPatch('a/f.c', 'b/f.c', text(v0), text(e1.after)),
    createTwoFilesPatch('a/f.c', 'b/f.c', text(e1.after), text(e2.after)),
  ]);
  e1.moved.forEach((mid, i) => {
    const want = mid === undefined ? undefined : e2.moved[mid - 1];
    expect([i + 1, map.map('f.c', i + 1)]).toEqual([i + 1, want]);
  });
});

test('explains: some patched file moves the line there; created and deleted files move nothing', () => {
  const map = LineMap.fromTexts([
    ['a.c', 'x\ny\nz\n', 'w\nx\ny\nz\n'],
    ['new.c', null, 'p\nq\n'],
    ['gone.c', 'p\nq\n', null],
  ]);
  expect(map.files).toEqual(['a.c']);
  expect(map.explains(2, 3)).toBe(true);
  expect(map.explains(2, 2)).toBe(false);
  expect(map.explains(0, 1)).toBe(false);
  expect(LineMap.empty().explains(1, 1)).toBe(false);
});
