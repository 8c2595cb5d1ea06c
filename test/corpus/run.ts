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
 * [--out DIR] [--no-verify] [--only REGEX] [--fresh]
 * [--skip REGEX --skip-why TEXT] (left out, shown as "not run" with the reason).
 * Cases run in the sample's (seeded) order, so the first N done are the
 * sample --max N. Results are kept per case in the cache (corpus/SERIES/state-NAME.json), so
 * an interrupted run resumes; --only REGEX rebuilds the matching cases,
 * --fresh all of them.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { asKelpError, KelpError } from '../../src/errors.js';
import { fetchTarget } from '../../src/target/fetch.js';
import { cacheRoot } from '../../src/target/cache.js';
import { buildCase, preloadOf } from './case.js';
import { cutCorpus, sourceTree, targetFunctions } from './cut.js';
import { verifyBatch, type VerifyCase } from './batch.js';
import { writeTables, type Row } from './table.js';
import { REPO_ROOT } from '../support/paths.js';

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
  if (arg('pair') !== undefined && pair === undefined) throw new KelpError(`no such pair ${arg('pair')} (known: ${Object.keys(PAIRS).join(', ')})`);
  const series = arg('series', pair?.series)!;
  const from = arg('from', pair?.from);
  const to = arg('to', pair?.to);
  const release = arg('release', pair?.release);
  if (!series || !from || !to || !release) {
    throw new KelpError('usage: npm run corpus -- --pair 6.1|6.12 | --series S --from VERSION --to VERSION --release R [--max N] [--seed S] [--max-lines 60] [--out DIR] [--no-verify] [--only REGEX] [--fresh]');
  }
  const verify = !process.argv.includes('--no-verify');
  const max = Number(arg('max', '1000000'));
  const seed = Number(arg('seed', '20261130'));
  const maxLines = Number(arg('max-lines', '60'));
  const only = arg('only') === undefined ? undefined : new RegExp(arg('only')!);
  // --skip REGEX --skip-why TEXT: cases left out of this run (shown as "not run" with the reason, never counted).
  const skip = arg('skip') === undefined ? undefined : new RegExp(arg('skip')!);
  const skipWhy = arg('skip-why', 'left out of this run')!;
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
    const digest = createHash('sha256').update(readFileSync(c.patch)).digest('hex').slice(0, 16);
    // A case runs again when asked (--only) or when its patch changed (a new cut).
    const same = prev !== undefined && (prev.digest === undefined ? prev.headers.join() === c.headers.join() : prev.digest === digest);
    if (same && !(only?.test(c.file) ?? false)) continue;
    if (skip !== undefined && skip.test(c.file)) {
      state[c.file] = { file: c.file, headers: c.headers, changedLines: c.changedLines, functions: c.functions, patch: c.patch, digest, outcome: 'not run', detail: skipWhy, seconds: 0 };
      save();
      continue;
    }
    const built = buildCase(c.patch, target.release, join(outBase, c.file.replace(/\//g, '__')));
    const row: Row = { file: c.file, headers: c.headers, changedLines: c.changedLines, functions: c.functions, patch: c.patch, digest, ...built };
    state[c.file] = row;
    save();
    say(`${c.file}: ${row.outcome}${row.detail ? ` (${row.detail})` : ''} [${row.seconds}s]`);
  }

  if (verify) {
    const toVerify: VerifyCase[] = [];
    for (const c of cases) {
      const row = state[c.file]!;
      if (row.outcome !== 'built' || row.ko === undefined) continue;
      toVerify.push({ id: c.file, ko: row.ko, moduleName: row.moduleName!, preload: preloadOf(row.patched ?? [], target.modules) });
    }
    if (toVerify.length > 0) {
      const verdicts = await verifyBatch({ kernel: target.kernel, symbols: target.systemMap, kdir: target.kdir }, toVerify, say);
      for (const [id, v] of verdicts) {
        state[id]!.outcome = v.ok ? 'verified' : 'failed';
        state[id]!.detail = v.ok ? v.detail : `verification: ${v.detail}`;
        say(`${id}: ${state[id]!.outcome}${v.ok ? '' : ` (${v.detail})`}`);
      }
      save();
    }
  }
  const rows = cases.map((c) => state[c.file]!).filter((r) => r !== undefined).sort((x, y) => x.file.localeCompare(y.file));
  const md = writeTables(outDir, { name: `${name}_on_${target.release}`, series, from, to, target: { release: target.release, version: target.version }, verify, seed, maxLines, cut: total, sampled: cases.length < total, rows });
  process.stdout.write(`${md}\n`);
}

main().catch((e: unknown) => {
  // What kelp reports to users (a missing tool, a release not in the archive) in its one line; anything else is a bug, with its stack.
  const known = asKelpError(e);
  process.stderr.write(`corpus: ${known ? known.describe() : (e as Error).stack ?? (e as Error).message}\n`);
  process.exitCode = 1;
});
