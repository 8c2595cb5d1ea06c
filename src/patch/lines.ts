/**
 * Where a patch moves source lines: for every file it modifies, the new line
 * number of each original line that survives (context), computed from the
 * hunks. `kelp diff` uses it to tell a `__LINE__` immediate that moved with its
 * line (not a change) from a constant the patch really changed.
 *
 * The data is plain (it crosses to the diff worker threads). A file changed by
 * several patches keeps one stage per patch, applied in order.
 */
import { diffLib } from './jsdiff.js';

/** One hunk as jsdiff holds it: `oldStart` is the first old line covered (1-based), lines start with ' ', '-' or '+'. */
export interface LineHunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: string[];
}

/** path → stages (one per patch that changes the file) → hunks sorted by oldStart. */
export type LineMapData = Record<string, LineHunk[][]>;

/** The new number of original line `line` through one stage's hunks; undefined when the line was removed. */
export function mapLine(hunks: readonly LineHunk[], line: number): number | undefined {
  let delta = 0;
  for (const h of hunks) {
    if (line < h.oldStart) return line + delta;
    if (line < h.oldStart + h.oldLines) {
      let o = h.oldStart;
      let n = h.newStart;
      for (const l of h.lines) {
        const c = l.charAt(0);
        if (c === ' ') {
          if (o === line) return n;
          o++;
          n++;
        } else if (c === '-') {
          if (o === line) return undefined;
          o++;
        } else if (c === '+') {
          n++;
        }
      }
      return undefined;
    }
    delta = h.newStart + h.newLines - (h.oldStart + h.oldLines);
  }
  return line + delta;
}

function plainHunks(hunks: readonly LineHunk[]): LineHunk[] {
  return hunks
    .map((h) => ({ oldStart: h.oldStart, oldLines: h.oldLines, newStart: h.newStart, newLines: h.newLines, lines: h.lines.filter((l) => /^[ +-]/.test(l)) }))
    .sort((a, b) => a.oldStart - b.oldStart);
}

/** `a/fs/x.c` and `b/fs/x.c` name one file (patch -p1); other names are kept as they are. */
function patchPath(name: string | undefined): string | null {
  if (name === undefined || name === '/dev/null') return null;
  const clean = name.replace(/\t.*$/, '');
  return /^[ab]\//.test(clean) ? clean.slice(2) : clean;
}

export class LineMap {
  private constructor(readonly data: LineMapData) {}

  static empty(): LineMap {
    return new LineMap({});
  }

  static from(data: LineMapData): LineMap {
    return new LineMap(data);
  }

  /** From each modified file's text before and after (created and deleted files move no line). */
  static fromTexts(files: Iterable<[string, string | null, string | null]>): LineMap {
    const data: LineMapData = {};
    for (const [path, before, after] of files) {
      if (before === null || after === null || before === after) continue;
      const p = diffLib().structuredPatch(path, path, before, after, '', '', { context: 0 });
      data[path] = [plainHunks(p.hunks)];
    }
    return new LineMap(data);
  }

  /** From unified diff texts, applied in the order given. */
  static fromPatchTexts(texts: Iterable<string>): LineMap {
    const data: LineMapData = {};
    for (const text of texts) {
      for (const p of diffLib().parsePatch(text)) {
        const path = patchPath(p.newFileName) ?? patchPath(p.oldFileName);
        if (path === null || p.hunks.length === 0) continue;
        if (patchPath(p.oldFileName) === null || patchPath(p.newFileName) === null) continue;
        (data[path] ??= []).push(plainHunks(p.hunks));
      }
    }
    return new LineMap(data);
  }

  get files(): string[] {
    return Object.keys(this.data).sort();
  }

  /** Line `line` of `path` before the patches, after them; undefined when removed or the file is not patched. */
  map(path: string, line: number): number | undefined {
    const stages = this.data[path];
    if (stages === undefined) return undefined;
    let l: number | undefined = line;
    for (const s of stages) {
      if (l === undefined) return undefined;
      l = mapLine(s, l);
    }
    return l;
  }

  /** True when some patched file has a line that moves from `orig` to `patched`. */
  explains(orig: number, patched: number): boolean {
    if (!Number.isInteger(orig) || !Number.isInteger(patched) || orig < 1 || patched < 1) return false;
    for (const path of Object.keys(this.data)) if (this.map(path, orig) === patched) return true;
    return false;
  }
}
