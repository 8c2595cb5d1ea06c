/**
 * A cheap fingerprint of a set of tree files (path, size, mtime), so a cached
 * tree fact (configured objects, include index) is rebuilt when a file it was
 * computed from changed. kelp's own builds restore the mtimes of the files
 * they patch (guard.ts), so they leave fingerprints as they were.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export async function treeStamp(tree: string, files: string[]): Promise<string> {
  const h = createHash('sha1');
  for (let i = 0; i < files.length; i += 512) {
    const batch = files.slice(i, i + 512);
    const stats = await Promise.all(batch.map((f) => fs.stat(join(tree, f)).catch(() => null)));
    batch.forEach((f, k) => {
      const st = stats[k];
      h.update(`${f}\0${st === null ? '-' : `${st.size}:${Math.trunc(st.mtimeMs)}`}\n`);
    });
  }
  return h.digest('hex');
}
