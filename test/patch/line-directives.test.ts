/**
 * #line directives in patched sources: unchanged lines keep their original
 * numbers (checked with gcc's preprocessor), and no directive lands where it
 * would change what the compiler reads: inside a block comment, a spliced
 * line (macro definition) or the parentheses of a macro invocation.
 */
import { spawnSync } from 'node:child_process';
import { safeLineStarts, withLineDirectives } from '../../src/patch/line-directives.js';

/** gcc's preprocessor output without line markers. */
function preprocess(text: string): string {
  const r = spawnSync('gcc', ['-E', '-P', '-x', 'c', '-'], { input: text, encoding: 'utf8' });
  expect([r.status, r.stderr]).toEqual([0, '']);
  return r.stdout;
}

/** The values of `int NAME = __LINE__;` markers after preprocessing. */
function markers(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of preprocess(text).matchAll(/int (\w+) = (\d+);/g)) out[m[1]] = Number(m[2]);
  return out;
}

const before = [
  '/* header */',
  'int a = __LINE__;',
  'int f(int x)',
  '{',
  '\treturn x;',
  '}',
  'int b = __LINE__;',
  'int c = __LINE__;',
  '',
].join('\n');

test('lines after a change keep the numbers they had before the patch', () => {
  const after = before.replace('\treturn x;', '\tif (x < 0)\n\t\treturn 0;\n\treturn x;');
  expect(markers(after)).toEqual({ a: 2, b: 9, c: 10 });
  const d = withLineDirectives(before, after);
  expect(d.directives).toBe(1);
  expect(markers(d.text)).toEqual(markers(before));
  // The directive stands right after the change.
  expect(d.text).toContain('\t\treturn 0;\n#line 5\n\treturn x;\n');
});

test('removed lines, and several changes: each is followed by its directive', () => {
  const after = before.replace('/* header */\n', '').replace('int c = __LINE__;', '/* one */\n/* two */\nint c = __LINE__;');
  const d = withLineDirectives(before, after);
  expect(markers(d.text)).toEqual(markers(before));
  expect(d.directives).toBe(2);
});

test('no change, or a change that moves no line: no directive', () => {
  expect(withLineDirectives(before, before)).toEqual({ text: before, directives: 0 });
  const same = before.replace('\treturn x;', '\treturn x + 1;');
  expect(withLineDirectives(before, same)).toEqual({ text: same, directives: 0 });
});

test('the directive waits for a safe line: not in a comment, a macro definition or macro arguments', () => {
  const orig = [
    'int a = __LINE__;', //                       1
    '/*', //                                      2
    ' * a comment', //                            3
    ' */', //                                     4
    '#define TWICE(x) \\', //                     5
    '\t((x) + \\', //                             6
    '\t (x))', //                                 7
    'int t = TWICE(', //                          8
    '\t__LINE__);', //                            9
    'int b = __LINE__;', //                      10
    '',
  ].join('\n');
  // A line added above the comment. In the patched text, lines 4 and 5 (in the comment), 7 and 8 (spliced) and 10 (in TWICE's parentheses) are not safe.
  const after = orig.replace('int a = __LINE__;\n', 'int a = __LINE__;\nint added;\n');
  const lines = after.split('\n');
  const safe = safeLineStarts(lines.slice(0, -1));
  expect(lines.map((_l, i) => [i + 1, safe[i]]).slice(0, 11)).toEqual([
    [1, true], [2, true], [3, true], [4, false], [5, false], [6, true], [7, false], [8, false], [9, true], [10, false], [11, true],
  ]);
  const d = withLineDirectives(orig, after);
  // The first safe line after the change is the comment's start.
  expect(d.text.split('\n').slice(0, 4)).toEqual(['int a = __LINE__;', 'int added;', '#line 2', '/*']);
  expect(markers(d.text)).toEqual(markers(orig));
  // What the compiler reads is the same apart from line numbers.
  expect(preprocess(d.text).replace(/\d+/g, 'N')).toBe(preprocess(after).replace(/\d+/g, 'N'));
});

test('a change inside a multi-line call: the directive comes after the call closes', () => {
  const orig = 'int g(int, int);\nint h(void)\n{\n\treturn g(1,\n\t\t2);\n}\nint z = __LINE__;\n';
  const after = orig.replace('\treturn g(1,\n', '\treturn g(1 +\n\t\t0,\n');
  const d = withLineDirectives(orig, after);
  const lines = d.text.split('\n');
  const at = lines.indexOf('#line 6');
  expect(at).toBeGreaterThan(0);
  expect(lines[at + 1]).toBe('}');
  expect(markers(d.text)).toEqual(markers(orig));
});

test('strings and character constants do not count parentheses or open comments', () => {
  const lines = ['char *s = "(/*";', "char c = '(';", 'int x = 1; // (', 'int y;'];
  expect(safeLineStarts(lines)).toEqual([true, true, true, true]);
});
