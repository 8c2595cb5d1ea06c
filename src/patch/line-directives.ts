/**
 * `#line` directives that keep the numbers of a patched file's unchanged
 * lines. Kernel code passes `__LINE__` to many functions (WARN and BUG
 * tables, might_sleep, ext4's and jbd2's error and journal helpers, ...);
 * a patch that adds or removes lines would otherwise change every such
 * constant below it, and every function holding one would look changed.
 * After each change, before the first following line where a directive is
 * safe, kelp puts `#line <original number>`, so the compiler numbers the
 * rest of the file as before the patch. Only `__LINE__` (and debug line
 * numbers) see the difference; the tokens the compiler reads are the same.
 *
 * A directive is safe at the start of a line that is not inside a block
 * comment, does not continue the previous line (backslash-newline: a macro
 * definition or a spliced string), and is outside every parenthesis (a
 * directive inside the arguments of a function-like macro invocation is
 * undefined behaviour). Where no such line follows a change before the next
 * one, the lines in between keep their shifted numbers.
 */
import { diffLib } from './jsdiff.js';

/** Splits text into lines without their terminators; a final newline makes no empty last line. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * For each line of `lines`, whether a directive may stand right before it
 * (the lexical state at the line's start: outside comments, parentheses and
 * continuations).
 */
export function safeLineStarts(lines: readonly string[]): boolean[] {
  const safe: boolean[] = new Array<boolean>(lines.length);
  let inComment = false;
  let depth = 0;
  let continued = false;
  for (let i = 0; i < lines.length; i++) {
    safe[i] = !inComment && depth === 0 && !continued;
    const l = lines[i];
    continued = l.endsWith('\\');
    let quote: string | null = null;
    for (let k = 0; k < l.length; k++) {
      const c = l[k];
      if (inComment) {
        if (c === '*' && l[k + 1] === '/') {
          inComment = false;
          k++;
        }
      } else if (quote !== null) {
        if (c === '\\') k++;
        else if (c === quote) quote = null;
      } else if (c === '/' && l[k + 1] === '*') {
        inComment = true;
        k++;
      } else if (c === '/' && l[k + 1] === '/') {
        break;
      } else if (c === '"' || c === '\'') {
        quote = c;
      } else if (c === '(') {
        depth++;
      } else if (c === ')') {
        depth--;
      }
    }
    // Strings and character constants end with their line unless it is spliced.
    // An unbalanced parenthesis count (preprocessor branches that each open
    // one) keeps every later line unsafe: no directive rather than a wrong one.
  }
  return safe;
}

export interface Directed {
  /** The patched text with the directives. */
  text: string;
  /** How many `#line` directives were added. */
  directives: number;
}

/** `after` with `#line` directives restoring the numbers `before` gave its unchanged lines. */
export function withLineDirectives(before: string, after: string): Directed {
  if (before === after) return { text: after, directives: 0 };
  const afterLines = splitLines(after);
  // Original number of each line of `after` (0 for an added line).
  const origin = new Array<number>(afterLines.length).fill(0);
  let o = 1;
  let n = 0;
  for (const part of diffLib().diffLines(before, after)) {
    const count = part.count ?? splitLines(part.value).length;
    if (part.added) {
      n += count;
    } else if (part.removed) {
      o += count;
    } else {
      for (let k = 0; k < count; k++) origin[n + k] = o + k;
      n += count;
      o += count;
    }
  }
  const safe = safeLineStarts(afterLines);
  const out: string[] = [];
  let directives = 0;
  let effective = 1; // the number the compiler gives the next line
  for (let i = 0; i < afterLines.length; i++) {
    const want = origin[i];
    if (want !== 0 && want !== effective && safe[i]) {
      out.push(`#line ${want}`);
      directives++;
      effective = want;
    }
    out.push(afterLines[i]);
    effective++;
  }
  const tail = after.endsWith('\n') ? '\n' : '';
  return { text: out.join('\n') + tail, directives };
}
