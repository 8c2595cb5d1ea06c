/**
 * `npm test`: jest in two lanes at once, one process each, so that a QEMU
 * boot (one emulated CPU) or a single-threaded kbuild step in one lane leaves
 * the second core to the other lane.
 *
 *  - lane "6.1": the files that build in, or check, the default target's
 *    prepared kernel tree, and a few others to even the lanes out
 *    (test/support/lanes.mjs says which, and why);
 *  - lane "other": every other test file.
 *
 * Each lane prints jest's usual report; the exit status is the worse of the
 * two. With arguments (`npm test -- test/dump`), or with KELP_TEST_ONE_LANE=1,
 * jest runs once, in band, with those arguments. KELP_TEST_TIMES=DIR also
 * writes each lane's jest JSON report (every file's and test's duration) to
 * DIR/<lane>.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { laneOf61 } from './lanes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');

function run(args, lane) {
  const times = process.env.KELP_TEST_TIMES ? ['--json', `--outputFile=${join(process.env.KELP_TEST_TIMES, `${lane}.json`)}`] : [];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--experimental-vm-modules', jest, '--runInBand', ...times, ...args], { cwd: root, stdio: 'inherit' });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (process.env.KELP_TEST_TIMES) mkdirSync(process.env.KELP_TEST_TIMES, { recursive: true });
const extra = process.argv.slice(2);
let status;
if (extra.length > 0 || process.env.KELP_TEST_ONE_LANE === '1') {
  status = await run(extra, 'one');
} else {
  const lane61 = laneOf61();
  const [a, b] = await Promise.all([
    run(lane61, '6.1'),
    run(['--testPathIgnorePatterns', '/node_modules/', ...lane61], 'other'),
  ]);
  status = Math.max(a, b);
}
process.exit(status);
