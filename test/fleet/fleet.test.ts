/**
 * Real fleet builds of bookworm and trixie releases.
 *
 * The patch that does not apply everywhere touches code changed between two
 * releases: fs/proc/namespaces.c's proc_ns_readlink() took exec_update_lock
 * in 6.1.0-57 (6.1.192) but not yet in 6.1.0-50 (6.1.176), so the patch
 * applies to 6.1.0-57 only. The other release still builds; the table and
 * fleet.json name the hunk; the exit status is the worst outcome (no QEMU).
 *
 * The acceptance run: the vmlinux example for two bookworm ABIs and one
 * trixie release gives three modules and one bundle; each kernel boots once,
 * where kelpctl refuses a bundle without a module for it and then loads its
 * own from the fleet's bundle (enabled, transition complete, /proc/cmdline
 * patched).
 */
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../src/errors.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { BUILD_ROOT_PACKAGES } from '../../src/target/packages.js';
import { fetchTarget } from '../../src/target/fetch.js';
import { getTarget, getTrixieTarget, runOnTarget, targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { kelp, kelpWatching } from '../build/support.js';

const NEW = '6.1.0-57-amd64';
const OLD = '6.1.0-50-amd64';
const PATCH = join(REPO_ROOT, 'test', 'fleet', 'fixtures', 'ns-readlink.patch');
/** The same fix for 6.1.176, before exec_update_lock was taken there. */
const BACKPORT = join(REPO_ROOT, 'test', 'fleet', 'fixtures', 'ns-readlink-6.1.176.patch');
let pre: PrereqStatus;
const tmp = makeTmpDir('fleet');
afterAll(() => tmp.cleanup());

/** The trixie release of the acceptance run (the newest trixie 6.12 with source, or $KELP_TEST_TRIXIE_RELEASE). */
let trixie: string;

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages({ source: true }), ...BUILD_ROOT_PACKAGES]);
  if (!pre.ok) return;
  await getTarget({ source: true });
  trixie = (await getTrixieTarget()).release;
}, 3_000_000);

test('two releases: the patch builds on one and is reported with its hunk on the other', () => {
  if (skipUnlessReady(pre)) return;
  const list = join(tmp.dir, 'releases.txt');
  writeFileSync(list, `# fleet\n${NEW}\n\n${OLD}  # older hosts\n`);
  const out = join(tmp.dir, 'out');
  // -j 2: both at once; the summary keeps the list's order whichever ends first (on a warm cache the older
  // one fails at once; on a cold one its download comes first, so the order of the end lines is not fixed).
  const r = kelp(['build', PATCH, '--releases', list, '-o', out, '--json', '-j', '2']);
  expect([r.status, r.stderr.slice(-3000)]).toEqual([ExitCode.BadInput, expect.any(String)]);
  const ends = r.stderr.split('\n').filter((l) => /^kelp: \S+: (built|patch does not apply)/.test(l)).map((l) => l.split(':')[1]!.trim());
  expect([...ends].sort()).toEqual([NEW, OLD].sort());
  const summary = JSON.parse(r.stdout) as { worst: string; exitCode: number; moduleName: string; releases: Array<Record<string, unknown>> };
  expect(readFileSync(join(out, 'fleet.json'), 'utf8')).toBe(r.stdout);
  expect(summary.worst).toBe('does-not-apply');
  expect(summary.exitCode).toBe(ExitCode.BadInput);
  expect(summary.moduleName).toBe('livepatch-ns-readlink');
  expect(summary.releases.map((x) => [x.release, x.outcome, x.functions])).toEqual([[NEW, 'built', 1], [OLD, 'does-not-apply', 0]]);
  const hunk = 'fs/proc/namespaces.c: hunk #1 (@@ -91,7 +91,7 @@) does not apply';
  expect(summary.releases[1]!.reason).toBe(`${PATCH}: ${hunk}`);
  // The built release has its module and report; the other has nothing.
  expect(summary.releases[0]!.ko).toBe(`${NEW}/livepatch-ns-readlink.ko`);
  expect(readdirSync(join(out, NEW)).sort()).toEqual(['livepatch-ns-readlink.json', 'livepatch-ns-readlink.ko']);
  const report = JSON.parse(readFileSync(join(out, NEW, 'livepatch-ns-readlink.json'), 'utf8')) as { objects: Array<{ changedFunctions: Array<{ name: string } | string> }> };
  expect(JSON.stringify(report.objects)).toMatch(/proc_ns_readlink/);
  expect(existsSync(join(out, OLD))).toBe(false);
  // The table on stderr: one row per release, the hunk named.
  const header = r.stderr.split('\n').findIndex((l) => /^RELEASE +RESULT +FUNCTIONS +SECONDS +DETAIL$/.test(l));
  expect(header).toBeGreaterThanOrEqual(0);
  const rows = r.stderr.split('\n').slice(header + 1, header + 3);
  expect(rows[0]).toMatch(new RegExp(`^${NEW} +built +1 +\\d+\\.\\d$`));
  expect(rows[1]).toMatch(new RegExp(`^${OLD} +patch does not apply +0 +\\d+\\.\\d  .*${hunk.replace(/[()@+.#-]/g, '\\$&')}$`));
  // The fleet's output is what kelp bundle packs: the one module, for its release.
  const b = kelp(['bundle', out, '-o', join(tmp.dir, 'fix.tar'), '--json']);
  expect([b.status, b.stderr]).toEqual([0, '']);
  const manifest = JSON.parse(b.stdout) as { modules: Array<{ release: string }> };
  expect(manifest.modules.map((m) => m.release)).toEqual([NEW]);
}, 1_800_000);

test('--patch-for gives the older release its own backport, which builds', () => {
  if (skipUnlessReady(pre)) return;
  const list = join(tmp.dir, 'old.txt');
  writeFileSync(list, `${OLD}\n`);
  const out = join(tmp.dir, 'backport');
  const r = kelp(['build', PATCH, '--releases', list, '--patch-for', `${OLD}=${BACKPORT}`, '-o', out, '--json']);
  expect([r.status, r.stderr.slice(-3000)]).toEqual([ExitCode.Ok, expect.any(String)]);
  const summary = JSON.parse(r.stdout) as { worst: string; releases: Array<Record<string, unknown>> };
  expect(summary.worst).toBe('built');
  expect(summary.releases.map((x) => [x.release, x.outcome, x.functions, x.patches])).toEqual([[OLD, 'built', 1, [BACKPORT]]]);
  expect(r.stderr).toContain(`kelp: ${OLD}: building with its own patch ${BACKPORT}`);
  const report = JSON.parse(readFileSync(join(out, OLD, 'livepatch-ns-readlink.json'), 'utf8')) as { objects: unknown };
  expect(JSON.stringify(report.objects)).toMatch(/proc_ns_readlink/);
}, 1_800_000);

test('SIGTERM stops the running release, starts no other, and writes no fleet.json', async () => {
  if (skipUnlessReady(pre)) return;
  const out = join(tmp.dir, 'stopped');
  let sent = false;
  const r = await kelpWatching(['build', PATCH, '--release', NEW, '--release', OLD, '-o', out, '--no-cache'], (line, pid) => {
    if (!sent && line === `kelp: ${NEW}: building`) {
      sent = true;
      setTimeout(() => process.kill(pid, 'SIGTERM'), 1000);
    }
  });
  expect([r.status, r.stderr.slice(-3000)]).toEqual([ExitCode.Terminated, expect.any(String)]);
  expect(r.stderr).toContain(`kelp: ${OLD}: not started (SIGTERM)`);
  expect(r.stderr).toMatch(/kelp: SIGTERM: fleet build stopped; no fleet\.json written\n$/);
  expect(existsSync(join(out, 'fleet.json'))).toBe(false);
  expect(existsSync(join(out, NEW, 'livepatch-ns-readlink.ko'))).toBe(false);
}, 600_000);

test('--all narrows by --suite against kelp target list: none left is one clear error', () => {
  if (skipUnlessReady(pre)) return;
  const r = kelp(['build', PATCH, '--all', '--suite', 'nosuch', '-o', join(tmp.dir, 'all')]);
  expect([r.status, r.stderr.split('\n').filter((l) => l !== '').pop()]).toEqual([ExitCode.BadInput, 'kelp: --all: no release with source in nosuch (see kelp target list)']);
  expect(existsSync(join(tmp.dir, 'all'))).toBe(false);
});

test('fleet-only options are checked before anything is built', () => {
  const r = kelp(['build', PATCH, '--release', NEW, '--release', OLD, '--sourcedir', '/nonexistent', '-o', join(tmp.dir, 'x')]);
  expect(r.status).toBe(ExitCode.BadInput);
  expect(r.stderr).toBe('kelp: --sourcedir: names one kernel\'s files; a fleet build fetches each release\'s own (drop --sourcedir)\n');
  const p = kelp(['build', PATCH, '--release', NEW, '--release', OLD, '--patch-for', '6.1.0-1-amd64=x.patch', '-o', join(tmp.dir, 'x')]);
  expect(p.stderr).toBe('kelp: --patch-for 6.1.0-1-amd64: not one of the releases built\n');
  const s = kelp(['build', PATCH, '--release', NEW, '--suite', 'bookworm']);
  expect(s.stderr).toBe('kelp: --patch-for, --suite and --flavour are for fleet builds (several --release, --releases or --all)\n');
  expect(existsSync(join(tmp.dir, 'x'))).toBe(false);
});

test('acceptance: the vmlinux example for two bookworm ABIs and one trixie release; each kernel loads its own module from the bundle with kelpctl load', async () => {
  if (skipUnlessReady(pre)) return;
  const releases = [NEW, OLD, trixie];
  const out = join(tmp.dir, 'three');
  const r = kelp(['build', join(REPO_ROOT, 'examples', 'vmlinux', 'cmdline.patch'), ...releases.flatMap((x) => ['--release', x]), '-o', out, '--json', '-j', '2']);
  expect([r.status, r.stderr.slice(-3000)]).toEqual([ExitCode.Ok, expect.any(String)]);
  const summary = JSON.parse(r.stdout) as { worst: string; releases: Array<Record<string, unknown>> };
  expect(summary.worst).toBe('built');
  expect(summary.releases.map((x) => [x.release, x.outcome, x.functions, x.ko])).toEqual(releases.map((x) => [x, 'built', 1, `${x}/livepatch-cmdline.ko`]));
  const fix = join(tmp.dir, 'fix.tar');
  const b = kelp(['bundle', out, '-o', fix, '--json']);
  expect([b.status, b.stderr]).toEqual([0, '']);
  const manifest = JSON.parse(b.stdout) as { modules: Array<{ release: string; vermagic: string; path: string; patches: unknown }> };
  expect(manifest.modules.map((m) => [m.release, m.path, m.vermagic.split(' ')[0], m.patches])).toEqual(
    [...releases].sort().map((x) => [x, `${x}/livepatch-cmdline.ko`, x, [{ object: 'vmlinux', functions: ['cmdline_proc_show'] }]]),
  );
  // A bundle of the same fleet without the older ABI: its hosts are refused, clearly.
  const partialDir = join(tmp.dir, 'partial');
  cpSync(out, partialDir, { recursive: true });
  rmSync(join(partialDir, OLD), { recursive: true });
  const partial = join(tmp.dir, 'partial.tar');
  expect(kelp(['bundle', partialDir, '-o', partial]).status).toBe(0);

  // One boot a kernel, with the checks of a verification: loaded through kelpctl from the bundle, enabled, transition
  // done, the patched output. The older ABI's boot first tries the bundle without its module.
  for (const release of releases) {
    const kernel = (await fetchTarget({ release })).kernel;
    const refusal = release === OLD ? ['kelpctl load /partial.tar; echo "exit $?"'] : [];
    const run = await runOnTarget(`fleet-bundle-${release}`, {
      kernel,
      files: [fix, partial],
      check: [
        ...refusal,
        'kelpctl load /fix.tar',
        'cat /sys/kernel/livepatch/livepatch_cmdline/enabled /sys/kernel/livepatch/livepatch_cmdline/transition',
        'cat /proc/cmdline',
      ],
      timeout: 600,
    });
    expect([release, run.error]).toEqual([release, null]);
    const [load, state, cmdline] = run.checks.slice(refusal.length);
    if (release === OLD) {
      expect(run.checks[0]!.output).toBe(`kelpctl: /partial.tar: no module for the running kernel ${OLD} (the bundle has: ${[NEW, trixie].sort().join(', ')})\nexit 11\n`);
    }
    expect([release, load!.exitCode]).toEqual([release, 0]);
    expect(load!.output).toContain(`kelpctl: /fix.tar: ${release}/livepatch-cmdline.ko for the running kernel ${release}, sha256 verified\n`);
    expect(load!.output).toContain('kelpctl: livepatch_cmdline: loaded, transition complete\n');
    expect(state!.output).toBe('1\n0\n');
    expect(cmdline!.output).toMatch(/ kelp_example=patched\n$/);
    expect(run.ok).toBe(true);
  }
}, 3_600_000);
