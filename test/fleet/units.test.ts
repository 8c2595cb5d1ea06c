/** The fleet build's pure parts: release lists, --patch-for, the worst-outcome order, the table. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, KelpError } from '../../src/errors.js';
import { classify, errorLine, exitCodeOf, OUTCOME_ORDER, worstOutcome } from '../../src/fleet/outcome.js';
import { parsePatchFor, parseReleaseList, readReleaseList } from '../../src/fleet/release-list.js';
import { filterAll, isFleet } from '../../src/fleet/select.js';
import { formatTable } from '../../src/fleet/table.js';
import type { KernelRelease } from '../../src/kernel/releases.js';
import { makeTmpDir } from '../support/tmp.js';

const tmp = makeTmpDir('fleet-units');
afterAll(() => tmp.cleanup());

describe('release lists', () => {
  test('one release a line, blank lines and # comments ignored, duplicates dropped, order kept', () => {
    const text = '# hosts in rack 4\n6.1.0-57-amd64\n\n  6.12.118+deb13-amd64   # trixie hosts\n6.1.0-50-amd64\n6.1.0-57-amd64\n';
    expect(parseReleaseList(text, 'hosts.txt')).toEqual(['6.1.0-57-amd64', '6.12.118+deb13-amd64', '6.1.0-50-amd64']);
  });

  test('a line that is no release names the file and line', () => {
    expect(() => parseReleaseList('6.1.0-57-amd64\nLinux host 6.1.0\n', 'hosts.txt')).toThrow(KelpError);
    try { parseReleaseList('6.1.0-57-amd64\nLinux host 6.1.0\n', 'hosts.txt'); } catch (e) {
      expect((e as KelpError).describe()).toBe('hosts.txt:2: "Linux host 6.1.0": not a kernel release (as uname -r prints it, e.g. 6.1.0-57-amd64)');
    }
    expect(() => parseReleaseList('../../etc\n', 'x')).toThrow(/not a kernel release/);
  });

  test('an empty list and a missing file are one clear error each', () => {
    expect(() => parseReleaseList('# nothing\n\n', 'empty.txt')).toThrow('names no release');
    expect(() => readReleaseList(join(tmp.dir, 'missing.txt'))).toThrow('no such file');
    const f = join(tmp.dir, 'r.txt');
    writeFileSync(f, '6.1.0-50-amd64\n');
    expect(readReleaseList(f)).toEqual(['6.1.0-50-amd64']);
  });

  test('--patch-for RELEASE=FILE', () => {
    expect([...parsePatchFor(['6.1.0-50-amd64=backport.patch'])]).toEqual([['6.1.0-50-amd64', 'backport.patch']]);
    expect(() => parsePatchFor(['backport.patch'])).toThrow('expected RELEASE=FILE');
    expect(() => parsePatchFor(['6.1.0-50-amd64='])).toThrow('expected RELEASE=FILE');
    expect(() => parsePatchFor(['6.1.0-50-amd64=a', '6.1.0-50-amd64=b'])).toThrow('given twice');
  });

  test('a fleet is more than one --release, a list or --all; --all narrows by suite and flavour', () => {
    expect(isFleet({ release: ['a'] })).toBe(false);
    expect(isFleet({ release: ['a', 'b'] })).toBe(true);
    expect(isFleet({ release: [], releases: 'f' })).toBe(true);
    expect(isFleet({ release: [], all: true })).toBe(true);
    const r = (release: string, flavour: string, suites: string[], codename: string, source = true): KernelRelease =>
      ({ release, flavour, version: '1', suite: suites[0]!, suites, codename, headers: true, source });
    const list = [r('6.12.118+deb13-amd64', 'amd64', ['trixie'], 'trixie'), r('6.12.118+deb13-cloud-amd64', 'cloud-amd64', ['trixie'], 'trixie'),
      r('6.1.0-57-amd64', 'amd64', ['bookworm', 'bookworm-security'], 'bookworm'), r('6.1.0-49-amd64', 'amd64', ['bookworm'], 'bookworm', false)];
    expect(filterAll(list)).toEqual(['6.12.118+deb13-amd64', '6.12.118+deb13-cloud-amd64', '6.1.0-57-amd64']);
    expect(filterAll(list, 'bookworm-security')).toEqual(['6.1.0-57-amd64']);
    expect(filterAll(list, 'trixie', 'amd64')).toEqual(['6.12.118+deb13-amd64']);
  });
});

describe('outcomes', () => {
  test('the worst outcome: failed > verification failed > refused > does not apply > no change > built/verified', () => {
    expect(OUTCOME_ORDER).toEqual(['verified', 'built', 'no-change', 'does-not-apply', 'refused', 'verify-failed', 'failed']);
    expect(worstOutcome([])).toBe('built');
    expect(worstOutcome(['verified', 'verified'])).toBe('verified');
    expect(worstOutcome(['verified', 'no-change', 'built'])).toBe('no-change');
    expect(worstOutcome(['no-change', 'does-not-apply'])).toBe('does-not-apply');
    expect(worstOutcome(['does-not-apply', 'refused', 'no-change'])).toBe('refused');
    expect(worstOutcome(['refused', 'verify-failed'])).toBe('verify-failed');
    expect(worstOutcome(['failed', 'verify-failed', 'verified'])).toBe('failed');
  });

  test('exit codes of the outcomes', () => {
    expect(['verified', 'built', 'no-change', 'does-not-apply', 'refused', 'verify-failed', 'failed'].map((o) => exitCodeOf(o as never)))
      .toEqual([ExitCode.Ok, ExitCode.Ok, ExitCode.NoChange, ExitCode.BadInput, ExitCode.Refused, ExitCode.VerifyFailed, ExitCode.BadInput]);
  });

  test('a child build is classified by its exit status and its error line', () => {
    expect(classify(0, true, undefined)).toBe('verified');
    expect(classify(0, false, undefined)).toBe('built');
    expect(classify(ExitCode.NoChange, false, 'p: changes no function')).toBe('no-change');
    expect(classify(ExitCode.Refused, false, 'p: cannot be live-patched')).toBe('refused');
    expect(classify(ExitCode.VerifyFailed, false, 'x.ko: verification failed')).toBe('verify-failed');
    expect(classify(1, false, 'fix.patch: fs/proc/namespaces.c: hunk #2 (@@ -91,7 +91,7 @@) does not apply')).toBe('does-not-apply');
    expect(classify(1, false, 'fix.patch: fs/proc/gone.c: no such file in the tree')).toBe('does-not-apply');
    expect(classify(1, false, 'fix.patch: a.c: hunk #1 (@@ -9,7 +9,7 @@) does not apply with --fuzz 0: it needs fuzz 1 (at line 12)')).toBe('does-not-apply');
    expect(classify(1, false, 'make failed')).toBe('failed');
    expect(classify(null, false, 'stopped by SIGKILL')).toBe('failed');
    expect(classify(ExitCode.Internal, false, undefined)).toBe('failed');
    expect(errorLine('kelp: waiting for the tree: another kelp build (pid 5) is building in /t\nkelp: p: hunk #1 (@@ -1 +1 @@) does not apply\n'))
      .toBe('p: hunk #1 (@@ -1 +1 @@) does not apply');
    expect(errorLine('gcc noise\n')).toBeUndefined();
  });
});

test('the table: one row per release, numbers right-aligned, the reason last', () => {
  const t = formatTable([
    { release: '6.1.0-57-amd64', outcome: 'verified', functions: 2, seconds: 41.25 },
    { release: '6.12.118+deb13-amd64', outcome: 'refused', functions: 0, seconds: 3, reason: 'p: cannot be live-patched: x' },
    { release: '6.1.0-50-amd64', outcome: 'does-not-apply', functions: 0, seconds: 1.5, reason: 'p: a.c: hunk #1 (@@ -91,7 +91,7 @@) does not apply' },
  ]);
  expect(t).toBe([
    'RELEASE               RESULT                FUNCTIONS  SECONDS  DETAIL',
    '6.1.0-57-amd64        verified                      2     41.3',
    '6.12.118+deb13-amd64  refused                       0      3.0  p: cannot be live-patched: x',
    '6.1.0-50-amd64        patch does not apply          0      1.5  p: a.c: hunk #1 (@@ -91,7 +91,7 @@) does not apply',
    '',
  ].join('\n'));
});
