/** A per-test temporary directory, removed afterwards unless KELP_KEEP_TMP is set. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeTmpDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `kelp-${prefix}-`));
  return {
    dir,
    cleanup: () => {
      if (!process.env.KELP_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
