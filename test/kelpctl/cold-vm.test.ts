/**
 * Old `.cold` parts and the consistency model, in the VM: a kthread asleep in
 * the `.cold` part of a function the livepatch replaces does not hold the
 * transition back (the livepatch core checks a stack only against the
 * function's own range), and once woken it returns into the old code. kelp
 * build records the part in the livepatch's modinfo (kelp_cold=), and
 * kelpctl load names the task while loading.
 *
 * Fixture: test/fixtures/cold-sleeper (kelp_cold: "start" written to
 * /proc/kelp_cold starts a kthread that waits in kelp_cold_work.cold until
 * "release" is written; reading the file prints kelp_cold_work(0)'s value,
 * 1, which fix.patch makes 3, and the message logged after the release
 * says which code the thread came back to).
 *
 * One boot: kelp build --verify loads kelp_cold and the livepatch; the checks
 * unload the livepatch, start the thread, load the livepatch again with
 * kelpctl from the initramfs (/kelp/modules/1/), then release the thread.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { kelp, outputs } from '../build/support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('cold-vm');

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (pre.ok) target = await getTarget();
}, 900_000);
afterAll(() => tmp.cleanup());

const PID = 'grep -lx kelp_cold /proc/[0-9]*/comm | cut -d/ -f3';

test('a task asleep in an old .cold part: kelp build records it, kelpctl load names the task, and the task comes back into the old code after the transition', () => {
  if (skipUnlessReady(pre)) return;
  const mod = join(REPO_ROOT, 'test', 'fixtures', 'cold-sleeper');
  const out = join(tmp.dir, 'out');
  const r = kelp([
    'build', join(mod, 'fix.patch'), '--oot-module', mod, '--target', 'kelp_cold', '--kdir', target.kdir,
    '--name', 'livepatch-cold', '-o', out, '--json', '--verify',
    '--check', `cat /proc/kelp_cold; kelpctl unload livepatch_cold; cat /proc/kelp_cold; echo start >/proc/kelp_cold; cat /proc/$(${PID})/stack`,
    '--check', 'kelpctl load /kelp/modules/1/livepatch-cold.ko --timeout 30 2>&1; echo "exit $?"; cat /proc/kelp_cold',
    '--check', 'echo release >/proc/kelp_cold; sleep 1; dmesg | grep -o "kelp_cold: released into the [a-z]* code"',
  ]);
  expect([r.status, r.stderr.slice(-3000)]).toEqual([0, expect.any(String)]);
  const report = JSON.parse(r.stdout);
  expect(report.objects[0].coldParts).toEqual([{ name: 'kelp_cold_work', parts: ['kelp_cold_work.cold'] }]);
  expect(r.stderr).toMatch(/old \.cold parts: kelp_cold_work: kelp_cold_work\.cold/);
  const [c0, c1, c2] = outputs(report).before;
  // Patched, unloaded, original; the thread sleeps in the .cold part.
  expect(c0).toMatch(/^work 3\nkelpctl: livepatch_cold: unloaded\nwork 1\n/);
  expect(c0).toMatch(/\] kelp_cold_work\.cold\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kelp_cold\]\n/);
  // The transition completes at once (the core does not see the task), and kelpctl names it.
  expect(c1).toMatch(/kelpctl: livepatch_cold: task \d+ \(kelp_cold\) is in kelp_cold_work\.cold \(kelp_cold\), an old \.cold part of a function the patch replaces: the transition does not wait for it, and it returns into the old code\n/);
  expect(c1).toContain('kelpctl: livepatch_cold: loaded, transition complete\n');
  expect(c1).toMatch(/exit 0\nwork 3\n$/);
  // The hazard kelpctl warned of: the patch is complete, yet the task ran old code.
  expect(c2).toBe('kelp_cold: released into the original code\n');
  expect(report.verify.ok).toBe(true);
}, 900_000);
