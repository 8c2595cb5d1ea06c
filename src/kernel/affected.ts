/**
 * The objects of a configured kernel tree a patch affects: the patched .c
 * files that the configuration builds (the others named with the CONFIG option
 * that would build them), and every configured object that includes a
 * patched header — found from the tree's Makefiles and include graph, not
 * from what happens to have been built before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configuredObjects, type ConfiguredTree } from './configured.js';
import { whyNotConfigured } from './config-reason.js';
import { includeIndex, objectsIncludingHeaders } from './includes.js';

export interface Affected {
  /** Objects to rebuild (tree-relative .o paths), sorted. */
  objects: string[];
  /** Patched .c files the configuration does not build, with the reason. */
  notConfigured: Array<{ file: string; option: string | null; message: string }>;
  /** Header → how many configured objects include it. */
  includers: Record<string, number>;
  /** What the user should know about the search (objects from generated sources, includes through unknown macros). */
  notes: string[];
  /** Timings (ms): the Makefile evaluation, the include index (0 when cached). */
  ms: { objects: number; includes: number };
  includesCached: boolean;
  conf: ConfiguredTree;
}

/**
 * `patchedC` and `headers` are tree-relative paths of the patch's changed .c
 * and .h files; `cacheDir` holds the per-tree listing and index (null: none).
 */
export async function affectedObjects(tree: string, patchedC: string[], headers: string[], cacheDir: string | null): Promise<Affected> {
  let t = Date.now();
  const conf = await configuredObjects(tree, cacheDir);
  const objectsMs = Date.now() - t;
  const config = readFileSync(join(tree, '.config'), 'latin1');
  const list = new Set<string>();
  const notConfigured: Affected['notConfigured'] = [];
  // A .c file that is no object of its own may be #included by one (lib/ code pulled into another file): searched like a header.
  const included: string[] = [];
  for (const c of patchedC) {
    const obj = c.replace(/\.c$/, '.o');
    if (conf.objects.has(obj)) list.add(obj);
    else included.push(c);
  }
  const includers: Record<string, number> = {};
  const notes: string[] = [];
  let includesMs = 0;
  let includesCached = true;
  const searched = [...headers, ...included];
  if (searched.length > 0) {
    t = Date.now();
    const { index, cached } = await includeIndex(tree, conf, cacheDir);
    includesMs = cached ? 0 : Date.now() - t;
    includesCached = cached;
    for (const h of searched) {
      const r = objectsIncludingHeaders(index, [h]);
      includers[h] = r.objects.length;
      for (const o of r.objects) list.add(o);
      if (r.generated.length > 0) notes.push(`${h}: ${r.generated.length} object(s) made from generated sources beside its includers are rebuilt too (${r.generated.slice(0, 3).join(', ')}${r.generated.length > 3 ? ', ...' : ''})`);
      if (r.objects.length === 0 && included.includes(h)) notConfigured.push({ file: h, ...whyNotConfigured(tree, conf, config, h) });
    }
    for (const [f, macros] of Object.entries(index.unresolved)) notes.push(`${f}: #include ${macros.join(', ')} names no file kelp could find (not followed)`);
  }
  return { objects: [...list].sort(), notConfigured, includers, notes, ms: { objects: objectsMs, includes: includesMs }, includesCached, conf };
}
