/**
 * `npm run corpus [-- OPTIONS]`: real fixes through kelp build and QEMU.
 *
 * Cuts one patch per changed .c file between two Debian linux-source
 * versions of a series (see cut.ts), builds each with `kelp build --release R`
 * (the release's prepared source, headers and System.map, fetched by kelp),
 * verifies the built modules in the VM in batches (batch.ts: kelp check, then
 * per patch: loaded, enabled, transition complete, unloaded), and writes the
 * outcomes as Markdown and JSON (table.ts):
 *
 *   verified | refused (category) | no functional change |
 *   does not compile alone | failed
 *
 * Options: --pair 6.1|6.12 (the issue's development pairs), or --series S
 * --from V --to V --release R; [--max N] [--seed S] [--max-lines 60]
 * [--out DIR] [--no-verify] [--only REGEX] [--fresh].
 * Results are kept per case in the cache (corpus/SERIES/state-NAME.json), so
 * an interrupted run resumes; --only REGEX rebuilds the matching cases,
 * --fresh all of them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchTarget } from '../../src/target/fetch.js';
import { cacheRoot } from '../../src/target/cache.js';
import { withDependencies } from '../../src/build/module-deps.js';
import { findModuleFile } from '../../src/kernel/module-tree.js';
import { cutCorpus, sourceTree, targetFunctions } from './cut.js';
import { verifyBatch, type VerifyCase } from './batch.js';
import { classify, writeTables, type Row } from './table.js';
import { REPO_ROOT, KELP_BIN } from '../support/paths.js';

/** The development pairs of issue 13: the fixes between two versions, on the kernel of the older one. */
export const PAIRS: Record<string, { series: string; from: string; to: string; release: string }> = {
  '6.1': { series: '6.1', from: '6.1.170-3', to: '6.1.176-1', release: '6.1.0-47-amd64' },
  '6.12': { series: '6.12', from: '6.12.107-1', to: '6.12.117-1', release: '6.12.107+deb13-amd64' },
};

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function say(l: string): void {
  process.stderr.write(`corpus: ${l}\n`);
}

async function main(): Promise<void> {
  const pair = arg('pair') === undefined ? undefined : PAIRS[arg('pair')!];
  if (arg('pair') !== undefined && pair === undefined) throw new Error(`no such pair ${arg('pair')} (known: ${Object.keys(PAIRS).join(', ')})`);
  const series = arg('series', pair?.series)!;
  const from = arg('from', pair?.from);
  const to = arg('to', pair?.to);
  const release = arg('release', pair?.release);
  if (!series || !from || !to || !release) {
    throw new Error('usage: npm run corpus -- --pair 6.1|6.12 | --series S --from VERSION --to VERSION --release R [--max N] [--seed S] [--max-lines 60] [--out DIR] [--no-verify] [--only REGEX] [--fresh]');
  }
  const verify = !process.argv.includes('--no-verify');
  const max = Number(arg('max', '1000000'));
  const seed = Number(arg('seed', '20261130'));
  const maxLines = Number(arg('max-lines', '60'));
  const only = arg('only') === undefined ? undefined : new RegExp(arg('only')!);
  const outDir = resolve(arg('out', join(REPO_ROOT, 'docs', 'corpus'))!);
  const target = await fetchTarget({ release, source: true, progress: say });
  const work = join(cacheRoot(), 'corpus', series);
  const a = await sourceTree(series, from, work);
  const b = await sourceTree(series, to, work);
  const known = targetFunctions(target.systemMap, target.modules, join(work, `functions-${target.release}.json`));
  const name = `${series}_${from}_to_${to}`;
  const { cases, total } = cutCorpus(a, b, known, join(work, 'patches', name), { maxLines, seed, max });
  say(`${cases.length} of ${total} patch(es) from ${from} to ${to}, target ${target.release} (${target.version})`);

  const stateFile = join(work, `state-${name}-${target.release}.json`);
  const state: Record<string, Row> = existsSync(stateFile) && !process.argv.includes('--fresh') ? JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, Row> : {};
  const save = (): void => {
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(state, null, 1));
    renameSync(`${stateFile}.tmp`, stateFile);
  };
  const outBase = join(work, 'out', `${name}-${target.release}`);
  for (const c of cases) {
    const prev = state[c.file];
    if (prev !== undefined && !(only?.test(c.file) ?? false)) continue;
    const started = Date.now();
    const out = join(outBase, c.file.replace(/\//g, '__'));
    const args = ['build', c.patch, '--release', target.release, '-o', out, '--json', '-q'];
    let r = spawnSync(process.execPath, [KELP_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_800_000 });
    // The tree is shared: wait for another kelp build to finish with it.
    for (let tries = 0; tries < 120 && /another kelp build \(pid \d+\) is building in this tree/.test(r.stderr ?? ''); tries++) {
      spawnSync('sleep', ['30']);
      r = spawnSync(process.execPath, [KELP_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_800_000 });
    }
    const { outcome, detail, report } = classify(r.status, r.stdout ?? '', r.stderr ?? '');
    const row: Row = { file: c.file, headers: c.headers, changedLines: c.changedLines, functions: c.functions, patch: c.patch, outcome, detail, seconds: Math.round((Date.now() - started) / 1000) };
    if (report !== undefined) {
      row.ko = report.ko;
      row.moduleName = report.moduleName;
      row.patched = Object.keys(report.targets);
    }
    state[c.file] = row;
    save();
    say(`${c.file}: ${outcome}${detail ? ` (${detail})` : ''} [${row.seconds}s]`);
  }

  if (verify) {
    const toVerify: VerifyCase[] = [];
    for (const c of cases) {
      const row = state[c.file]!;
      if (row.outcome !== 'built' || row.ko === undefined) continue;
      const modules = (row.patched ?? []).filter((o) => o !== 'vmlinux').map((o) => findModuleFile(target.modules, o) ?? o);
      const { order } = withDependencies(modules.filter((m) => m.includes('/')), (n) => findModuleFile(target.modules, n));
      toVerify.push({ id: c.file, ko: row.ko, moduleName: row.moduleName!, preload: order });
    }
    if (toVerify.length > 0) {
      const verdicts = await verifyBatch({ kernel: target.kernel, symbols: target.systemMap, kdir: target.kdir }, toVerify, say);
      for (const [id, v] of verdicts) {
        state[id]!.outcome = v.ok ? 'verified' : 'failed';
        state[id]!.detail = v.ok ? '' : `verification: ${v.detail}`;
        say(`${id}: ${state[id]!.outcome}${v.ok ? '' : ` (${v.detail})`}`);
      }
      save();
    }
  }
  const rows = cases.map((c) => state[c.file]!).filter((r) => r !== undefined);
  const md = writeTables(outDir, { name: `${name}_on_${target.release}`, series, from, to, target: { release: target.release, version: target.version }, verify, seed, maxLines, cut: total, sampled: cases.length < total, rows });
  process.stdout.write(`${md}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`corpus: ${(e as Error).stack ?? (e as Error).message}\n`);
  process.exitCode = 1;
});
