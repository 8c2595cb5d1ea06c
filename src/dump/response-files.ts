/**
 * `@file` arguments, as every binutils program reads them (libiberty's
 * expandargv) before it parses its options: an argument `@name` naming a
 * readable file is replaced by the words in that file (split at blanks, with
 * single and double quotes and backslash escapes; a file of blanks gives
 * none), and words that are `@file`s in turn are expanded in place. An
 * `@name` that cannot be opened stays as it is. A directory, or more than
 * 2000 expansions (a file that names itself), ends the run.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';

export type Expanded = { kind: 'args'; args: string[] } | { kind: 'exit'; stderr: string; status: number };

/** libiberty's limit on @file expansions in one command line. */
const ITERATION_LIMIT = 2000;

export function expandResponseFiles(args: readonly string[], prog = 'kelp'): Expanded {
  const out = [...args];
  let budget = ITERATION_LIMIT;
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (!a.startsWith('@')) continue;
    if (--budget === 0) return { kind: 'exit', stderr: `${prog}: error: too many @-files encountered\n`, status: 1 };
    const text = readResponseFile(a.slice(1));
    if (text === undefined) continue;
    if (text === 'directory') return { kind: 'exit', stderr: `${prog}: error: @-file refers to a directory\n`, status: 1 };
    // The words take the argument's place and are looked at again (an @file may name others).
    out.splice(i, 1, ...splitWords(text.contents));
    i--;
  }
  return { kind: 'args', args: out };
}

function readResponseFile(name: string): { contents: string } | 'directory' | undefined {
  let fd: number;
  try {
    fd = openSync(name, 'r');
  } catch {
    return undefined;
  }
  try {
    if (fstatSync(fd).isDirectory()) return 'directory';
    return { contents: readFileSync(fd).toString('utf8') };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

const isSpace = (c: string): boolean => c === ' ' || (c >= '\t' && c <= '\r');

/** libiberty's buildargv: words split at blanks; quotes group, a backslash takes the next character as it is. */
export function splitWords(text: string): string[] {
  if ([...text].every(isSpace)) return [];
  const words: string[] = [];
  let i = 0;
  const skipBlanks = (): void => {
    while (i < text.length && isSpace(text[i])) i++;
  };
  do {
    skipBlanks();
    let word = '';
    let squote = false;
    let dquote = false;
    let escaped = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (isSpace(c) && !squote && !dquote && !escaped) break;
      if (escaped) {
        escaped = false;
        word += c;
      } else if (c === '\\') escaped = true;
      else if (squote) {
        if (c === "'") squote = false;
        else word += c;
      } else if (dquote) {
        if (c === '"') dquote = false;
        else word += c;
      } else if (c === "'") squote = true;
      else if (c === '"') dquote = true;
      else word += c;
    }
    words.push(word);
    skipBlanks();
  } while (i < text.length);
  return words;
}
