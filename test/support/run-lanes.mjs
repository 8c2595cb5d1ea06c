/**
 * `npm test`: jest in two lanes at once, one process each, so that a QEMU
 * boot (one emulated CPU) or a single-threaded kbuild step in one lane leaves
 * the second core to the other lane.
 *
 *  - lane "tree": the test files that build in, or read, a prepared kernel
 *    source tree of the cache (TREE_FILES below). They run one after another
 *    in one process: they check the tree's files between builds, which a build
 *    of another file would disturb (the tree lock serialises builds, not
 *    those checks).
 *  - lane "rest": every other test file, in its own process, also in band.
 *
 * Each lane prints jest's usual report; the exit status is the worse of the
 * two. With arguments (`npm test -- test/dump`), or with KELP_TEST_ONE_LANE=1,
 * jest runs once, in band, with those arguments.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');

/** Test files that use a prepared kernel source tree (--sourcedir, --release, getTarget({ source: true })). */
export const TREE_FILES = [
  'test/build/concurrent.test.ts',
  'test/build/module-keys.test.ts',
  'test/build/oot.test.ts',
  'test/build/tree-headers.test.ts',
  'test/build/trixie.test.ts',
  'test/build/vmlinux.test.ts',
  'test/ci/pipeline.test.ts',
  'test/corpus/corpus.test.ts',
  'test/fleet/fleet.test.ts',
  'test/target/custom.test.ts',
  'test/target/releases.test.ts',
  'test/target/source.test.ts',
  'test/target/share.test.ts',
];

function escape(path) {
  return path.replace(/[.+*?^${}()|[\]\\]/g, '\\$&');
}

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--experimental-vm-modules', jest, '--runInBand', ...args], { cwd: root, stdio: 'inherit' });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const extra = process.argv.slice(2);
let status;
if (extra.length > 0 || process.env.KELP_TEST_ONE_LANE === '1') {
  status = await run(extra);
} else {
  const tree = TREE_FILES.map((f) => `${escape(f)}$`);
  const [a, b] = await Promise.all([
    run(tree),
    run(['--testPathIgnorePatterns', '/node_modules/', ...tree]),
  ]);
  status = Math.max(a, b);
}
process.exit(status);
