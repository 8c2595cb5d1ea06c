/**
 * Two `kelp build` processes started together on the same prepared Debian
 * kernel tree (CI runners with several jobs and one cache): the second waits
 * for the tree, says so once with the holder's pid, and both succeed with the
 * same module; the tree is left as it was.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { hashFiles, kelpWatching, sourcesModifiedSince, stamp } from './support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('build-concurrent');
const CMDLINE_PATCH = join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (!pre.ok) return;
  target = await getTarget({ source: true });
}, 1_200_000);
afterAll(() => tmp.cleanup());

// The waiter's journal backups go to a directory the holder removes when
// it releases the tree; guard.ts makes it again once the tree is taken.
test('two builds started together on one tree: one waits for the other (said once, with its pid), both succeed', async () => {
  if (skipUnlessReady(pre)) return;
  const tree = target.source!;
  const before = hashFiles(tree, ['fs/proc/cmdline.c']);
  const since = stamp(join(tmp.dir, 'stamp'));
  const pids: number[] = [];
  const waits: Array<Array<number>> = [[], []];
  const run = (i: number) => kelpWatching(
    // --no-cache: both really build in the tree (a cache hit would shorten the first one's hold).
    ['build', CMDLINE_PATCH, '--sourcedir', tree, '--kdir', target.kdir, '--symbols', target.systemMap, '-o', join(tmp.dir, `out${i}`), '--no-cache'],
    (line, pid) => {
      pids[i] = pid;
      const m = /^kelp: waiting for the tree: another kelp build \(pid (\d+)\) is building in (.*)$/.exec(line);
      if (m !== null) {
        expect(m[2]).toBe(tree);
        waits[i].push(Number(m[1]));
      }
    },
  );
  const [a, b] = await Promise.all([run(0), run(1)]);
  // On failure, the end of what kelp said.
  expect([a.status, a.status === 0 ? '' : a.stderr.slice(-2000)]).toEqual([0, '']);
  expect([b.status, b.status === 0 ? '' : b.stderr.slice(-2000)]).toEqual([0, '']);
  // One of them waited for the other; a holder is named once, not once per poll.
  expect([...waits[0], ...waits[1]]).toEqual(expect.arrayContaining([expect.any(Number)]));
  expect(waits[0].includes(pids[1]) || waits[1].includes(pids[0])).toBe(true);
  for (const w of waits) expect(new Set(w).size).toBe(w.length);
  const ko = (i: number) => readFileSync(join(tmp.dir, `out${i}`, 'livepatch-cmdline.ko'));
  expect(ko(0).equals(ko(1))).toBe(true);
  expect(hashFiles(tree, ['fs/proc/cmdline.c'])).toEqual(before);
  expect(sourcesModifiedSince(tree, since)).toEqual([]);
}, 900_000);
