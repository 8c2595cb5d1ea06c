/**
 * Cutting a corpus of real fixes: one patch per changed `.c` file between two
 * Debian source versions of one kernel series (`diff -up`, a/ and b/ paths),
 * kept when its hunks touch a function the target kernel has (System.map
 * text symbols, or a symbol of one of its modules) and it changes at most
 * `maxLines` lines.
 *
 * A changed header of the same directory comes along only as far as it
 * belongs to the .c file's fix (`relatedHunks`): the .c includes it by a
 * quoted path, directly or through headers it so includes (`reachedHeaders`:
 * ext4's super.c reaches extents_status.h through ext4.h), and of its diff
 * only the hunks that touch a
 * name on the .c diff's changed lines, their line numbers shifted for the
 * hunks left out. What changed header lines touch (`touches`; comments and
 * strings left out): the names they declare or define — a `#define`, a
 * function at column 0, a function pointer member `(*name)(` — and every other
 * identifier on them that no unchanged line of the header has (a new or
 * removed member, enumerator, type, macro or function), and the function whose
 * declaration head a changed line is in (a parameter added on its own line,
 * the name on the context line above: `signatureNames`, on both diffs).
 * Identifiers that the
 * header has on unchanged lines too (a parameter `dev`, `rcu` of the
 * `struct rcu_head rcu` members it already has), C keywords, common type
 * names and errno constants tie nothing. Ten releases of fixes change a
 * directory's shared header (fs/afs/internal.h, drivers/nvme/target/nvmet.h)
 * in several places for unrelated fixes; a hunk the .c file's changed lines
 * use nothing of is another fix's, and a header none of whose hunks is used
 * stays out. A fix that needs a header change it names nowhere on its changed
 * lines (or another directory's) does not compile alone.
 * Sampled with a fixed seed, so a run is repeatable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, relative, sep } from 'node:path';
import { AptState } from '../../src/kernel/apt.js';
import { cacheRoot } from '../../src/target/cache.js';
import { readSymbolTable } from '../../src/symbols/read.js';
import { rng } from '../support/rng.js';

export interface CorpusCase {
  /** The .c file, relative to the tree. */
  file: string;
  /** Headers of the same directory the patch also changes (as far as they belong to the .c file's fix: `relatedHunks`). */
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
function diffFile(a: string, b: string, rel: string, label: string = rel): string {
  const r = spawnSync('diff', ['-up', '--label', `a/${label}`, '--label', `b/${label}`, join(a, rel), join(b, rel)], { encoding: 'latin1', maxBuffer: 64 << 20 });
  if (r.status === 0) return '';
  if (r.status !== 1) throw new Error(`diff ${rel} failed: ${r.stderr}`);
  return r.stdout;
}

/** Where tree-relative `rel` leads inside `tree` when it is a symbolic link (itself otherwise, or when it leads outside the tree). */
export function linkTarget(tree: string, rel: string): string {
  let real: string;
  try {
    real = relative(realpathSync(tree), realpathSync(join(tree, rel)));
  } catch {
    return rel;
  }
  return real === '' || real.startsWith('..') || isAbsolute(real) ? rel : real.split(sep).join('/');
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

/** The tree-relative paths C source `file` (text `text`) includes by a quoted path. */
function quotedIncludes(file: string, text: string): string[] {
  const out: string[] = [];
  const re = /^\s*#\s*include\s*"([^"]+)"/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(posix.normalize(posix.join(posix.dirname(file), m[1])));
  return out;
}

/** Whether C source file `file` (tree-relative, text `text`) has an #include "..." that resolves to tree-relative `header`. */
export function includesHeader(file: string, text: string, header: string): boolean {
  return quotedIncludes(file, text).includes(header);
}

/**
 * The headers C source `file` (text `text`) includes by quoted paths, directly
 * or through headers it so includes (ext4's super.c reaches extents_status.h
 * through ext4.h). `read` gives a tree-relative header's text, undefined when
 * the tree has no such file.
 */
export function reachedHeaders(file: string, text: string, read: (header: string) => string | undefined): Set<string> {
  const seen = new Set<string>();
  const todo = quotedIncludes(file, text);
  for (let h = todo.pop(); h !== undefined; h = todo.pop()) {
    if (seen.has(h)) continue;
    const t = read(h);
    if (t === undefined) continue;
    seen.add(h);
    todo.push(...quotedIncludes(h, t));
  }
  return seen;
}

/** C keywords, storage and type qualifiers, and type names too common to tie a header's change to a .c file's. */
const COMMON = new Set([
  'auto', 'break', 'case', 'char', 'const', 'continue', 'default', 'do', 'double', 'else', 'enum', 'extern', 'float', 'for', 'goto', 'if',
  'inline', 'int', 'long', 'register', 'restrict', 'return', 'short', 'signed', 'sizeof', 'static', 'struct', 'switch', 'typedef', 'union',
  'unsigned', 'void', 'volatile', 'while', '_Bool', 'bool', 'true', 'false', 'NULL', 'typeof', '__typeof__', 'asm', '__asm__', 'defined',
  'define', 'undef', 'ifdef', 'ifndef', 'endif', 'elif', 'include', 'error', 'pragma',
  '__attribute__', '__always_inline', 'noinline', '__init', '__exit', '__user', '__iomem', '__rcu', '__percpu', '__must_check', '__packed',
  '__aligned', '__maybe_unused', '__force', '__le16', '__le32', '__le64', '__be16', '__be32', '__be64',
  'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', '__u8', '__u16', '__u32', '__u64', '__s8', '__s16', '__s32', '__s64',
  'int8_t', 'int16_t', 'int32_t', 'int64_t', 'uint8_t', 'uint16_t', 'uint32_t', 'uint64_t', 'size_t', 'ssize_t', 'loff_t', 'off_t',
  'uintptr_t', 'intptr_t', 'ptrdiff_t', 'gfp_t', 'atomic_t', 'atomic64_t', 'atomic_long_t', 'refcount_t', 'spinlock_t', 'rwlock_t',
  'dma_addr_t', 'phys_addr_t', 'resource_size_t', 'pid_t', 'uid_t', 'gid_t', 'umode_t', 'ktime_t', 'time64_t', 'sector_t', 'blk_status_t',
  'list_head', 'hlist_head', 'hlist_node', 'rcu_head', 'mutex', 'rw_semaphore', 'work_struct', 'delayed_work', 'completion', 'kref',
  'wait_queue_head_t', 'timer_list', 'device', 'module',
]);

/** A diff's changed lines ('+' or '-', not the file labels), each without its sign. */
function changedLines(diff: string): string[] {
  return diff.split('\n').filter((l) => (l.startsWith('+') && !l.startsWith('+++ ')) || (l.startsWith('-') && !l.startsWith('--- '))).map((l) => l.slice(1));
}

/**
 * The code of C source lines, comments and string or character literals left
 * out (a comment's words are no names). Each line stands alone, since a diff's
 * changed lines are a file's lines with gaps: a line that starts with a star
 * and a space or slash, or is a lone star, is inside a comment; text before a
 * `*` `/` with no opening is a comment's end; a comment left open runs to the
 * end of its line.
 */
function codeOf(lines: string[]): string[] {
  return lines.map((l) => {
    if (/^\s*\*(\s|\/|$)/.test(l)) return '';
    let out = '';
    let inComment = false;
    const close = l.indexOf('*/');
    if (close >= 0 && !l.slice(0, close).includes('/*')) l = l.slice(close + 2);
    for (let i = 0; i < l.length; i++) {
      if (inComment) {
        if (l.startsWith('*/', i)) {
          inComment = false;
          i++;
        }
      } else if (l.startsWith('/*', i)) {
        inComment = true;
        i++;
        out += ' ';
      } else if (l.startsWith('//', i)) {
        break;
      } else if (l[i] === '"' || l[i] === "'") {
        const q = l[i];
        for (i++; i < l.length && l[i] !== q; i++) if (l[i] === '\\') i++;
        out += ' ';
      } else {
        out += l[i];
      }
    }
    return out;
  });
}

/** The identifiers of C code lines (not numbers' letters: `0x1fUL` has none), less the common ones (COMMON, errno constants). */
function identifiers(code: string[]): Set<string> {
  const out = new Set<string>();
  for (const l of code) for (const m of l.matchAll(/\b[A-Za-z_]\w*/g)) if (!COMMON.has(m[0]) && !/^E[A-Z0-9]+$/.test(m[0])) out.add(m[0]);
  return out;
}

/** The lines of the newer file that a `diff -u` adds (1-based). */
function addedLines(diff: string): Set<number> {
  const added = new Set<number>();
  let n = 0;
  for (const l of diff.split('\n')) {
    const h = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(l);
    if (h) n = Number(h[1]);
    else if (n > 0 && l.startsWith('+') && !l.startsWith('+++ ')) added.add(n++);
    else if (n > 0 && l.startsWith(' ')) n++;
  }
  return added;
}

/**
 * What the changed lines `changed` of a header touch (see the file's
 * comment): the names they declare or define (`#define NAME`, a function at
 * column 0, a function pointer member), and their identifiers that no
 * unchanged line of the header has (`kept`: the identifiers of those lines).
 */
function touches(changed: string[], kept: Set<string>): Set<string> {
  const code = codeOf(changed);
  const touched = new Set([...identifiers(code)].filter((x) => !kept.has(x)));
  for (const l of code) {
    const d = /^\s*#\s*(?:define|undef)\s+([A-Za-z_]\w*)/.exec(l);
    if (d) touched.add(d[1]);
    // A function declared or defined at column 0: the name before its first parenthesis.
    const f = /^[A-Za-z_][^=;(#]*?\b([A-Za-z_]\w*)\s*\(/.exec(l);
    if (f && !COMMON.has(f[1])) touched.add(f[1]);
    for (const p of l.matchAll(/\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(/g)) touched.add(p[1]);
  }
  return touched;
}

/**
 * The functions whose declaration or definition head a hunk's changed lines
 * are in: a changed parameter line (`+\tint str_obj_count,`) belongs to the
 * column-0 line above it that opens the parameter list
 * (`int hp_populate_string_package_data(union acpi_object *str_obj,`) when no
 * line between them ends a statement or opens a body. Each side of the hunk
 * (older: context and removed lines; newer: context and added lines) is read
 * on its own.
 */
function signatureNames(hunk: string[]): Set<string> {
  const names = new Set<string>();
  for (const side of ['-', '+']) {
    const lines = hunk.filter((l) => l.startsWith(' ') || l.startsWith(side));
    const code = codeOf(lines.map((l) => l.slice(1)));
    lines.forEach((l, i) => {
      if (!l.startsWith(side)) return;
      for (let k = i; k >= 0 && k > i - 12; k--) {
        const c = code[k];
        if (k < i && /[;{}]\s*$/.test(c)) break;
        const head = /^[A-Za-z_][^=;(#]*?\b([A-Za-z_]\w*)\s*\(/.exec(c);
        if (head) {
          if (!COMMON.has(head[1])) names.add(head[1]);
          break;
        }
        if (/^\S/.test(c) && c.trim() !== '') break;
      }
    });
  }
  return names;
}

/** The hunks of a `diff -u`, each its `@@` line and body. */
function hunksOf(diff: string): string[][] {
  const hunks: string[][] = [];
  for (const l of diff.split('\n')) {
    if (l.startsWith('@@ ')) hunks.push([l]);
    else if (hunks.length > 0 && l !== '') hunks[hunks.length - 1].push(l);
  }
  return hunks;
}

/** The identifiers of the lines of `newText` (a header) that `diff` does not add. */
function keptIdentifiers(diff: string, newText: string): Set<string> {
  const added = addedLines(diff);
  return identifiers(codeOf(newText.split('\n').filter((_, i) => !added.has(i + 1))));
}

/**
 * The part of changed header `header`'s diff (`headerDiff`, tree-relative
 * path, newer text `headerText`) that belongs to the fix of .c file `file`
 * (newer text `source`, diff `fileDiff`), '' when none does: nothing unless
 * the file includes the header by a quoted path (directly, or through the
 * headers of `reached`, from `reachedHeaders`); else the header's hunks
 * that touch (`touches`) an identifier on the file's changed lines, their
 * newer-file line numbers shifted for the hunks left out. Ten releases of
 * fixes change one header in several places: a hunk the file's change does
 * not use is another fix's.
 */
export function relatedHunks(file: string, source: string, fileDiff: string, header: string, headerDiff: string, headerText: string, reached?: Set<string>): string {
  if (!(reached?.has(header) ?? includesHeader(file, source, header))) return '';
  const used = identifiers(codeOf(changedLines(fileDiff)));
  for (const h of hunksOf(fileDiff)) for (const x of signatureNames(h.slice(1))) used.add(x);
  const kept = keptIdentifiers(headerDiff, headerText);
  const lines = headerDiff.split('\n');
  const first = lines.findIndex((l) => l.startsWith('@@ '));
  if (first < 0) return '';
  const hunks = hunksOf(headerDiff);
  const out: string[] = [];
  let shiftOrig = 0; // newer-minus-older line count of all hunks before this one
  let shiftKept = 0; // the same, of the hunks kept
  for (const h of hunks) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/.exec(h[0]);
    if (!m) throw new Error(`not a unified diff hunk header: ${h[0]}`);
    const [oldLen, newStart, newLen] = [Number(m[2] ?? '1'), Number(m[3]), Number(m[4] ?? '1')];
    const body = h.slice(1);
    const changed = body.filter((l) => l.startsWith('+') || l.startsWith('-')).map((l) => l.slice(1));
    if ([...touches(changed, kept), ...signatureNames(body)].some((x) => used.has(x))) {
      const start = newStart - shiftOrig + shiftKept;
      out.push(`@@ -${m[1]}${m[2] === undefined ? '' : `,${m[2]}`} +${start}${m[4] === undefined ? '' : `,${m[4]}`} @@${m[5]}`, ...body);
      shiftKept += newLen - oldLen;
    }
    shiftOrig += newLen - oldLen;
  }
  return out.length === 0 ? '' : `${[...lines.slice(0, first), ...out].join('\n')}\n`;
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
  const headerDiffs = new Map<string, string>();
  const headerTexts = new Map<string, string | undefined>();
  const readHeader = (h: string): string | undefined => {
    if (!headerTexts.has(h)) {
      const path = join(b, h);
      headerTexts.set(h, h.startsWith('../') || !existsSync(path) || !statSync(path).isFile() ? undefined : readFileSync(path, 'latin1'));
    }
    return headerTexts.get(h);
  };
  const candidates: CorpusCase[] = [];
  for (const link of changed.filter((x) => x.endsWith('.c'))) {
    // A symbolic link (tools/testing/selftests/bpf/disasm.c -> kernel/bpf/disasm.c) is patched
    // where it points: patch(1) refuses to patch through a link. The case stays, so the seeded
    // sample is the same whether a tree's links were seen or not.
    const f = linkTarget(b, link);
    const text = diffFile(a, b, link, f);
    if (text === '') continue;
    const { functions, changedLines } = hunkFunctions(text);
    const have = functions.filter((fn) => known.has(fn));
    if (have.length === 0 || changedLines > opts.maxLines) continue;
    // The directory's changed headers that belong to this fix, as far as they do: included, and their hunks that touch what the file changes (relatedHunks).
    const source = readFileSync(join(b, f), 'latin1');
    const reached = reachedHeaders(f, source, readHeader);
    const related = (headersByDir.get(dirname(f)) ?? [])
      .map((h) => ({ h, diff: relatedHunks(f, source, text, h, headerDiffs.get(h) ?? headerDiffs.set(h, diffFile(a, b, h)).get(h)!, readFileSync(join(b, h), 'latin1'), reached) }))
      .filter(({ diff }) => diff !== '');
    const headers = related.map(({ h }) => h);
    const body = [text, ...related.map(({ diff }) => diff)].join('');
    const patch = join(outDir, `${link.replace(/\//g, '__').replace(/\.c$/, '')}.patch`);
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
