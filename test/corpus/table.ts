/**
 * The corpus outcomes: classifying one `kelp build --json` run, and the
 * Markdown and JSON tables (written to a temporary file and renamed).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Outcome = 'verified' | 'built' | 'refused' | 'no functional change' | 'does not compile alone' | 'failed' | 'not run';

export const OUTCOMES: readonly Outcome[] = ['verified', 'refused', 'no functional change', 'does not compile alone', 'failed', 'built', 'not run'];

/** What one `kelp build` of a case gave. */
export interface Built {
  outcome: Outcome;
  /** Refusal categories (refused), the reason (no change), or kelp's message. */
  detail: string;
  seconds: number;
  ko?: string;
  moduleName?: string;
  /** The objects the module patches (vmlinux or module names). */
  patched?: string[];
}

export interface Row extends Built {
  file: string;
  headers: string[];
  changedLines: number;
  functions: string[];
  patch: string;
  /** sha256 (16 hex digits) of the patch the outcome is for. */
  digest?: string;
}

interface Report { ko: string; moduleName: string; targets: Record<string, string[]> }

/** The outcome of one `kelp build --json` run (before verification: built). */
export function classify(status: number | null, stdout: string, stderr: string): { outcome: Outcome; detail: string; report?: Report } {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('kelp: ') || l.startsWith('kelp '));
  const last = (lines.pop() ?? stderr.trim().split('\n').pop() ?? '').replace(/^kelp: /, '');
  if (status === 0) {
    try {
      return { outcome: 'built', detail: '', report: JSON.parse(stdout) as Report };
    } catch {
      return { outcome: 'failed', detail: 'exit 0 without a JSON report' };
    }
  }
  if (status === 3) return { outcome: 'no functional change', detail: last };
  if (status === 2) {
    let categories: string[] = [];
    try {
      const j = JSON.parse(stdout) as { refusals?: Array<{ category: string }> };
      categories = [...new Set((j.refusals ?? []).map((r) => r.category))];
    } catch { /* no JSON: the message says it */ }
    return { outcome: 'refused', detail: categories.length > 0 ? `${categories.join(', ')}: ${last}` : last };
  }
  // The patched objects (or the one built first to probe a layout) do not compile, or use a function no
  // object defines: the fix needed other files.
  if (status === 1 && /building the patched objects? (\S+ )?failed|is defined nowhere/.test(last)) return { outcome: 'does not compile alone', detail: last };
  return { outcome: 'failed', detail: status === null ? 'killed (timeout)' : last };
}

export interface Tables {
  name: string;
  series: string;
  from: string;
  to: string;
  target: { release: string; version: string };
  verify: boolean;
  seed: number;
  maxLines: number;
  /** Patches the cut kept before sampling. */
  cut: number;
  sampled: boolean;
  rows: Row[];
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/**
 * A "no functional change" because nothing the patch changes is built by the kernel's configuration
 * (not one whose configured includers preprocess the same: those were compiled).
 */
export function notBuilt(r: Pick<Row, 'outcome' | 'detail'>): boolean {
  return r.outcome === 'no functional change' && /changes nothing this kernel's configuration builds: (?!the \d+ configured includer)/.test(r.detail);
}

/** Writes NAME.json and NAME.md under `dir`; returns the Markdown's path. */
export function writeTables(dir: string, t: Tables): string {
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const counts = new Map<Outcome, number>();
  for (const r of t.rows) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  // A patch to files this configuration does not build is compiled by nothing (kelp says so, exit 3):
  // like one that does not compile alone, it is in no share (issue 13's first run counted it apart too).
  const unbuilt = t.rows.filter(notBuilt).length;
  const compiled = t.rows.filter((r) => r.outcome !== 'does not compile alone' && r.outcome !== 'not run' && !notBuilt(r)).length;
  const verified = counts.get('verified') ?? 0;
  const absent = t.rows.filter((r) => r.outcome === 'verified' && /target module absent/.test(r.detail)).length;
  const share = compiled === 0 ? 0 : Math.round((1000 * verified) / compiled) / 10;
  const cases = t.rows.map(({ ko: _ko, digest: _digest, patch, ...r }) => ({ ...r, patch: patch.split('/').pop() }));
  const json = {
    date, series: t.series, from: t.from, to: t.to, target: t.target, verify: t.verify, seed: t.seed, maxLines: t.maxLines,
    cut: t.cut, sampled: t.sampled, counts: Object.fromEntries(OUTCOMES.filter((o) => counts.has(o)).map((o) => [o, counts.get(o)])),
    compiledAlone: compiled, notBuiltByConfiguration: unbuilt, verifiedShare: share, cases,
  };
  writeAtomic(join(dir, `${t.name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `# kelp corpus: linux-source-${t.series} ${t.from} → ${t.to} on ${t.target.release}`,
    '',
    `Run ${date} with \`npm run corpus\`: the fixes between Debian's linux-source-${t.series} ${t.from} and ${t.to}, one patch per changed \`.c\` file`,
    `(at most ${t.maxLines} changed lines, hunks in a function the target has, with the hunks of the changed headers of its directory that its fix uses: included, and touching a name on its changed lines), each built with`,
    `\`kelp build --release ${t.target.release}\` (Debian ${t.target.version})${t.verify ? ' and verified in QEMU (kelp check, then loaded, enabled with its transition complete, and unloaded)' : ', not verified'}.`,
    t.sampled ? `A fixed-seed sample (seed ${t.seed}) of ${t.rows.length} of the ${t.cut} patches the cut kept.` : `All ${t.cut} patches the cut kept.`,
    '',
    '| outcome | patches |',
    '| --- | --- |',
    ...OUTCOMES.filter((o) => counts.has(o)).map((o) => `| ${o} | ${counts.get(o)} |`),
    '',
    `Verified: ${verified} of the ${compiled} patches that compile on their own (${share}%)${unbuilt > 0 ? `; ${unbuilt} "no functional change" change only files this kernel's configuration does not build, so compile nowhere, and are counted in neither` : ''}${counts.has('not run') ? `; ${counts.get('not run')} not run (see their rows), counted in neither` : ''}.`,
    ...(absent > 0 ? ['', `${absent} of the verified patch modules target a module that cannot load in QEMU (no such device or CPU feature, or what its init needs is missing there; the reasons are in their rows): each was loaded, enabled and unloaded with its module absent (the livepatch core would apply it when the module loads), so its code was not run.`] : []),
    '',
    '| file | lines | functions | outcome | detail |',
    '| --- | --- | --- | --- | --- |',
    ...t.rows.map((r) => `| ${r.file}${r.headers.length ? ` (+${r.headers.join(', ')})` : ''} | ${r.changedLines} | ${r.functions.join(', ')} | ${r.outcome} | ${r.detail.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 400)} |`),
    '',
  ].join('\n');
  const mdFile = join(dir, `${t.name}.md`);
  writeAtomic(mdFile, md);
  return mdFile;
}
