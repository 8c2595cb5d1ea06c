/**
 * Running GNU readelf and `kelp dump` side by side: readelf as a process,
 * kelp in-process (runDump) or through bin/kelp, and a byte comparison that
 * names the first differing line and the file it belongs to.
 */
import { spawnSync } from 'node:child_process';
import { runDump, type DumpOptions } from '../../src/dump/index.js';
import { parseReadelfArgs } from '../../src/dump/args.js';
import { localeIsUtf8 } from '../../src/dump/format.js';
import { KELP_BIN } from '../support/paths.js';

export interface ProcResult {
  stdout: Buffer;
  stderr: string;
  status: number;
}

/** Runs /usr/bin/readelf (binutils 2.40) with `args` and `files`. */
export function readelf(args: readonly string[], files: readonly string[], env: NodeJS.ProcessEnv = process.env): ProcResult {
  const r = spawnSync('readelf', [...args, ...files], { env, maxBuffer: 1 << 30, timeout: 120_000 });
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr ?? Buffer.alloc(0)).toString('latin1'), status: r.status ?? -1 };
}

/** Turns readelf-style arguments into DumpOptions, with the parser `kelp dump` uses (throws on a usage error). */
export function parseArgs(args: readonly string[]): DumpOptions {
  const p = parseReadelfArgs([...args, 'file']);
  if (p.kind !== 'run') throw new Error(`test harness: ${args.join(' ')} is not a dump: ${p.kind}`);
  return p.opts;
}

/** Runs `kelp dump` in this process: the same argument parser, messages and exit status as bin/kelp. */
export function kelpInProcess(args: readonly string[], files: readonly string[], opts: { utf8?: boolean; sparseFrom?: number } = {}): ProcResult {
  const p = parseReadelfArgs([...args, ...files]);
  if (p.kind === 'unsupported') throw new Error(`test harness: ${p.option} is not supported`);
  if (p.kind === 'exit') return { stdout: Buffer.from(p.stdout, 'latin1'), stderr: p.stderr, status: p.status };
  const chunks: Buffer[] = [];
  let stderr = p.messages;
  const status = runDump(p.files, p.opts, {
    stdout: (b) => chunks.push(Buffer.from(b)),
    stderr: (l) => { stderr += l; },
    utf8: opts.utf8 ?? localeIsUtf8(),
    sparseFrom: opts.sparseFrom,
  });
  return { stdout: Buffer.concat(chunks), stderr, status };
}

/** readelf's standard error as kelp words it: kelp's name where readelf prints its own. */
export function asKelpMessages(stderr: string): string {
  return stderr.replace(/(^|\n|[^\n])readelf: /g, (_m, before: string) => `${before}kelp: `);
}

/**
 * Empty when stdout, stderr (readelf's name read as kelp's) and the exit
 * status are all the same; otherwise what differs.
 */
export function differenceAll(r: ProcResult, k: ProcResult, label: string): string {
  const out: string[] = [];
  const d = difference(r.stdout, k.stdout, label);
  if (d) out.push(d);
  const re = asKelpMessages(r.stderr);
  if (re !== k.stderr) out.push(difference(Buffer.from(re, 'latin1'), Buffer.from(k.stderr, 'latin1'), `${label} (stderr)`));
  if (r.status !== k.status) out.push(`${label}: exit status readelf ${r.status}, kelp ${k.status}`);
  return out.join('\n');
}

/** Runs `bin/kelp dump` as a process. */
export function kelpProcess(args: readonly string[], files: readonly string[], env: NodeJS.ProcessEnv = process.env): ProcResult {
  const r = spawnSync(process.execPath, [KELP_BIN, 'dump', ...args, ...files], { env, maxBuffer: 1 << 30, timeout: 120_000 });
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr ?? Buffer.alloc(0)).toString('latin1'), status: r.status ?? -1 };
}

/**
 * Empty when the two outputs are byte-identical; otherwise a short report:
 * the first differing line of each and the `File:` it falls under.
 */
export function difference(expected: Buffer, actual: Buffer, label: string): string {
  if (expected.equals(actual)) return '';
  const e = expected.toString('latin1').split('\n');
  const a = actual.toString('latin1').split('\n');
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  let file = '';
  for (let k = Math.min(i, e.length - 1); k >= 0; k--) {
    if (e[k].startsWith('File: ')) { file = e[k]; break; }
  }
  return `${label}: outputs differ at line ${i + 1}${file ? ` (${file})` : ''}\n  readelf: ${JSON.stringify(e[i] ?? '<end>')}\n  kelp:    ${JSON.stringify(a[i] ?? '<end>')}`;
}

/** Compares kelp with readelf on `file` for each option set (labelled `name`); returns the differences and readelf's messages. */
export function compareOptionSets(file: string, name: string, sets: readonly string[][]): { problems: string[]; messages: string } {
  const problems: string[] = [];
  let messages = '';
  for (const args of sets) {
    const r = readelf(args, [file], { ...process.env, LC_ALL: 'C' });
    messages += r.stderr;
    const d = differenceAll(r, kelpInProcess(args, [file], { utf8: false }), `${name}: readelf ${args.join(' ')}`);
    if (d) problems.push(d);
  }
  return { problems, messages };
}
