/**
 * Verifying many livepatch modules in few boots: kelp check on each (in
 * process, as `kelp build --verify` does), then one QEMU boot that loads the
 * patched modules' originals (with what they depend on) once, and for each
 * livepatch in turn loads it with kelpctl (which waits for the transition),
 * checks that it is enabled with no transition pending, and unloads it
 * (disable, transition back, rmmod) before the next one.
 *
 * A patched module that cannot load in the VM (its init finds no device or
 * CPU feature, or fails for want of what the VM lacks, or a module it needs
 * does) stays unloaded; its patch is verified as loaded, enabled and unloaded with
 * the module absent, and the verdict says so.
 *
 * A case that hangs or crashes the target fails with the target's reason;
 * the cases after it go to the next boot.
 */
import { checkModule } from '../../src/check/index.js';
import { runTarget, type RunResult } from '../../src/target/run.js';

export interface VerifyCase {
  id: string;
  /** The livepatch module. */
  ko: string;
  /** Its name in /sys/kernel/livepatch. */
  moduleName: string;
  /** Original modules to load before it (dependencies first). */
  preload: string[];
}

export interface Verdict {
  ok: boolean;
  /** Verified with the patched module not loaded (it finds no device in the VM). */
  absent?: boolean;
  detail: string;
}

export interface BatchTarget {
  kernel: string;
  symbols: string;
  kdir: string;
}

/** The guest check for one case: load, enabled and settled, unload. */
export function caseScript(c: VerifyCase): string {
  const lp = `/sys/kernel/livepatch/${c.moduleName}`;
  const file = `/${c.ko.split('/').pop()}`;
  return [
    `kelpctl load ${file} --timeout 60 || exit 11`,
    `e=$(cat ${lp}/enabled 2>/dev/null); t=$(cat ${lp}/transition 2>/dev/null)`,
    'echo "enabled=$e transition=$t"',
    '[ "$e" = 1 ] && [ "$t" = 0 ] || exit 12',
    `kelpctl unload ${c.moduleName} --timeout 60 || exit 13`,
    `[ ! -d ${lp} ] || exit 14`,
  ].join('; ');
}

const WHY: Record<number, string> = {
  11: 'kelpctl load failed',
  12: 'the patch was not enabled with its transition complete',
  13: 'kelpctl unload failed',
  14: 'the patch was still in sysfs after unloading',
};

/** Verifies `cases`; `say` gets progress lines. */
export async function verifyBatch(t: BatchTarget, cases: VerifyCase[], say: (l: string) => void, perBoot = 40): Promise<Map<string, Verdict>> {
  const out = new Map<string, Verdict>();
  let pending: VerifyCase[] = [];
  for (const c of cases) {
    const r = checkModule(c.ko, { symbols: t.symbols, kdir: t.kdir, modules: c.preload, kernel: t.kernel });
    if (r.ok) pending.push(c);
    else out.set(c.id, { ok: false, detail: `kelp check: ${r.problems.map((p) => `${p.place}: ${p.message} [${p.rule}]`).join('; ')}` });
  }
  while (pending.length > 0) {
    const batch = pending.slice(0, perBoot);
    pending = pending.slice(perBoot);
    say(`booting ${t.kernel.split('/').pop()} for ${batch.length} livepatch(es)`);
    const preload = [...new Set(batch.flatMap((c) => c.preload))];
    const r: RunResult = await runTarget({
      kernel: t.kernel,
      load: preload,
      files: batch.map((c) => c.ko),
      check: batch.map(caseScript),
      timeout: 180 + 60 * batch.length,
    });
    const failedLoads = new Map(r.modules.filter((m) => m.error !== null).map((m) => [m.file, `${m.name}: ${m.error}`]));
    let stoppedAt = -1;
    batch.forEach((c, j) => {
      const check = r.checks[j]!;
      if (check.exitCode === null) {
        if (stoppedAt < 0) {
          stoppedAt = j;
          out.set(c.id, { ok: false, detail: `the target stopped in this case: ${r.error ?? 'no result'}${r.log ? ` (console log: ${r.log})` : ''}` });
        }
        return;
      }
      const failed = c.preload.map((p) => failedLoads.get(p)).filter((x): x is string => x !== undefined);
      // An original module that cannot load in the VM: its init finds no device or CPU feature (ENODEV,
      // ENXIO, EOPNOTSUPP), needs what the VM cannot give (rxrpc's crypto modules, which no modprobe
      // loads there: busybox's "unknown symbol" for ENOENT), or needs the symbols of one that did not
      // load (dell_wmi after dell_smbios). The patch is still loaded and enabled (the livepatch core
      // applies it when the module comes), but its code is not run: the verdict says so, with the reasons.
      const absent = failed;
      if (check.exitCode === 0) out.set(c.id, { ok: true, absent: absent.length > 0, detail: absent.length > 0 ? `enabled and unloaded with its target module absent (${absent.join('; ')})` : '' });
      else out.set(c.id, { ok: false, detail: `${WHY[check.exitCode] ?? `check exited ${check.exitCode}`}: ${check.output.trim().split('\n').slice(-3).join(' / ')}` });
    });
    // The cases after the one the target stopped in get another boot.
    if (stoppedAt >= 0) pending = [...batch.slice(stoppedAt + 1), ...pending];
    else if (r.error !== null && batch.every((c) => !out.has(c.id))) {
      for (const c of batch) out.set(c.id, { ok: false, detail: r.error });
    }
  }
  return out;
}
