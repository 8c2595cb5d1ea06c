/**
 * A bundle in the target VM: the vmlinux example built for the fetched
 * bookworm kernel plus a decoy for another release, packed by kelp bundle,
 * put into the VM with `kelp target run --file`, and loaded there by
 * `kelpctl load /fix.tar` under busybox (its tar and sha256sum): the running
 * kernel's module is picked and patches /proc/cmdline; a bundle with only the
 * decoy is refused with exit 11. One boot.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, runOnTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { kelp } from '../build/support.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('bundle-vm');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (!pre.ok) return;
  target = await getTarget({ source: true });
}, 1_200_000);

/** Another release of the same shape (`uname -r` length kept): the ABI number changed. */
function otherRelease(release: string): string {
  const m = /^(\d+\.\d+\.\d+-)(\d+)(.*)$/.exec(release);
  if (m === null) throw new Error(`unexpected release ${release}`);
  const abi = m[2] === '9'.repeat(m[2].length) ? '1'.repeat(m[2].length) : '9'.repeat(m[2].length);
  return `${m[1]}${abi}${m[3]}`;
}

test('kelpctl load /fix.tar in the VM picks the running kernel\'s module, checks it and patches; a bundle without one is refused (exit 11)', async () => {
  if (skipUnlessReady(pre)) return;
  const release = target.release;
  const fleet = join(tmp.dir, 'fleet');
  const own = join(fleet, release);
  const b = kelp(['build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'), '--sourcedir', target.source!, '--kdir', target.kdir, '--symbols', target.systemMap, '-o', own]);
  expect([b.status, b.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  // The decoy: the same module claiming another release in its vermagic (it would not load here).
  const decoyRelease = otherRelease(release);
  const decoy = join(fleet, decoyRelease);
  fs.mkdirSync(decoy);
  const bytes = fs.readFileSync(join(own, 'livepatch-cmdline.ko'));
  const at = bytes.indexOf(Buffer.from(`vermagic=${release} `));
  expect(at).toBeGreaterThan(0);
  bytes.write(`vermagic=${decoyRelease} `, at, 'latin1');
  fs.writeFileSync(join(decoy, 'livepatch-cmdline.ko'), bytes);
  fs.copyFileSync(join(own, 'livepatch-cmdline.json'), join(decoy, 'livepatch-cmdline.json'));
  const fix = join(tmp.dir, 'fix.tar');
  expect(kelp(['bundle', fleet, '-o', fix]).status).toBe(0);
  fs.rmSync(own, { recursive: true });
  const decoyTar = join(tmp.dir, 'decoy.tar');
  expect(kelp(['bundle', fleet, '-o', decoyTar]).status).toBe(0);

  const r = await runOnTarget('bundle-load', {
    kernel: target.kernel,
    files: [fix, decoyTar],
    check: ['kelpctl load /fix.tar', 'cat /proc/cmdline', 'kelpctl load /decoy.tar; echo "exit $?"'],
    timeout: 300,
  });
  expect(r.error).toBeNull();
  const [load, cmdline, refused] = r.checks;
  expect(load.exitCode).toBe(0);
  expect(load.output).toContain(`kelpctl: /fix.tar: ${release}/livepatch-cmdline.ko for the running kernel ${release}, sha256 verified\n`);
  expect(load.output).toContain('kelpctl: livepatch_cmdline: loaded, transition complete\n');
  expect(cmdline.output).toMatch(/console=ttyS0.* kelp_example=patched\n$/);
  expect(refused.output).toBe(`kelpctl: /decoy.tar: no module for the running kernel ${release} (the bundle has: ${decoyRelease})\nexit 11\n`);
  expect(r.ok).toBe(true);
}, 1_200_000);
