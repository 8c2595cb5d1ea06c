/**
 * The include graph of a configured kernel tree: which file each `#include`
 * of the configured objects' sources (and of every header they reach) names,
 * resolved with kbuild's include path. Conservative: `#if` is ignored (every
 * include counts), a directory's extra -I paths are tried for every header
 * the standard path does not find, and an include through a macro that
 * cannot be resolved is reported so the caller can widen its answer.
 * Built once per tree and configuration and cached under <cache>/kernel/.
 */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { writeFileAtomic } from '../target/atomic.js';
import type { ConfiguredTree } from './configured.js';
import { treeStamp } from './stamp.js';

/** kbuild's LINUXINCLUDE for x86 (arch first, then generic, then uapi), and its forced includes. */
export const STANDARD_INCLUDE = [
  'arch/x86/include', 'arch/x86/include/generated', 'include', 'arch/x86/include/uapi', 'arch/x86/include/generated/uapi', 'include/uapi', 'include/generated/uapi',
];
export const FORCED_INCLUDES = ['include/linux/compiler-version.h', 'include/linux/kconfig.h', 'include/linux/compiler_types.h'];

export interface IncludeIndex {
  /** Scanned files (sources and the headers they reach), by id. */
  files: string[];
  /** For each file id, the ids of the files it includes. */
  includes: number[][];
  /** Files with an `#include MACRO` that could not be resolved: file → the macros. */
  unresolved: Record<string, string[]>;
  /** Object → its source file (relative to the tree), for objects whose source exists. */
  sources: Record<string, string>;
  /** Object → files it includes by -include flags (besides the standard forced ones). */
  forced: Record<string, string[]>;
  /** Objects whose source is not in the tree (generated at build time). */
  generated: string[];
  /** Milliseconds the scan took. */
  ms: number;
  /** Fingerprint of the scanned files (stamp.ts): a cached index whose files changed is rebuilt. */
  stamp: string;
}

const FORMAT = 3;
/** Directories of a tree never reached by a kernel object's #include. */
const SKIP_TOP = new Set(['.git', 'Documentation', 'debian', '.pc']);
const SKIP_EXT = /\.(o|cmd|ko|a|mod|order|d|tmp|rst|txt|json|yaml|py|sh|pl)$/;

/** Every file of the tree that an #include could name (relative paths). */
async function listFiles(tree: string): Promise<Set<string>> {
  const files = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(rel === '' ? tree : join(tree, rel), { withFileTypes: true });
    } catch {
      return;
    }
    const subs: Promise<void>[] = [];
    for (const e of entries) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!(rel === '' && SKIP_TOP.has(e.name))) subs.push(walk(p));
      } else if (!SKIP_EXT.test(e.name)) {
        files.add(p);
      }
    }
    await Promise.all(subs);
  };
  await walk('');
  return files;
}

/**
 * A directory's kbuild rules that make an object from a source elsewhere in
 * the tree (kernel/bpf/Makefile on 6.1: `$(obj)/relo_core.o:
 * $(srctree)/tools/lib/bpf/relo_core.c FORCE`; libstub's `$(obj)/lib-%.o:
 * $(srctree)/lib/%.c`): object pattern (relative to the directory) → source
 * pattern (relative to the tree), `%` standing for the same stem in both.
 */
export function explicitSourceRules(makefile: string, dir: string): Array<{ object: string; source: string }> {
  const out: Array<{ object: string; source: string }> = [];
  const rule = /^\$\(obj\)\/([^\s:]+)\.o[ \t]*:[ \t]*\$\((srctree|src)\)\/([^\s]+)\.c(?=[\s]|$)/gm;
  for (let m = rule.exec(makefile); m !== null; m = rule.exec(makefile)) {
    const source = m[2] === 'src' ? posix.normalize(`${dir}/${m[3]}`) : posix.normalize(m[3]);
    if (source.startsWith('../') || (m[1].split('%').length > 2) || (m[3].split('%').length !== m[1].split('%').length)) continue;
    out.push({ object: m[1], source: `${source}.c` });
  }
  return out;
}

/** The source an explicit rule of the object's directory names for it, or null. */
function explicitSource(rules: Array<{ object: string; source: string }>, dir: string, obj: string): string | null {
  const rel = obj.slice(dir === '.' ? 0 : dir.length + 1, -2);
  for (const r of rules) {
    const pct = r.object.indexOf('%');
    if (pct < 0) {
      if (r.object === rel) return r.source;
      continue;
    }
    const head = r.object.slice(0, pct);
    const tail = r.object.slice(pct + 1);
    if (rel.length > head.length + tail.length && rel.startsWith(head) && rel.endsWith(tail)) {
      return r.source.replace('%', rel.slice(head.length, rel.length - tail.length));
    }
  }
  return null;
}

/** Include-directory options of an object: its directory's flags, then its own CFLAGS_. */
function objectFlags(conf: ConfiguredTree, object: string): string[] {
  return [...(conf.dirFlags.get(posix.dirname(object)) ?? []), ...(conf.objectFlags.get(object) ?? [])];
}

/** Builds the include graph of the configured objects' sources. */
export async function buildIncludeIndex(tree: string, conf: ConfiguredTree): Promise<IncludeIndex> {
  const started = Date.now();
  const exists = await listFiles(tree);
  const config = readFileSync(join(tree, '.config'), 'latin1');
  // The extra -I/-iquote directories any configured directory adds: tried for includes the standard path does not find.
  const extra = new Set<string>();
  const sources: Record<string, string> = {};
  const forced: Record<string, string[]> = {};
  const generated: string[] = [];
  const rulesOf = new Map<string, Array<{ object: string; source: string }>>();
  const rules = (dir: string): Array<{ object: string; source: string }> => {
    let r = rulesOf.get(dir);
    if (r === undefined) {
      r = [];
      for (const name of ['Makefile', 'Kbuild']) {
        const mk = dir === '.' ? name : `${dir}/${name}`;
        if (exists.has(mk)) r.push(...explicitSourceRules(readFileSync(join(tree, mk), 'latin1'), dir));
      }
      rulesOf.set(dir, r);
    }
    return r;
  };
  for (const obj of conf.objects.keys()) {
    const base = obj.slice(0, -2);
    let src = exists.has(`${base}.c`) ? `${base}.c` : exists.has(`${base}.S`) ? `${base}.S` : null;
    if (src === null) {
      // Built from a source elsewhere by an explicit rule of its directory's Makefile.
      const other = explicitSource(rules(posix.dirname(obj)), posix.dirname(obj), obj);
      if (other !== null && exists.has(other)) src = other;
    }
    if (src === null) generated.push(obj);
    else sources[obj] = src;
    const flags = objectFlags(conf, obj);
    for (let i = 0; i + 1 < flags.length; i += 2) {
      if (flags[i] === '-include') (forced[obj] ??= []).push(flags[i + 1]);
      else if (!STANDARD_INCLUDE.includes(flags[i + 1])) extra.add(flags[i + 1]);
    }
  }
  const extraDirs = [...extra].sort();
  const ids = new Map<string, number>();
  const files: string[] = [];
  const includes: number[][] = [];
  const unresolved: Record<string, string[]> = {};
  const queue: number[] = [];
  const idOf = (p: string): number => {
    let id = ids.get(p);
    if (id === undefined) {
      id = files.length;
      ids.set(p, id);
      files.push(p);
      includes.push([]);
      queue.push(id);
    }
    return id;
  };
  // Joins without normalising unless the name has . or .. parts (most do not).
  const joinPath = (dir: string, name: string): string => (/(^|\/)\.\.?(\/|$)|\/\/|^\//.test(name) || dir.endsWith('/') ? posix.normalize(`${dir}/${name}`) : `${dir}/${name}`);
  const resolveName = (from: string, quote: boolean, name: string): string[] => {
    if (quote) {
      const slash = from.lastIndexOf('/');
      const local = slash < 0 ? posix.normalize(name) : joinPath(from.slice(0, slash), name);
      if (exists.has(local)) return [local];
    }
    if (name.startsWith('/')) return [];
    for (const d of STANDARD_INCLUDE) {
      const p = joinPath(d, name);
      if (exists.has(p)) return [p];
    }
    const found: string[] = [];
    for (const d of extraDirs) {
      const p = joinPath(d, name);
      if (exists.has(p)) found.push(p);
    }
    // Some directories include by tree-relative path (-I $(srctree)).
    const top = posix.normalize(name);
    if (found.length === 0 && exists.has(top) && !top.startsWith('..')) found.push(top);
    return found;
  };
  for (const src of Object.values(sources)) idOf(src);
  for (const f of new Set(Object.values(forced).flat())) if (exists.has(f)) idOf(f);
  for (const f of FORCED_INCLUDES) if (exists.has(f)) idOf(f);
  // Read in batches (the kernel's sources are many small files).
  const computed: Array<{ id: number; macro: string }> = [];
  const defines = new Map<string, Array<{ from: string; quote: boolean; name: string }>>();
  while (queue.length > 0) {
    const batch = queue.splice(0, 256);
    const texts = await Promise.all(batch.map((id) => fs.readFile(join(tree, files[id])).catch(() => Buffer.alloc(0))));
    batch.forEach((id, k) => {
      const from = files[id];
      const out = new Set<number>();
      for (const d of directives(texts[k])) {
        if (d.kind === 'define') {
          let list = defines.get(d.name);
          if (list === undefined) defines.set(d.name, (list = []));
          list.push({ from, quote: d.quote, name: d.target });
        } else if (d.kind === 'macro') {
          if (!/^TRACE_INCLUDE(_FILE)?$/.test(d.name)) computed.push({ id, macro: d.name });
        } else {
          for (const p of resolveName(from, d.quote, d.target)) out.add(idOf(p));
        }
      }
      includes[id] = [...out];
    });
    if (queue.length === 0) {
      // `#include MACRO`: whatever any scanned file defines MACRO as (define_trace.h's TRACE_INCLUDE re-includes its includer, already on the path).
      for (const c of computed.splice(0)) {
        const defs = defines.get(c.macro) ?? [];
        if (c.macro.startsWith('CONFIG_')) {
          // A string option naming a file (unset: the #include is compiled out).
          const v = new RegExp(`^${c.macro}="([^"]+)"$`, 'm').exec(config);
          if (v !== null) defs.push({ from: files[c.id], quote: true, name: v[1] });
          else continue;
        }
        if (defs.length === 0) (unresolved[files[c.id]] ??= []).push(c.macro);
        for (const d of defs) for (const p of resolveName(d.from, d.quote, d.name)) includes[c.id].push(idOf(p));
      }
    }
  }
  return { files, includes, unresolved, sources, forced, generated, ms: Date.now() - started, stamp: await treeStamp(tree, files) };
}

type Directive =
  | { kind: 'include'; quote: boolean; target: string }
  | { kind: 'macro'; name: string }
  | { kind: 'define'; name: string; quote: boolean; target: string };

const INCLUDE = Buffer.from('include');
const DEFINE = Buffer.from('define');

/** Whether `at` follows `#` at the start of a line (blanks allowed around the `#`). */
function afterHash(buf: Buffer, at: number): boolean {
  let j = at - 1;
  while (j >= 0 && (buf[j] === 0x20 || buf[j] === 0x09)) j--;
  if (j < 0 || buf[j] !== 0x23) return false;
  j--;
  while (j >= 0 && (buf[j] === 0x20 || buf[j] === 0x09)) j--;
  return j < 0 || buf[j] === 0x0a;
}

/** Whether a `#define` at `at` (after the word) has a value starting with < or " (the cheap test before a regex). */
function namesFile(buf: Buffer, at: number): boolean {
  let j = at;
  while (j < buf.length && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
  while (j < buf.length && buf[j] !== 0x20 && buf[j] !== 0x09 && buf[j] !== 0x0a && buf[j] !== 0x28) j++;
  if (buf[j] !== 0x20 && buf[j] !== 0x09) return false; // a function-like macro, or no value
  while (j < buf.length && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
  return buf[j] === 0x3c || buf[j] === 0x22;
}

function restOfLine(buf: Buffer, from: number): string {
  let e = buf.indexOf(0x0a, from);
  if (e < 0) e = buf.length;
  return buf.toString('latin1', from, e);
}

/**
 * The #include lines of a file (every one: #if is not evaluated), and its
 * `#define NAME <file>` / `"file"` lines (what a computed include may name).
 */
export function directives(buf: Buffer): Directive[] {
  const out: Directive[] = [];
  for (let i = buf.indexOf(INCLUDE); i >= 0; i = buf.indexOf(INCLUDE, i + INCLUDE.length)) {
    if (!afterHash(buf, i)) continue;
    const m = /^[ \t]*(?:([<"])([^>"]+)[>"]|([A-Za-z_][A-Za-z0-9_]*))/.exec(restOfLine(buf, i + INCLUDE.length));
    if (m === null) continue;
    if (m[3] !== undefined) out.push({ kind: 'macro', name: m[3] });
    else out.push({ kind: 'include', quote: m[1] === '"', target: m[2].trim() });
  }
  for (let i = buf.indexOf(DEFINE); i >= 0; i = buf.indexOf(DEFINE, i + DEFINE.length)) {
    if (!afterHash(buf, i) || !namesFile(buf, i + DEFINE.length)) continue;
    const m = /^[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+([<"])([^>"\n]+)[>"]/.exec(restOfLine(buf, i + DEFINE.length));
    if (m !== null && /\.(h|c|inc)$/.test(m[3].trim())) out.push({ kind: 'define', name: m[1], quote: m[2] === '"', target: m[3].trim() });
  }
  return out;
}

function cacheFile(cacheDir: string, tree: string, config: string): string {
  const h = createHash('sha256').update(`${FORMAT}\0${tree}\0`).update(config).digest('hex').slice(0, 32);
  return join(cacheDir, 'kernel', `includes-${h}.json`);
}

/** The include index of `tree`, from the cache when this tree and configuration were scanned before. */
export async function includeIndex(tree: string, conf: ConfiguredTree, cacheDir: string | null): Promise<{ index: IncludeIndex; cached: boolean }> {
  const config = readFileSync(join(tree, '.config'), 'latin1');
  const file = cacheDir === null ? null : cacheFile(cacheDir, tree, config);
  if (file !== null) {
    try {
      const index = JSON.parse(await fs.readFile(file, 'utf8')) as IncludeIndex;
      if (index.stamp === await treeStamp(tree, index.files)) return { index, cached: true };
    } catch { /* not cached yet */ }
  }
  const index = await buildIncludeIndex(tree, conf);
  if (file !== null) {
    await fs.mkdir(join(cacheDir!, 'kernel'), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(index));
  }
  return { index, cached: false };
}

/**
 * The configured objects that include one of `headers` (tree-relative paths),
 * directly or through other headers; `all` when the forced includes reach
 * them (every object); `generated`: objects whose source is made at build
 * time, taken when a sibling in their directory includes the header.
 */
export function objectsIncludingHeaders(index: IncludeIndex, headers: string[]): { objects: string[]; all: boolean; generated: string[] } {
  const ids = new Map<string, number>();
  index.files.forEach((f, i) => ids.set(f, i));
  const reverse: number[][] = index.files.map(() => []);
  index.includes.forEach((inc, from) => { for (const to of inc) reverse[to].push(from); });
  const reached = new Uint8Array(index.files.length);
  const stack: number[] = [];
  for (const h of headers) {
    const id = ids.get(posix.normalize(h));
    if (id !== undefined && !reached[id]) { reached[id] = 1; stack.push(id); }
  }
  while (stack.length > 0) {
    const id = stack.pop()!;
    for (const from of reverse[id]) if (!reached[from]) { reached[from] = 1; stack.push(from); }
  }
  const isReached = (p: string) => { const id = ids.get(p); return id !== undefined && reached[id] === 1; };
  // The forced includes reach the header: every object includes it.
  const all = FORCED_INCLUDES.some(isReached);
  const objects: string[] = [];
  for (const [obj, src] of Object.entries(index.sources)) {
    if (all || isReached(src) || (index.forced[obj] ?? []).some(isReached)) objects.push(obj);
  }
  // Objects made from generated sources (asn1 parsers, raid6 unrolled code) are not scanned: rebuilt when a sibling of their directory includes the header.
  const dirs = new Set(objects.map((o) => posix.dirname(o)));
  const generated = index.generated.filter((o) => all || dirs.has(posix.dirname(o)));
  return { objects: [...objects, ...generated].sort(), all, generated };
}
