/**
 * kelpctl's stalled-transition paths on the real Debian kernel under QEMU: a
 * livepatch whose transition genuinely cannot finish, because a kthread
 * sleeps inside the function it replaces.
 *
 * Fixture: test/fixtures/kelpctl-stall builds kelp_sleeper (a kthread started
 * by writing "start" to /proc/kelp_sleeper sleeps in kelp_sleeper_wait until
 * "release" is written; reading the file says "original") and
 * kelp_sleeper_lp, a hand-written livepatch replacing kelp_sleeper_wait and
 * the /proc show function (which then says "patched").
 *
 * `kelp target run` only puts the modules of its load list into the
 * initramfs, and loads them all, in order. So the init loads kelp_sleeper
 * (thread not started) and kelp_sleeper_lp (nothing blocks it yet); the
 * checks unload the patch, start the thread and load the patch again with
 * kelpctl from /kelp/modules/1/, this time into a stall.
 *
 * Debian's 6.1 kernel has no /sys/kernel/livepatch/<patch>/signal file (the
 * livepatch core dropped it in 5.1): the core signals the blocking tasks itself
 * on every fifteenth retry (about 15 s into the transition, printing
 * "signaling remaining tasks" the first time), and kelpctl can only say so at
 * half its timeout. The checks therefore also wait for the core's own signal
 * and show that it wakes the kthread without moving it off the old function.
 *
 * The run takes about 25 s: a 6 s kelpctl timeout, then waiting for the core's
 * signal at about 15 s, then the release.
 */
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { buildKbuildModule, getTarget, runOnTarget, targetPackages, type RunResult, type TargetInfo } from '../support/target.js';

const EXIT_TIMEOUT = 9;
const LP = '/sys/kernel/livepatch/kelp_sleeper_lp';
/** The pid of the kelp_sleeper kthread, in a guest shell. */
const SLEEPER_PID = 'grep -lx kelp_sleeper /proc/[0-9]*/comm | cut -d/ -f3';

let pre: PrereqStatus;
let target: TargetInfo;
let built: { dir: string; modules: string[]; cleanup: () => void } | undefined;
let sleeper: string;
let patch: string;

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
  built = await buildKbuildModule('test/fixtures/kelpctl-stall', target.kdir);
  sleeper = built.modules.find((m) => m.endsWith('/kelp_sleeper.ko'))!;
  patch = built.modules.find((m) => m.endsWith('/kelp_sleeper_lp.ko'))!;
  expect(sleeper).toBeDefined();
  expect(patch).toBeDefined();
}, 900_000);

afterAll(() => built?.cleanup());

function describeRun(r: RunResult): string {
  return JSON.stringify({ ...r, kernelMessages: r.kernelMessages.slice(-30) }, null, 2);
}

/** A check's output, failing with the whole run when it did not exit 0. */
function checkOutput(r: RunResult, i: number): string {
  const c = r.checks[i];
  if (c === undefined || c.exitCode !== 0) throw new Error(`check ${i} (${c?.command}) failed:\n${describeRun(r)}`);
  return c.output;
}

/** Seconds of the kernel log's timestamp on a `[   12.345678] ...` line. */
function stamp(line: string): number {
  const m = /^\[\s*(\d+\.\d+)\]/.exec(line);
  if (m === null) throw new Error(`no timestamp on kernel log line ${line}`);
  return Number(m[1]);
}

test('a transition blocked by a sleeping kthread: kelpctl times out naming it, the patch completes once it is released', async () => {
  if (skipUnlessReady(pre)) return;
  const r = await runOnTarget('kelpctl-stall', {
    kernel: target.kernel,
    load: [sleeper, patch],
    check: [
      // 0: the init's load went through (no thread yet); take the patch out
      // again and start the thread, which is inside kelp_sleeper_wait when
      // the write returns.
      `cat /proc/kelp_sleeper && kelpctl unload kelp_sleeper_lp && cat /proc/kelp_sleeper && ` +
        `echo start >/proc/kelp_sleeper && cat /proc/$(${SLEEPER_PID})/stack`,
      // 1: the stalled load.
      'kelpctl load /kelp/modules/1/kelp_sleeper_lp.ko --timeout 6; echo "exit $?"',
      // 2: left in transition; the kernel has not signalled anyone yet. The
      // consistency model is per task: this shell has been switched, so the
      // cat it forks (which inherits its patch state) already runs the new
      // show function while the kthread still runs the old code.
      `cat ${LP}/enabled ${LP}/transition; if [ -e ${LP}/signal ]; then echo signal file; else echo no signal file; fi; ` +
        `echo "signalled $(dmesg | grep -c 'signaling remaining tasks')"; cat /proc/self/patch_state /proc/kelp_sleeper`,
      // 3: the core's own signal (about 15 s into the transition) wakes the
      // kthread, which goes back to sleep in the old function: still blocked.
      `i=0; until dmesg | grep -q 'signaling remaining tasks'; do [ $i -lt 150 ] || exit 1; sleep 0.2; i=$((i+1)); done; ` +
        `sleep 2; cat ${LP}/transition /proc/$(${SLEEPER_PID})/patch_state /proc/$(${SLEEPER_PID})/stack`,
      // 4: released, the thread leaves kelp_sleeper_wait; the core's next
      // retry (once a second) switches it and completes the transition.
      `echo release >/proc/kelp_sleeper; i=0; while [ "$(cat ${LP}/transition)" = 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ` +
        `echo "enabled $(cat ${LP}/enabled) transition $(cat ${LP}/transition)"; cat /proc/kelp_sleeper; kelpctl list`,
      // 5: and it comes out cleanly.
      'kelpctl unload kelp_sleeper_lp && cat /proc/kelp_sleeper',
    ],
    timeout: 180,
  });
  if (!r.completed) throw new Error(`the target did not finish:\n${describeRun(r)}`);

  // The init loaded both; the patch's transition completed at once.
  const [mSleeper, mPatch] = r.modules;
  expect(mSleeper!.error).toBeNull();
  expect(mPatch!.error).toBeNull();
  expect(mPatch!.output).toContain('kelpctl: kelp_sleeper_lp: loaded, transition complete');

  const c0 = checkOutput(r, 0);
  expect(c0).toMatch(/^patched\nkelpctl: kelp_sleeper_lp: unloaded\noriginal\n/);
  expect(c0).toMatch(/\] kelp_sleeper_wait\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kelp_sleeper\]\n/);

  // The stalled load: at half the timeout kelpctl says the kernel will do the
  // signalling; at the timeout it exits 9 naming the thread, with the stack
  // that shows why it blocks.
  const load = checkOutput(r, 1);
  expect(load).toMatch(
    /^kelpctl: kelp_sleeper_lp: transition stalled after 3s; no signal file, the kernel signals blocking tasks itself after 15s\n/,
  );
  expect(load).toContain('\nkelpctl: kelp_sleeper_lp: transition not finished after 6s; left in transition, tasks still blocking it:\n');
  expect(load).toMatch(
    /\n {2}task \d+ \(kelp_sleeper\): patch_state 0, target 1\n(?: {6}\[<0>\] .*\n)* {6}\[<0>\] kelp_sleeper_wait\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kelp_sleeper\]\n/,
  );
  expect(load).toMatch(new RegExp(`\nexit ${EXIT_TIMEOUT}\n$`));

  expect(checkOutput(r, 2)).toBe('1\n1\nno signal file\nsignalled 0\n1\npatched\n');

  const c3 = checkOutput(r, 3);
  expect(c3).toMatch(/^1\n0\n/);
  expect(c3).toMatch(/\] kelp_sleeper_wait\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kelp_sleeper\]\n/);

  const c4 = checkOutput(r, 4);
  expect(c4).toBe(
    'enabled 1 transition 0\n' +
      'patched\n' +
      'Loaded patch modules:\n' +
      '  kelp_sleeper_lp  enabled=1 transition=0 objects=kelp_sleeper\n' +
      `Installed patch modules (${target.release}):\n` +
      '  (none)\n',
  );
  expect(checkOutput(r, 5)).toBe('kelpctl: kelp_sleeper_lp: unloaded\noriginal\n');

  // The kernel's account: the second patching transition, the core's own
  // signal during it, and completion only after the release (check 3 waited
  // 2 s after the signal and still saw the transition open).
  const klp = r.kernelMessages.filter((l) => l.includes('livepatch: '));
  const starts = klp.filter((l) => l.endsWith(`'kelp_sleeper_lp': starting patching transition`));
  const completes = klp.filter((l) => l.endsWith(`'kelp_sleeper_lp': patching complete`));
  const signalled = klp.filter((l) => l.endsWith('signaling remaining tasks'));
  expect([starts.length, completes.length, signalled.length]).toEqual([2, 2, 1]);
  expect(stamp(signalled[0]!) - stamp(starts[1]!)).toBeGreaterThan(6);
  expect(stamp(completes[1]!) - stamp(signalled[0]!)).toBeGreaterThanOrEqual(2);
}, 300_000);
