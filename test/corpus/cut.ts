/**
 * Cutting a corpus of real fixes: one patch per changed `.c` file between two
 * Debian source versions of one kernel series (`diff -up`, a/ and b/ paths),
 * kept when its hunks touch a function the target kernel has (System.map
 * text symbols, or a symbol of one of its modules) and it changes at most
 * `maxLines` lines; headers changed in the same directory that it includes
 * come along.
 * Sampled with a fixed seed, so a run is repeatable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { AptState } from '../../src/kernel/apt.js';
import { cacheRoot } from '../../src/target/cache.js';
import { readSymbolTable } from '../../src/symbols/read.js';
import { rng } from '../support/rng.js';

export interface CorpusCase {
  /** The .c file, relative to the tree. */
  file: string;
  /** Headers of the same directory the patch also changes. */
  headers: string[];
  /** Lines added and removed in the .c file. */
  changedLines: number;
  /** Functions named by the hunks' headers that the target has. */
  functions: string[];
  /** The patch file. */
  patch: string;
}

/**
 * Downloads linux-source-SERIES=VERSION through kelp's own apt state (Debian's
 * archive keyring, every suite kelp targets: trixie's 6.12 too) and unpacks its
 * tarball once into `dir`; returns the tree.
 */
export async function sourceTree(series: string, version: string, dir: string): Promise<string> {
  const tree = join(dir, `linux-source-${series}_${version}`);
  if (existsSync(join(tree, 'Makefile'))) return tree;
  mkdirSync(dir, { recursive: true });
  const pkg = `linux-source-${series}`;
  let deb = readdirSync(dir).find((f) => f.startsWith(`${pkg}_${version.replace(/:/g, '%3a')}_`) && f.endsWith('.deb'));
  if (deb === undefined) {
    const apt = new AptState(cacheRoot());
    await apt.ensure();
    await apt.ensureLists();
    deb = basename(await apt.download(pkg, version, dir));
  }
  const x = join(dir, `deb-${version}`);
  const un = spawnSync('dpkg-deb', ['-x', join(dir, deb), x], { encoding: 'utf8' });
  if (un.status !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${un.stderr.trim()}`);
  const tarball = readdirSync(join(x, 'usr', 'src')).find((f) => /^linux-source-.*\.tar\.xz$/.test(f));
  if (tarball === undefined) throw new Error(`${deb} holds no linux-source tarball`);
  const partial = `${tree}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const t = spawnSync('tar', ['-xJf', join(x, 'usr', 'src', tarball), '-C', partial, '--strip-components=1'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`unpacking ${tarball} failed: ${t.stderr.trim()}`);
  renameSync(partial, tree);
  return tree;
}

/** A small deterministic PRNG (mulberry32): the tests' own. */
export const seeded = rng;

/** Text symbol names of vmlinux (System.map) and every module under `modules` (cached in `cacheFile`). */
export function targetFunctions(systemMap: string, modules: string, cacheFile: string): Set<string> {
  if (existsSync(cacheFile)) return new Set(JSON.parse(readFileSync(cacheFile, 'utf8')) as string[]);
  const names = new Set<string>();
  for (const line of readFileSync(systemMap, 'latin1').split('\n')) {
    const m = /^[0-9a-f]+ [tT] (\S+)/.exec(line);
    if (m) names.add(m[1]);
  }
  const stack = [modules];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) stack.push(join(d, e.name));
      else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) {
        try {
          for (const s of readSymbolTable(join(d, e.name)).symbols) if (s.defined && s.kind === 'func') names.add(s.name);
        } catch { /* compressed or unreadable: skipped */ }
      }
    }
  }
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify([...names].sort()));
  return names;
}

/** `diff -up` of one file with a/ and b/ labels (empty when equal). */
function diffFile(a: string, b: string, rel: string): string {
  const r = spawnSync('diff', ['-up', '--label', `a/${rel}`, '--label', `b/${rel}`, join(a, rel), join(b, rel)], { encoding: 'latin1', maxBuffer: 64 << 20 });
  if (r.status === 0) return '';
  if (r.status !== 1) throw new Error(`diff ${rel} failed: ${r.stderr}`);
  return r.stdout;
}

/** Files that differ between the trees (paths relative to them), .c and .h only. */
function changedSources(a: string, b: string): string[] {
  const r = spawnSync('diff', ['-rq', a, b], { encoding: 'latin1', maxBuffer: 256 << 20 });
  const out: string[] = [];
  for (const l of r.stdout.split('\n')) {
    const m = /^Files (.+) and (.+) differ$/.exec(l);
    if (m && m[1].startsWith(`${a}/`) && /\.[ch]$/.test(m[1])) out.push(m[1].slice(a.length + 1));
  }
  return out.sort();
}

/** Whether C source file `file` (tree-relative, text `text`) has an #include "..." that resolves to tree-relative `header`. */
export function includesHeader(file: string, text: string, header: string): boolean {
  const re = /^\s*#\s*include\s*"([^"]+)"/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) if (posix.normalize(posix.join(posix.dirname(file), m[1])) === header) return true;
  return false;
}

/** The function names the hunk headers of a `diff -p` patch show (`@@ ... @@ static int foo(...)`), and the lines changed. */
export function hunkFunctions(patch: string): { functions: string[]; changedLines: number } {
  const fns = new Set<string>();
  let changed = 0;
  for (const l of patch.split('\n')) {
    const h = /^@@ [^@]+ @@ (.*)$/.exec(l);
    if (h) {
      const m = /([A-Za-z_]\w*)\s*\(/.exec(h[1]);
      if (m) fns.add(m[1]);
    } else if ((l.startsWith('+') && !l.startsWith('+++')) || (l.startsWith('-') && !l.startsWith('---'))) changed++;
  }
  return { functions: [...fns], changedLines: changed };
}

/**
 * The corpus between trees `a` (older) and `b` (newer): one patch per kept
 * .c file, written into `outDir`, sampled with `seed` (at most `max`).
 */
export function cutCorpus(a: string, b: string, known: Set<string>, outDir: string, opts: { maxLines: number; seed: number; max: number }): { cases: CorpusCase[]; total: number } {
  mkdirSync(outDir, { recursive: true });
  const changed = changedSources(a, b);
  const headersByDir = new Map<string, string[]>();
  for (const f of changed.filter((x) => x.endsWith('.h'))) {
    const d = dirname(f);
    headersByDir.set(d, [...(headersByDir.get(d) ?? []), f]);
  }
  const candidates: CorpusCase[] = [];
  for (const f of changed.filter((x) => x.endsWith('.c'))) {
    const text = diffFile(a, b, f);
    if (text === '') continue;
    const { functions, changedLines } = hunkFunctions(text);
    const have = functions.filter((fn) => known.has(fn));
    if (have.length === 0 || changedLines > opts.maxLines) continue;
    // The directory's changed headers that the file includes (a header it does not include is another fix's).
    const source = readFileSync(join(b, f), 'latin1');
    const headers = (headersByDir.get(dirname(f)) ?? []).filter((h) => includesHeader(f, source, h));
    const body = [text, ...headers.map((h) => diffFile(a, b, h))].join('');
    const patch = join(outDir, `${f.replace(/\//g, '__').replace(/\.c$/, '')}.patch`);
    writeFileSync(patch, body, 'latin1');
    candidates.push({ file: f, headers, changedLines, functions: have, patch });
  }
  // Fixed-seed sample (Fisher-Yates), then in path order.
  const rand = seeded(opts.seed);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  // In the sample's own order: a run stopped after N cases has the sample --max N.
  return { cases: candidates.slice(0, opts.max), total: candidates.length };
}
