/**
 * One corpus case: `kelp build PATCH --release R --json` (waiting while
 * another kelp build holds the shared tree), classified; and what its module
 * needs loaded first in the VM.
 */
import { spawnSync } from 'node:child_process';
import { withDependencies } from '../../src/build/module-deps.js';
import { findModuleFile } from '../../src/kernel/module-tree.js';
import { KELP_BIN } from '../support/paths.js';
import { classify, type Built } from './table.js';

export type { Built };

export function buildCase(patch: string, release: string, outDir: string): Built {
  const started = Date.now();
  const args = ['build', patch, '--release', release, '-o', outDir, '--json', '-q'];
  const run = () => spawnSync(process.execPath, [KELP_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_800_000 });
  let r = run();
  for (let tries = 0; tries < 120 && /another kelp build \(pid \d+\) is building in this tree/.test(r.stderr ?? ''); tries++) {
    spawnSync('sleep', ['30']);
    r = run();
  }
  const { outcome, detail, report } = classify(r.status, r.stdout ?? '', r.stderr ?? '');
  const b: Built = { outcome, detail, seconds: Math.round((Date.now() - started) / 1000) };
  if (report !== undefined) {
    b.ko = report.ko;
    b.moduleName = report.moduleName;
    b.patched = Object.keys(report.targets);
  }
  return b;
}

/** The original modules a case's livepatch patches, with their dependencies first (files of `modulesDir`). */
export function preloadOf(patched: readonly string[], modulesDir: string): string[] {
  const files = patched.filter((o) => o !== 'vmlinux').map((o) => findModuleFile(modulesDir, o)).filter((f): f is string => f !== undefined);
  return withDependencies(files, (n) => findModuleFile(modulesDir, n)).order;
}
