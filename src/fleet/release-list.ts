/**
 * The release list of a fleet build: `--releases FILE` (one release a line,
 * the way `uname -r` prints it; blank lines and # comments ignored) merged
 * with the `--release` flags, duplicates dropped, first mention first.
 */
import { readFileSync } from 'node:fs';
import { KelpError } from '../errors.js';

/** What a kernel release may look like (uname -r): no spaces, no path separators. */
const RELEASE_RE = /^[0-9][A-Za-z0-9._+~-]*$/;

/** Checks one release name; `where` names its place (file:line or the flag). */
export function checkRelease(release: string, where: string): string {
  if (!RELEASE_RE.test(release)) throw new KelpError(`${JSON.stringify(release)}: not a kernel release (as uname -r prints it, e.g. 6.1.0-57-amd64)`, where);
  return release;
}

/** The releases of a list file's text, in order, without duplicates. */
export function parseReleaseList(text: string, file: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    out.push(checkRelease(line, `${file}:${i + 1}`));
  });
  if (out.length === 0) throw new KelpError('names no release (one a line, as uname -r prints it)', file);
  return dedupe(out);
}

/** Reads a `--releases` file. */
export function readReleaseList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KelpError(code === 'ENOENT' ? 'no such file' : `cannot read: ${code ?? (e as Error).message}`, file);
  }
  return parseReleaseList(text, file);
}

/** The list without repeats, first mention first. */
export function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

/** `--patch-for R=FILE` values: release → its own patch. */
export function parsePatchFor(values: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new KelpError(`--patch-for ${v}: expected RELEASE=FILE`);
    const release = checkRelease(v.slice(0, eq), '--patch-for');
    if (out.has(release)) throw new KelpError(`--patch-for ${release}: given twice`);
    out.set(release, v.slice(eq + 1));
  }
  return out;
}
