/**
 * Reading and applying source patches the way `patch -p1` does: unified diffs
 * as `git diff` and `diff -Nupr` write them, parsed with the `diff` package.
 * Nothing here writes to a tree: applying returns the new contents, and the
 * caller decides where they go (see guard.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, normalize, posix, relative, resolve, sep } from 'node:path';
import { parsePatch, type StructuredPatch } from 'diff';
import { KelpError } from '../errors.js';
import { applyHunks, type HunkPlacement } from '../patch/apply.js';

/** One file a patch changes, with its path relative to the tree. */
export interface FileChange {
  /** The patch file this change comes from. */
  patch: string;
  /** Path relative to the tree, with `/` separators. */
  path: string;
  kind: 'modify' | 'create' | 'delete';
  hunks: StructuredPatch['hunks'];
  structured: StructuredPatch;
}

/** The outcome of applying every patch: path → new content (null: deleted), and the original contents. */
export interface AppliedPatches {
  /** Final contents of every touched file (null when the patch deletes it). */
  after: Map<string, string | null>;
  /** Contents before the first patch (null when the file did not exist). */
  before: Map<string, string | null>;
  changes: FileChange[];
  /** The hunks that needed an offset or fuzz, and where they landed. */
  moved: MovedHunk[];
}

/** A hunk that applied elsewhere than its header says, or with fuzz. */
export interface MovedHunk extends HunkPlacement {
  patch: string;
  path: string;
}

/** `fs/x.c: hunk #2 landed at line 120 (offset 5 lines, fuzz 1)`. */
export function describeMovedHunk(m: MovedHunk): string {
  const how = [
    ...(m.offset !== 0 ? [`offset ${m.offset > 0 ? '+' : ''}${m.offset} line${Math.abs(m.offset) === 1 ? '' : 's'}`] : []),
    ...(m.fuzz > 0 ? [`fuzz ${m.fuzz}`] : []),
  ];
  return `${m.path}: hunk #${m.hunk} applied at line ${m.landed}, not ${m.expected} (${how.join(', ')})`;
}

const DEV_NULL = '/dev/null';

/** Strips `n` leading path components, like patch -pN; null for /dev/null. */
export function stripComponents(name: string, n: number): string | null {
  const clean = name.trim();
  if (clean === DEV_NULL || clean === '') return null;
  const parts = clean.split('/');
  // A name with fewer components than stripped keeps its last one, as patch does.
  return parts.length <= n ? parts[parts.length - 1] : parts.slice(n).join('/');
}

/** True when a diff header names the epoch, as `diff -N` writes for a missing side. */
function epochHeader(header: string | undefined): boolean {
  return header !== undefined && /^1970-01-01 00:00:00(\.0+)? \+0000$/.test(header.trim());
}

/**
 * Checks that `rel` stays inside the tree; returns the normalised relative path.
 * Refuses absolute paths and any `..` that leaves the tree.
 */
export function insideTree(patchFile: string, rel: string): string {
  if (isAbsolute(rel) || rel.startsWith('/')) throw new KelpError(`${rel}: an absolute path; patches name files relative to the tree`, patchFile);
  const norm = posix.normalize(rel);
  if (norm === '..' || norm.startsWith('../') || norm === '.' || norm === '') {
    throw new KelpError(`${rel}: the path leaves the source tree`, patchFile);
  }
  if (rel.split('/').includes('..')) throw new KelpError(`${rel}: the path leaves the source tree`, patchFile);
  return norm;
}

/** Parses a patch file's text into the files it changes (in order). Throws for malformed or empty patches. */
export function parsePatchText(text: string, patchFile: string): FileChange[] {
  if (/^GIT binary patch$/m.test(text) || /^Binary files .* differ$/m.test(text)) {
    throw new KelpError('holds a binary change, which cannot be built into a livepatch', patchFile);
  }
  // git format-patch ends with a signature ("-- " and the git version), which is no hunk line.
  const body = text.replace(/\n-- \n[0-9][^\n]*\n*$/, '\n');
  let parsed: StructuredPatch[];
  try {
    parsed = parsePatch(body);
  } catch (e) {
    throw new KelpError(`not a unified diff: ${(e as Error).message}`, patchFile);
  }
  const changes: FileChange[] = [];
  for (const p of parsed) {
    if (p.hunks.length === 0 && p.oldFileName === undefined && p.newFileName === undefined) continue;
    if (p.hunks.length === 0) {
      // git's rename-only or mode-only entries: nothing to build, but a rename changes the build.
      throw new KelpError(`${p.newFileName ?? p.oldFileName}: a change without hunks (rename or mode change) is not supported`, patchFile);
    }
    const oldName = p.oldFileName === undefined ? null : stripComponents(p.oldFileName, 1);
    const newName = p.newFileName === undefined ? null : stripComponents(p.newFileName, 1);
    const oldMissing = oldName === null || (epochHeader(p.oldHeader) && p.hunks.every((h) => h.oldLines === 0));
    const newMissing = newName === null || (epochHeader(p.newHeader) && p.hunks.every((h) => h.newLines === 0));
    const name = newMissing ? oldName : newName;
    if (name === null) throw new KelpError('a file entry names /dev/null on both sides', patchFile);
    if (!oldMissing && !newMissing && oldName !== null && newName !== null && oldName !== newName) {
      throw new KelpError(`${oldName} -> ${newName}: renaming a file is not supported`, patchFile);
    }
    const kind: FileChange['kind'] = oldMissing ? 'create' : newMissing ? 'delete' : 'modify';
    changes.push({ patch: patchFile, path: insideTree(patchFile, name), kind, hunks: p.hunks, structured: p });
  }
  if (changes.length === 0) throw new KelpError('holds no file changes (not a unified diff?)', patchFile);
  return changes;
}

/** Reads and parses one patch file. */
export function readPatchFile(file: string): FileChange[] {
  let text: string;
  try {
    // latin1 both here and for tree files: bytes map one-to-one, whatever the encoding.
    text = readFileSync(file, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KelpError(code === 'ENOENT' ? 'no such patch file' : `cannot read: ${code ?? (e as Error).message}`, file);
  }
  return parsePatchText(text, file);
}

/** Why a path cannot be changed by a livepatch, or null when it can. */
export function unsupportedReason(path: string): string | null {
  const base = posix.basename(path);
  if (/\.(S|s)$/.test(path)) return 'assembly sources cannot be live-patched (only C functions can be replaced)';
  if (/(^|\/)vdso\d*(\/|$)/.test(path)) return 'vDSO code runs in user space and cannot be live-patched';
  if (path.startsWith('arch/x86/boot/') || path.startsWith('arch/x86/realmode/')) return 'boot and real-mode code is not live-patchable';
  if (/^(Makefile|Kbuild|Kconfig)/.test(base) || base.endsWith('.mk')) return 'build-system changes cannot be live-patched';
  // tools/ stays: the kernel builds some of its sources (kernel/bpf's relo_core.o from tools/lib/bpf/relo_core.c);
  // one no configured object is built from or includes changes nothing (exit 3).
  if (path.startsWith('scripts/')) return 'host tools are not part of the running kernel';
  if (!/\.(c|h)$/.test(path)) return 'only C sources (.c) and headers (.h) can be live-patched';
  return null;
}

/** Content of `rel` in `tree`, or null when missing. */
function readTreeFile(tree: string, rel: string): string | null {
  const abs = resolve(tree, rel);
  if (!existsSync(abs)) return null;
  return readFileSync(abs, 'latin1');
}

/**
 * Applies every change in order against the tree's current files, in memory,
 * as `patch -p1` would (offsets, and up to `maxFuzz` lines of fuzz; GNU
 * patch's default is 2). Throws naming the patch, the file and the hunk that
 * does not apply.
 */
export function applyChanges(tree: string, changes: FileChange[], maxFuzz = 2): AppliedPatches {
  const before = new Map<string, string | null>();
  const after = new Map<string, string | null>();
  const moved: MovedHunk[] = [];
  for (const c of changes) {
    if (!before.has(c.path)) {
      const abs = resolve(tree, c.path);
      const rel = relative(resolve(tree), abs);
      if (rel.startsWith('..') || isAbsolute(rel) || normalize(rel).split(sep).includes('..')) {
        throw new KelpError(`${c.path}: the path leaves the source tree`, c.patch);
      }
      before.set(c.path, readTreeFile(tree, c.path));
      after.set(c.path, before.get(c.path)!);
    }
    const current = after.get(c.path)!;
    if (c.kind === 'create') {
      if (current !== null) throw new KelpError(`${c.path}: the patch creates this file, but it already exists`, c.patch);
    } else if (current === null) {
      throw new KelpError(`${c.path}: no such file in the tree`, c.patch);
    }
    const r = applyHunks(current ?? '', c.hunks, maxFuzz);
    if (!r.ok) {
      const h = c.hunks[r.hunk - 1];
      const header = `hunk #${r.hunk} (@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@)`;
      if (r.wouldNeed !== null) {
        throw new KelpError(`${c.path}: ${header} does not apply with --fuzz ${maxFuzz}: it needs fuzz ${r.wouldNeed.fuzz} (at line ${r.wouldNeed.landed})`, c.patch);
      }
      throw new KelpError(`${c.path}: ${header} does not apply`, c.patch);
    }
    for (const p of r.placements) if (p.offset !== 0 || p.fuzz > 0) moved.push({ patch: c.patch, path: c.path, ...p });
    after.set(c.path, c.kind === 'delete' ? (r.text === '' ? null : r.text) : r.text);
    if (c.kind === 'delete' && r.text !== '') throw new KelpError(`${c.path}: the patch deletes this file, but the tree's has more lines than the patch removes`, c.patch);
  }
  // Files whose content did not change in the end are not touched.
  for (const [p, v] of after) if (v === before.get(p)) { after.delete(p); before.delete(p); }
  return { after, before, changes, moved };
}
