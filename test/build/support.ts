/** Helpers for kelp build's tests: running the CLI, and proving a tree was left as it was. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';

export interface CliResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs bin/kelp (the compiled CLI) to the end. */
export function kelp(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [KELP_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...opts.env },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Starts bin/kelp and calls `when(line)` for every stderr line; the callback
 * may signal the process (it receives it). Resolves when kelp exits.
 */
export function kelpWatching(args: string[], when: (line: string, pid: number) => void): Promise<CliResult> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [KELP_BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      const s = d.toString();
      stderr += s;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) when(l, child.pid!);
    });
    child.on('close', (status, signal) => res({ status, signal, stdout, stderr }));
  });
}

/** sha1 of each file (null when missing). */
export function hashFiles(root: string, files: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of files) {
    const p = join(root, f);
    out[f] = existsSync(p) ? createHash('sha1').update(readFileSync(p)).digest('hex') : null;
  }
  return out;
}

/** A stamp file to compare modification times against. */
export function stamp(path: string): string {
  writeFileSync(path, '');
  // Make sure later writes get a strictly newer mtime.
  const t = statSync(path).mtimeMs;
  while (Date.now() <= t + 5) { /* spin a few ms */ }
  return path;
}

/**
 * Source files (C, headers, assembly, Makefiles, Kconfig) of `tree` modified
 * after `stampFile`, outside the directories kbuild generates; left-over
 * temporary files of kelp too. Build products (.o, .cmd, .s) are not sources.
 */
export function sourcesModifiedSince(tree: string, stampFile: string): string[] {
  // -ignore_readdir_race: another build may be removing its kbuild temporaries meanwhile.
  const r = spawnSync('find', [
    tree, '-ignore_readdir_race', '-newer', stampFile, '-type', 'f',
    '(', '-name', '*.c', '-o', '-name', '*.h', '-o', '-name', '*.S', '-o', '-name', 'Makefile*', '-o', '-name', 'Kconfig*', '-o', '-name', 'Kbuild', '-o', '-name', '*kelp*.tmp', ')',
    '-not', '-path', '*/generated/*', '-not', '-path', `${tree}/include/config/*`,
  ], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`find failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** Every file of a (small) directory tree with its sha1, for byte-for-byte comparisons. */
export function hashTree(root: string): Record<string, string> {
  const r = spawnSync('sh', ['-c', 'cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha1sum', 'sh', root], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`hashing ${root} failed: ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const l of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{40})\s+(.*)$/.exec(l);
    if (m) out[m[2]] = m[1];
  }
  return out;
}

/** The outputs of a build report's verify checks: before the patch was disabled, and after. */
export function outputs(report: { verify: { checks: Array<{ output: string }>; checksAfterDisable: Array<{ output: string }> } }): { before: string[]; after: string[] } {
  return { before: report.verify.checks.map((c) => c.output), after: report.verify.checksAfterDisable.map((c) => c.output) };
}
