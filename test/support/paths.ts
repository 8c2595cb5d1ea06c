/** Paths the tests share: the repository root, the peer suite beside it, the built CLI. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot();
/** ../shared beside the repository (CI clones main with shared/ beside it). */
export const SHARED_DIR = resolve(REPO_ROOT, '..', 'shared');
/** The peer's kpatch unit objects. */
export const KPATCH_UNIT_DIR = join(SHARED_DIR, 'kpatch-unit', 'x86_64');
/** The kelp executable (runs the compiled CLI in dist/). */
export const KELP_BIN = join(REPO_ROOT, 'bin', 'kelp');
