/**
 * Crash-safe file output: write a temporary sibling, then rename it over the
 * target, so nobody ever sees a half-written file and a failed run leaves none.
 */
import { promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

let counter = 0;

/** A unique temporary name next to `path` (same directory, so the rename is atomic). */
export function tempSibling(path: string): string {
  counter += 1;
  return join(dirname(resolve(path)), `.${basename(path)}.tmp-${process.pid}-${counter}`);
}

/** Writes `data` to `path` through a temporary file and a rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await fs.writeFile(tmp, data, mode === undefined ? undefined : { mode });
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** The synchronous form of writeFileAtomic. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode?: number): void {
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
