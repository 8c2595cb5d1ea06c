/**
 * The objects of a configured kernel tree a patch affects: the patched .c
 * files that the configuration builds (the others named with the CONFIG option
 * that would build them), and every configured object that includes a
 * patched header — found from the tree's Makefiles and include graph, not
 * from what happens to have been built before.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
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
  /** Patched headers on whose includers' paths a computed #include could not be resolved. */
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
      if (r.objects.length === 0 && included.includes(h)) notConfigured.push({ file: h, ...whyNotConfigured(tree, conf, config, h) });
    }
    const unresolved = Object.entries(index.unresolved);
    if (unresolved.length > 0) {
      // Headers included through a macro kelp could not follow: their includers are searched as if they included every patched header.
      const viaMacro = objectsIncludingHeaders(index, unresolved.map(([f]) => f));
      const extra = viaMacro.objects.filter((o) => !list.has(o));
      if (extra.length > 0 && headers.some((h) => unresolved.some(([f]) => posix.dirname(f) === posix.dirname(h)))) {
        for (const o of extra) list.add(o);
        notes.push(`${extra.length} object(s) that include a header through a macro (${unresolved.map(([f, m]) => `${f}: ${m.join(', ')}`).slice(0, 3).join('; ')}) are rebuilt too`);
      }
    }
  }
  return { objects: [...list].sort(), notConfigured, includers, notes, ms: { objects: objectsMs, includes: includesMs }, includesCached, conf };
}
