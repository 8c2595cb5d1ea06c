/**
 * Pass 6 of `kelp build` (--verify), verifyInTarget: kelp check in process,
 * then a boot of the target kernel under QEMU that loads the patched modules'
 * originals and what they depend on, then the livepatch, runs the --check
 * commands, disables the patch and runs them again.
 */
import type { LinkResult } from '../link/index.js';
import { KelpError } from '../errors.js';
import type { RunResult } from '../target/run.js';
import type { BuildContext } from './context.js';
import type { Diffed } from './diff.js';
import { join } from 'node:path';
import { withDependencies } from './module-deps.js';
import { findModuleFile, modulesUnder, targetModulesDir } from '../kernel/module-tree.js';
import type { VerifyReport } from './report.js';
import type { Validated } from './validate.js';

export async function verifyInTarget(ctx: BuildContext, v: Validated, d: Diffed, linked: LinkResult): Promise<VerifyReport> {
  ctx.progress.phase('verify');
  const targets = [...new Set(d.changed.map((i) => d.moduleFiles.get(d.jobs[i].opts.target!)).filter((f): f is string => f !== undefined))];
  // The patched modules and what they depend on (ext4 needs jbd2, mbcache, crc16), loaded before the livepatch.
  const modulesDir = targetModulesDir(v.kdir);
  // Out of tree, the directory's own modules first (kelp_user's kelp_base beside it), as built.
  const own = v.oot ? modulesUnder(join(ctx.work, 'module')) : new Map<string, string>();
  const { order, missing } = withDependencies(targets, (n) => own.get(n) ?? (modulesDir === undefined ? undefined : findModuleFile(modulesDir, n)));
  if (missing.length > 0) ctx.progress.say(`module dependencies not found${modulesDir === undefined ? '' : ` under ${modulesDir}`}: ${missing.join(', ')}`);
  const verify = await checkAndBoot(ctx, linked.output, linked.moduleName, order, v.kdir);
  ctx.checkInterrupt(v.tree);
  return verify;
}

async function checkAndBoot(ctx: BuildContext, ko: string, moduleName: string, preload: string[], kdir: string): Promise<VerifyReport> {
  const o = ctx.options;
  const { progress } = ctx;
  const { runTarget } = await import('../target/run.js');
  let kernel = o.kernel;
  let symbols = o.symbols;
  if (kernel === undefined) {
    const { fetchTarget } = await import('../target/fetch.js');
    const t = await fetchTarget({ cache: o.cache });
    kernel = t.kernel;
    symbols ??= t.systemMap;
  }
  // kelp check first: the loader's and livepatch core's rules, in process.
  let checked: VerifyReport['check'] = null;
  if (symbols !== undefined) {
    progress.note('kelp check');
    const { checkModule } = await import('../check/index.js');
    const r = checkModule(ko, { symbols, kdir, modules: preload, kernel });
    checked = { ok: r.ok, problems: r.problems.map((p) => `${p.place}: ${p.message} [${p.rule}]`), notes: r.notes };
    if (!r.ok) {
      return { ok: false, check: checked, checks: [], expect: [], checksAfterDisable: [], expectDisabled: [], error: `kelp check: ${checked.problems.join('; ')}`, log: null };
    }
  } else {
    progress.say('no --symbols: kelp check skipped, only the boot verifies the module');
  }
  const expectDisabled = (o.expectDisabled ?? []).map((p) => {
    try {
      return new RegExp(p, 'm');
    } catch {
      throw new KelpError('not a valid regular expression', p);
    }
  });
  // With the patch's own checks, the patch is also disabled in the target and
  // the checks run again, so the report shows the original behaviour returning.
  const userChecks = o.check ?? [];
  if (expectDisabled.length > 0 && userChecks.length === 0) throw new KelpError('needs at least one --check whose output it matches', '--expect-disabled');
  progress.note('booting the target');
  const r: RunResult = await runTarget({
    kernel,
    // The patched modules first (the original, unpatched builds), then the livepatch.
    load: [...preload, ko],
    check: [...userChecks, `cat /sys/kernel/livepatch/${moduleName}/enabled 2>/dev/null || echo disabled`],
    expect: o.expect ?? [],
    disable: userChecks.length > 0 ? [moduleName] : [],
    timeout: o.timeout ?? 300,
    cache: o.cache,
  });
  const afterOutput = r.checksAfterDisable.map((c) => c.output).join('');
  const expectDisabledResults = expectDisabled.map((re, i) => ({ pattern: o.expectDisabled![i], matched: re.test(afterOutput) }));
  // After the disable, the checks show the original behaviour; their exit
  // status is reported, not judged (a check for the patched behaviour fails
  // there by design). --expect-disabled is what asserts the original is back.
  const ok = r.error === null
    && r.modules.every((m) => m.error === null)
    && r.checks.every((c) => c.exitCode === 0)
    && r.expect.every((e) => e.matched)
    && r.disabled.every((dis) => dis.ok)
    && expectDisabledResults.every((e) => e.matched);
  return {
    ok,
    check: checked,
    checks: r.checks.map((c) => ({ command: c.command, output: c.output, exitCode: c.exitCode })),
    expect: r.expect,
    checksAfterDisable: r.checksAfterDisable.map((c) => ({ command: c.command, output: c.output, exitCode: c.exitCode })),
    expectDisabled: expectDisabledResults,
    error: r.error ?? r.modules.find((m) => m.error !== null)?.error ?? r.disabled.find((dis) => !dis.ok)?.error ?? null,
    log: r.log,
  };
}

/** Why a verification failed, in one line (when the target reported no error of its own). */
export function describeVerifyFailure(v: VerifyReport): string {
  const failed = v.checks.filter((c) => c.exitCode !== 0).map((c) => `check ${JSON.stringify(c.command)} exited ${c.exitCode}`);
  const unmatched = v.expect.filter((e) => !e.matched).map((e) => `--expect /${e.pattern}/ not matched (output: ${JSON.stringify(v.checks.map((c) => c.output).join('').slice(0, 200))})`);
  const after = v.checksAfterDisable.map((c) => c.output).join('').slice(0, 200);
  const unmatchedAfter = v.expectDisabled.filter((e) => !e.matched).map((e) => `--expect-disabled /${e.pattern}/ not matched after the patch was disabled (output: ${JSON.stringify(after)})`);
  return [...failed, ...unmatched, ...unmatchedAfter].join('; ') || 'the module did not load, enable or disable';
}
