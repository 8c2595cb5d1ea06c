/**
 * The make runner (src/kernel/make.ts): make's output is read as UTF-8, the
 * way gcc writes its quotes in a UTF-8 locale, even when a character is split
 * across two writes; the failure summary picks the error lines.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFailure, runMake } from '../../src/kernel/make.js';
import { makeTmpDir } from '../support/tmp.js';

test('gcc-style curly quotes come through whole, split writes included, and the error line is the summary', async () => {
  const tmp = makeTmpDir('make-utf8');
  try {
    // Two printf calls split the closing quote (e2 80 99) between its first byte and the rest.
    writeFileSync(join(tmp.dir, 'Makefile'), [
      'all:',
      "\t@printf 'x.c:1:2: error: \\342\\200\\230foo\\342\\200\\231 undeclared\\n' >&2",
      "\t@printf 'note: \\342\\200\\230bar\\342' >&2; sleep 0.2; printf '\\200\\231\\n' >&2",
      '\t@exit 1',
      '',
    ].join('\n'));
    const r = await runMake([], { cwd: tmp.dir, vars: {} });
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain('x.c:1:2: error: \u2018foo\u2019 undeclared\n');
    expect(r.output).toContain('note: \u2018bar\u2019\n');
    expect(makeFailure(r.output)).toMatch(/^x\.c:1:2: error: \u2018foo\u2019 undeclared \/ make: \*\*\* .*Error 1/);
  } finally {
    tmp.cleanup();
  }
});
