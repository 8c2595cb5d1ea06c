/**
 * Which of `npm test`'s two lanes (test/support/run-lanes.mjs) runs a test
 * file. The lanes run at once, each one jest process running its files one
 * after another, so a kernel tree used by files of one lane only is never
 * built in by two files at once.
 *
 *  - lane "6.1": the files that build in, or check, the default target's
 *    prepared tree (getTarget({ source: true }): the newest bookworm 6.1 with
 *    source), and fleet.test.ts, which builds in it too. They check that
 *    tree's files between builds (the tree as it was, no object left patched),
 *    which a build of another file would disturb: the tree lock serialises
 *    builds, not those checks. BALANCE files go here as well.
 *  - lane "other": every other file. The trees used there are used by no file
 *    of lane "6.1" except through kelp's tree lock, and checked by none of
 *    them: trixie's 6.12 (trixie.test.ts; fleet.test.ts builds there under
 *    the lock), the corpus's 6.1.0-47 (corpus.test.ts), and the small kernel
 *    custom.test.ts builds from a copy of trixie's tree (the copy is taken
 *    under the lock).
 */

/** Files that build in, or check, the default target's prepared tree. */
export const TREE_61_FILES = [
  'test/build/concurrent.test.ts',
  'test/build/module-keys.test.ts',
  'test/build/oot.test.ts',
  'test/build/tree-headers.test.ts',
  'test/build/vmlinux.test.ts',
  'test/ci/pipeline.test.ts',
  'test/fleet/fleet.test.ts',
  'test/target/source.test.ts',
];

/**
 * Files that use no prepared tree, run in lane "6.1" so that the two lanes
 * take about as long. Measured with KELP_TEST_TIMES on the 2-core guest
 * (warm cache, a fresh clone of 4a06051, nothing else running): lane "6.1"
 * with identity.test.ts alone took 1,262 s, lane "other" 1,412 s, of which
 * kelpctl.test.ts 80 s.
 */
export const BALANCE_FILES = [
  'test/dump/identity.test.ts',
  'test/kelpctl/kelpctl.test.ts',
];

/** jest path patterns of the files of lane "6.1". */
export function laneOf61() {
  return [...TREE_61_FILES, ...BALANCE_FILES].map((f) => `${f.replace(/[.+*?^${}()|[\]\\]/g, '\\$&')}$`);
}
