/**
 * Which releases a fleet build covers: the --release flags, a --releases
 * file, or --all (every release `kelp target list` shows, narrowed by
 * --suite and --flavour).
 */
import { KelpError } from '../errors.js';
import type { KernelRelease } from '../kernel/releases.js';
import { checkRelease, dedupe, readReleaseList } from './release-list.js';

export interface SelectOptions {
  release: string[];
  releases?: string;
  all?: boolean;
  suite?: string;
  flavour?: string;
}

/** True when these options ask for a fleet build (more than one release, a list, or --all). */
export function isFleet(o: SelectOptions): boolean {
  return o.release.length > 1 || o.releases !== undefined || o.all === true;
}

/** The --all releases among `list`: those with source, of the suite and flavour asked for. */
export function filterAll(list: readonly KernelRelease[], suite?: string, flavour?: string): string[] {
  return list.filter((r) => r.source && (suite === undefined || r.suites.includes(suite) || r.codename === suite)
    && (flavour === undefined || r.flavour === flavour)).map((r) => r.release);
}

/** The releases to build, in order. */
export async function selectReleases(o: SelectOptions, say: (l: string) => void): Promise<string[]> {
  if ((o.suite !== undefined || o.flavour !== undefined) && !o.all) throw new KelpError('--suite and --flavour choose among --all; add --all');
  const out = o.release.map((r) => checkRelease(r, '--release'));
  if (o.releases !== undefined) out.push(...readReleaseList(o.releases));
  if (o.all) {
    const { AptState } = await import('../kernel/apt.js');
    const { listReleases } = await import('../kernel/releases.js');
    const { cacheRoot } = await import('../target/cache.js');
    const picked = filterAll(await listReleases(new AptState(cacheRoot(undefined)), say), o.suite, o.flavour);
    if (picked.length === 0) throw new KelpError(`--all: no release with source${o.suite ? ` in ${o.suite}` : ''}${o.flavour ? ` of flavour ${o.flavour}` : ''} (see kelp target list)`);
    out.push(...picked);
  }
  return dedupe(out);
}
