/**
 * Applying a file's unified-diff hunks to its text the way GNU `patch -p1`
 * does (kpatch-build applies patches with plain `patch -N -p1`), offsets and
 * fuzz included, so a fix cut from a newer stable release applies to the
 * target's source as it would by hand:
 *
 * - hunks apply in order; each is looked for first where its header says,
 *   moved by the offset the hunk before it landed at, then 1, 2, … lines
 *   after and before that (after first), never before the end of the text
 *   the previous hunk replaced;
 * - when no position matches exactly, fuzz 1, then 2 (up to `maxFuzz`, and
 *   never more than the hunk's context) leaves that many context lines
 *   unchecked at the hunk's start and end. A hunk with less leading than
 *   trailing context that starts at line 1 can only match at the start of
 *   the file; one with less trailing context only at its end (the context
 *   is short because the file begins or ends there);
 * - context lines left unchecked by fuzz keep the file's text.
 *
 * Every hunk's landing is returned, so the caller can say where each hunk
 * that needed an offset or fuzz went.
 */

/** One hunk as jsdiff parses it: lines start with ' ', '-', '+' or '\' (no newline at end of file). */
export interface ApplyHunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: string[];
}

/** Where one hunk landed. Line numbers are 1-based, in the file as it was before this file's hunks. */
export interface HunkPlacement {
  /** 1-based hunk number within the file. */
  hunk: number;
  /** The first old line the hunk's header names. */
  expected: number;
  /** The first old line the hunk replaced (its header's line moved by `offset`). */
  landed: number;
  /** landed - expected. */
  offset: number;
  /** Context lines left unchecked at each end (0: exact). */
  fuzz: number;
}

export type ApplyResult =
  | { ok: true; text: string; placements: HunkPlacement[] }
  | { ok: false; hunk: number; placements: HunkPlacement[]; /** With more fuzz than allowed, where it would land. */ wouldNeed: HunkPlacement | null };

interface Side { lines: string[]; noNewline: boolean }

/** The old and new sides of a hunk, and its leading and trailing context counts. */
function sides(h: ApplyHunk): { old: Side; neu: Side; prefix: number; suffix: number } {
  const old: Side = { lines: [], noNewline: false };
  const neu: Side = { lines: [], noNewline: false };
  let last = '';
  for (const l of h.lines) {
    const c = l.charAt(0);
    const text = l.slice(1);
    if (c === ' ') { old.lines.push(text); neu.lines.push(text); } else if (c === '-') old.lines.push(text);
    else if (c === '+') neu.lines.push(text);
    else if (c === '\\') {
      if (last === ' ') { old.noNewline = true; neu.noNewline = true; } else if (last === '-') old.noNewline = true;
      else if (last === '+') neu.noNewline = true;
      continue;
    }
    last = c;
  }
  let prefix = 0;
  while (prefix < h.lines.length && h.lines[prefix].charAt(0) === ' ') prefix++;
  const body = h.lines.filter((l) => l.charAt(0) !== '\\');
  let suffix = 0;
  while (suffix < body.length - prefix && body[body.length - 1 - suffix].charAt(0) === ' ') suffix++;
  return { old, neu, prefix, suffix };
}

function splitText(text: string): Side {
  if (text === '') return { lines: [], noNewline: false };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
    return { lines, noNewline: false };
  }
  return { lines, noNewline: true };
}

/** True when pattern[from, to) equals file lines starting at `at`. */
function matchesAt(file: string[], at: number, pattern: string[], from: number, to: number): boolean {
  if (at < 0 || at + (pattern.length - from) > file.length) return false;
  for (let i = from; i < to; i++) if (file[at + i - from] !== pattern[i]) return false;
  return true;
}

interface Found { start: number; dropPre: number; dropSuf: number }

/**
 * Looks for the hunk's old lines (less `fuzz` context lines at each end) in
 * `file` from index `frozen` on, starting at `guess` (0-based index of the
 * hunk's first old line, offsets of earlier hunks included).
 */
function locate(file: string[], frozen: number, old: string[], prefix: number, suffix: number, guess: number, fuzz: number, oldStart: number): Found | null {
  const context = Math.max(prefix, suffix);
  let preFuzz = fuzz + prefix - context;
  let sufFuzz = fuzz + suffix - context;
  const tryAt = (start: number, pre: number, suf: number): Found | null => {
    // `start` is where the hunk's first old line would be; the checked part starts `pre` lines later.
    if (start < frozen || start + old.length > file.length) return null;
    return matchesAt(file, start + pre, old, pre, old.length - suf) ? { start, dropPre: pre, dropSuf: suf } : null;
  };
  if (preFuzz < 0 && oldStart <= 1) {
    // Short leading context at line 1: the hunk is at the start of the file.
    if (sufFuzz < 0 && old.length !== file.length) return null;
    return tryAt(0, 0, Math.max(sufFuzz, 0));
  }
  if (preFuzz < 0) preFuzz = 0;
  if (sufFuzz < 0) {
    // Short trailing context: the hunk ends at the end of the file.
    return tryAt(file.length - old.length, preFuzz, 0);
  }
  const maxAfter = file.length - old.length - guess;
  const maxBefore = guess - frozen;
  for (let d = 0; d <= maxAfter || d <= maxBefore; d++) {
    if (d <= maxAfter) {
      const f = tryAt(guess + d, preFuzz, sufFuzz);
      if (f) return f;
    }
    if (d > 0 && d <= maxBefore) {
      const f = tryAt(guess - d, preFuzz, sufFuzz);
      if (f) return f;
    }
  }
  return null;
}

/**
 * Applies `hunks` (in order) to `text` with at most `maxFuzz` lines of fuzz
 * (GNU patch's default is 2). On failure, names the first hunk that does not
 * apply and, when it would with more fuzz (up to its context), where.
 */
export function applyHunks(text: string, hunks: readonly ApplyHunk[], maxFuzz = 2): ApplyResult {
  const file = splitText(text);
  const out: string[] = [];
  let noNewline = file.noNewline;
  let frozen = 0;
  let offset = 0;
  const placements: HunkPlacement[] = [];
  for (let i = 0; i < hunks.length; i++) {
    const h = hunks[i];
    const { old, neu, prefix, suffix } = sides(h);
    const context = Math.max(prefix, suffix);
    // A hunk without old lines inserts after line oldStart; otherwise oldStart is its first line.
    const expectedIndex = old.lines.length === 0 ? h.oldStart : h.oldStart - 1;
    const guess = Math.max(frozen, Math.min(expectedIndex + offset, file.lines.length));
    let found: Found | null = null;
    let fuzz = 0;
    for (; fuzz <= Math.min(maxFuzz, context); fuzz++) {
      found = locate(file.lines, frozen, old.lines, prefix, suffix, guess, fuzz, h.oldStart);
      if (found) break;
    }
    if (!found) {
      let wouldNeed: HunkPlacement | null = null;
      for (let f = maxFuzz + 1; f <= context; f++) {
        const w = locate(file.lines, frozen, old.lines, prefix, suffix, guess, f, h.oldStart);
        if (w) {
          wouldNeed = { hunk: i + 1, expected: expectedIndex + 1, landed: w.start + 1, offset: w.start - expectedIndex, fuzz: f };
          break;
        }
      }
      return { ok: false, hunk: i + 1, placements, wouldNeed };
    }
    const { start, dropPre, dropSuf } = found;
    for (let k = frozen; k < start + dropPre; k++) out.push(file.lines[k]);
    for (let k = dropPre; k < neu.lines.length - dropSuf; k++) out.push(neu.lines[k]);
    frozen = start + old.lines.length - dropSuf;
    if (start + old.lines.length === file.lines.length && dropSuf === 0) noNewline = neu.noNewline;
    offset = start - expectedIndex;
    placements.push({ hunk: i + 1, expected: expectedIndex + 1, landed: start + 1, offset, fuzz });
  }
  for (let k = frozen; k < file.lines.length; k++) out.push(file.lines[k]);
  if (out.length === 0) return { ok: true, text: '', placements };
  return { ok: true, text: out.join('\n') + (noNewline ? '' : '\n'), placements };
}
