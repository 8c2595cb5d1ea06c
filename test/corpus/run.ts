/**
 * `npm run corpus [-- OPTIONS]`: real fixes through `kelp build --verify`.
 *
 * Cuts one patch per changed .c file between two Debian linux-source
 * versions of a series (see cut.ts), builds each with kelp build against the
 * fetched target (its prepared source tree, headers and System.map; --release
 * once kelp target fetch has it), verifies it in the VM (the patch enabled,
 * the transition complete), and writes the outcomes as Markdown and JSON:
 *
 *   verified | refused (category) | no functional change |
 *   does not compile alone | failed
 *
 * Options: --series 6.1 --from VERSION --to VERSION [--max N] [--seed S]
 * [--max-lines 60] [--out DIR] [--no-verify] [--release R]. The patches go
 * from --from to --to and must apply to the target's source: with the
 * current bookworm target (6.1.176) and only older versions in the archive,
 * run --from 6.1.176-1 --to 6.1.170-3 (the changes reverted, which are real
 * code changes of the same size and kind).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchTarget } from '../../src/target/fetch.js';
import { cacheRoot } from '../../src/target/cache.js';
import { cutCorpus, sourceTree, targetFunctions, type CorpusCase } from './cut.js';
import { REPO_ROOT, KELP_BIN } from '../support/paths.js';

type Outcome = 'verified' | 'built' | 'refused' | 'no functional change' | 'does not compile alone' | 'failed';

interface Row extends Omit<CorpusCase, 'patch'> {
  patch: string;
  outcome: Outcome;
  /** Refusal categories (refused), or the last line of kelp's message. */
  detail: string;
  seconds: number;
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** The outcome of one kelp build run. */
export function classify(status: number | null, stdout: string, stderr: string, verify: boolean): { outcome: Outcome; detail: string } {
  const last = stderr.trim().split('\n').pop() ?? '';
  if (status === 0) return { outcome: verify ? 'verified' : 'built', detail: '' };
  if (status === 3) return { outcome: 'no functional change', detail: last };
  if (status === 2) {
    let categories: string[] = [];
    try {
      const j = JSON.parse(stdout) as { refusals?: Array<{ category: string }> };
      categories = [...new Set((j.refusals ?? []).map((r) => r.category))];
    } catch { /* no JSON: the message says it */ }
    return { outcome: 'refused', detail: categories.join(', ') || last };
  }
  if (status === 1 && /building the patched objects failed/.test(last)) return { outcome: 'does not compile alone', detail: last };
  return { outcome: 'failed', detail: last };
}

async function main(): Promise<void> {
  const series = arg('series', '6.1')!;
  const from = arg('from');
  const to = arg('to');
  if (!from || !to) throw new Error('usage: npm run corpus -- --from VERSION --to VERSION [--series 6.1] [--max N] [--seed S] [--max-lines 60] [--out DIR] [--no-verify]');
  const verify = !process.argv.includes('--no-verify');
  const max = Number(arg('max', '1000000'));
  const seed = Number(arg('seed', '20261130'));
  const maxLines = Number(arg('max-lines', '60'));
  const outDir = resolve(arg('out', join(REPO_ROOT, 'docs', 'corpus'))!);
  // --release (an older kernel of the series) needs kelp target fetch --release; until then, the current target.
  if (arg('release') !== undefined) throw new Error('--release needs kelp target fetch --release, which this build of kelp does not have yet');
  const target = await fetchTarget({ source: true });
  const work = join(cacheRoot(), 'corpus', series);
  const a = sourceTree(series, from, work);
  const b = sourceTree(series, to, work);
  const known = targetFunctions(target.systemMap, target.modules, join(work, `functions-${target.release}.json`));
  const name = `${series}_${from}_to_${to}`;
  const patchDir = join(work, 'patches', name);
  const cases = cutCorpus(a, b, known, patchDir, { maxLines, seed, max });
  process.stderr.write(`corpus: ${cases.length} patch(es) from ${from} to ${to}, target ${target.release}\n`);
  const rows: Row[] = [];
  for (const c of cases) {
    const started = Date.now();
    const args = ['build', c.patch, '--sourcedir', target.source!, '--kdir', target.kdir, '--symbols', target.systemMap,
      '-o', join(work, 'out', name), '--json', '-q', ...(verify ? ['--verify'] : [])];
    let r = spawnSync(process.execPath, [KELP_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_800_000 });
    // The tree is shared: wait for another kelp build to finish with it.
    for (let tries = 0; tries < 120 && /another kelp build \(pid \d+\) is building in this tree/.test(r.stderr ?? ''); tries++) {
      spawnSync('sleep', ['30']);
      r = spawnSync(process.execPath, [KELP_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_800_000 });
    }
    const { outcome, detail } = classify(r.status, r.stdout ?? '', r.stderr ?? '', verify);
    rows.push({ ...c, patch: c.patch, outcome, detail, seconds: Math.round((Date.now() - started) / 1000) });
    process.stderr.write(`corpus: ${c.file}: ${outcome}${detail ? ` (${detail})` : ''}\n`);
  }
  mkdirSync(outDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const summary = { date, series, from, to, target: { release: target.release, version: target.version }, verify, seed, maxLines, counts: Object.fromEntries(counts), cases: rows };
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  const md = [
    `# kelp corpus: linux-source-${series} ${from} → ${to}`,
    '',
    `Run ${date} on ${target.release} (${target.version}); ${verify ? 'each patch built with `kelp build --verify`' : 'built without --verify'}; seed ${seed}, at most ${maxLines} changed lines per file.`,
    '',
    '| outcome | patches |',
    '| --- | --- |',
    ...[...counts].map(([o, n]) => `| ${o} | ${n} |`),
    '',
    '| file | lines | functions | outcome | detail |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.file}${r.headers.length ? ` (+${r.headers.join(', ')})` : ''} | ${r.changedLines} | ${r.functions.join(', ')} | ${r.outcome} | ${r.detail.replace(/\|/g, '\\|')} |`),
    '',
  ].join('\n');
  writeFileSync(join(outDir, `${name}.md`), md);
  process.stdout.write(`${join(outDir, `${name}.md`)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`corpus: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
