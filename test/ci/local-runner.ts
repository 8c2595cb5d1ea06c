/**
 * Runs a GitHub Actions workflow's own steps on this machine, in order, the
 * way a runner would for one job: `run:` steps under `bash -e` with the
 * workflow's, job's and step's env, GITHUB_OUTPUT read back into step
 * outputs; the few actions the kelp workflows use are done locally (checkout:
 * a fresh workspace linked to this checkout; cache: nothing to restore;
 * upload/download-artifact: a directory per artifact). Expressions are
 * evaluated for the handful of forms those workflows use; any other is an
 * error, so the workflow cannot drift into something this runner skips.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Step { name?: string; id?: string; uses?: string; run?: string; with?: Record<string, string | boolean>; env?: Record<string, string> }
export interface Job { needs?: string | string[]; env?: Record<string, string>; steps: Step[]; outputs?: Record<string, string>; strategy?: { matrix?: Record<string, unknown> } }
export interface Workflow { env?: Record<string, string>; jobs: Record<string, Job> }

export interface JobContext {
  /** The workspace (checkout) of the job. */
  workspace: string;
  matrix: Record<string, string>;
  needs: Record<string, { outputs: Record<string, string> }>;
  /** Environment the runner adds (overrides of the workflow's env). */
  env: Record<string, string>;
  /** Where uploaded artifacts live, one directory each. */
  artifacts: string;
  /** Rewrites a run step's command before it runs (documented by the caller). */
  rewrite?: (command: string) => string;
}

export interface StepLog { step: string; command?: string; status: number; output: string }

/** The files of this checkout a workspace links to (what actions/checkout plus npm ci give). */
const CHECKOUT = ['bin', 'dist', 'elf', 'examples', 'node_modules', 'package.json', 'package-lock.json', 'rela', 'src', 'templates'];

export function checkout(repo: string, workspace: string): void {
  fs.mkdirSync(workspace, { recursive: true });
  for (const f of CHECKOUT) if (fs.existsSync(path.join(repo, f))) fs.symlinkSync(path.join(repo, f), path.join(workspace, f));
}

function evaluate(expr: string, ctx: JobContext, steps: Record<string, Record<string, string>>): string {
  const e = expr.trim();
  let m = /^matrix\.(\w+)$/.exec(e);
  if (m !== null && m[1] in ctx.matrix) return ctx.matrix[m[1]];
  m = /^steps\.(\w+)\.outputs\.(\w+)$/.exec(e);
  if (m !== null) return steps[m[1]]?.[m[2]] ?? '';
  m = /^fromJSON\(needs\.(\w+)\.outputs\.(\w+)\)$/.exec(e);
  if (m !== null) return ctx.needs[m[1]]?.outputs[m[2]] ?? '';
  m = /^needs\.(\w+)\.outputs\.(\w+)$/.exec(e);
  if (m !== null) return ctx.needs[m[1]]?.outputs[m[2]] ?? '';
  if (e === 'github.workspace') return ctx.workspace;
  if (/^hashFiles\('[^']+'\)$/.test(e)) return 'local';
  throw new Error(`the local runner does not evaluate \${{ ${e} }}`);
}

export function expand(text: string, ctx: JobContext, steps: Record<string, Record<string, string>> = {}): string {
  return text.replace(/\$\{\{(.*?)\}\}/g, (_, e: string) => evaluate(e, ctx, steps));
}

function doAction(step: Step, ctx: JobContext, repo: string, expandIt: (s: string) => string): string {
  const uses = step.uses!;
  const w = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, typeof v === 'string' ? expandIt(v) : String(v)]));
  if (uses === 'actions/checkout@v4') {
    checkout(repo, ctx.workspace);
    return 'checked out';
  }
  if (uses === 'actions/cache@v4') return `cache ${w.key}: nothing to restore locally`;
  if (uses === 'actions/upload-artifact@v4') {
    const dest = path.join(ctx.artifacts, w.name);
    const src = path.join(ctx.workspace, w.path);
    if (!fs.existsSync(src)) throw new Error(`upload-artifact: ${w.path} does not exist`);
    const base = fs.statSync(src).isDirectory() ? src : path.dirname(src);
    fs.cpSync(src, fs.statSync(src).isDirectory() ? dest : path.join(dest, path.relative(base, src)), { recursive: true });
    return `uploaded ${w.path} as ${w.name}`;
  }
  if (uses === 'actions/download-artifact@v4') {
    const re = new RegExp(`^${w.pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (w['merge-multiple'] !== 'true') throw new Error('download-artifact: the local runner merges artifacts only');
    const names = fs.readdirSync(ctx.artifacts).filter((n) => re.test(n)).sort();
    for (const n of names) fs.cpSync(path.join(ctx.artifacts, n), path.join(ctx.workspace, w.path), { recursive: true });
    return `downloaded ${names.join(', ')}`;
  }
  throw new Error(`the local runner does not know ${uses}`);
}

/** Runs one job's steps; stops at the first failing step. Returns its outputs and a log. */
export function runJob(wf: Workflow, jobName: string, ctx: JobContext, repo: string): { ok: boolean; outputs: Record<string, string>; log: StepLog[] } {
  const job = wf.jobs[jobName];
  const steps: Record<string, Record<string, string>> = {};
  const log: StepLog[] = [];
  const baseEnv = (extra?: Record<string, string>) => {
    const env: Record<string, string> = {};
    for (const src of [wf.env, job.env, extra]) for (const [k, v] of Object.entries(src ?? {})) env[k] = expand(String(v), ctx, steps);
    return { ...env, ...ctx.env };
  };
  for (const [i, step] of job.steps.entries()) {
    const label = expand(step.name ?? step.uses ?? `step ${i}`, ctx, steps);
    if (step.uses !== undefined) {
      log.push({ step: label, status: 0, output: doAction(step, ctx, repo, (s) => expand(s, ctx, steps)) });
      continue;
    }
    const command = (ctx.rewrite ?? ((c: string) => c))(expand(step.run!, ctx, steps));
    if (/^npm ci$/.test(command.trim())) {
      // The checkout this workspace links to is installed already; a second npm ci would rewrite node_modules under the running tests.
      log.push({ step: label, command, status: 0, output: 'installed (linked checkout)' });
      continue;
    }
    const outFile = path.join(ctx.workspace, `.github_output_${i}`);
    fs.writeFileSync(outFile, '');
    const r = spawnSync('bash', ['-e', '-c', command], {
      cwd: ctx.workspace, encoding: 'utf8', maxBuffer: 64 << 20,
      env: { ...process.env, ...baseEnv(step.env), GITHUB_OUTPUT: outFile, GITHUB_WORKSPACE: ctx.workspace, CI: 'true' },
    });
    log.push({ step: label, command, status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` });
    if (step.id !== undefined) {
      steps[step.id] = Object.fromEntries(fs.readFileSync(outFile, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    }
    if (r.status !== 0) return { ok: false, outputs: {}, log };
  }
  const outputs = Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, expand(v, ctx, steps)]));
  return { ok: true, outputs, log };
}
