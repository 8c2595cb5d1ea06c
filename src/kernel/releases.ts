/**
 * Every x86-64 Debian kernel release in kelp's package lists (apt.ts), by
 * `uname -r`: the image packages linux-image-<release> of each suite, whether
 * the matching headers (linux-headers-<release>) and source
 * (linux-source-<major.minor>) are there at the same package version, and the
 * packages one release's fetch downloads.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../target/atomic.js';
import { TargetError } from '../target/errors.js';
import type { AptState } from './apt.js';
import { SUITES, suiteByName } from './suites.js';
import { compareDebianVersions } from './version.js';

/** One kernel the archive offers: one row of `kelp target list`. */
export interface KernelRelease {
  /** What `uname -r` prints on a host running it, e.g. 6.12.117+deb13-cloud-amd64. */
  release: string;
  /** amd64, cloud-amd64 or rt-amd64. */
  flavour: string;
  /** The package version, e.g. 6.12.117-1. */
  version: string;
  /** The first suite (in suites.ts order) that has it. */
  suite: string;
  /** Every suite that has it at this version. */
  suites: string[];
  /** The Debian release of the suite (bookworm, trixie): its compiler built the kernel. */
  codename: string;
  /** linux-headers-<release> is there at this version. */
  headers: boolean;
  /** linux-source-<major.minor> is there at this version. */
  source: boolean;
}

const IMAGE_RE = /^linux-image-(\d+\.\d+[^\s]*?)-((?:cloud-|rt-)?amd64)$/;
const FLAVOURS = ['amd64', 'cloud-amd64', 'rt-amd64'];

/** The release of an image package name, and its flavour (undefined for metapackages, -dbg, -unsigned). */
export function parseImagePackage(pkg: string): { release: string; flavour: string } | undefined {
  const m = IMAGE_RE.exec(pkg);
  if (m === null) return undefined;
  // linux-image-6.12-amd64 is the series metapackage, not a kernel.
  if (/^\d+\.\d+$/.test(m[1]!)) return undefined;
  return { release: `${m[1]}-${m[2]}`, flavour: m[2]! };
}

/** linux-source-<major.minor>, the source package of every ABI of a kernel series. */
export function sourcePackageOf(release: string): string {
  const m = /^(\d+\.\d+)/.exec(release);
  return `linux-source-${m ? m[1] : release}`;
}

/** `apt-cache madison` rows: package, version, suite. */
export function parseMadison(text: string): Array<{ pkg: string; version: string; suite: string }> {
  const rows: Array<{ pkg: string; version: string; suite: string }> = [];
  for (const line of text.split('\n')) {
    const parts = line.split('|').map((p) => p.trim());
    if (parts.length < 3) continue;
    const where = parts[2]!.split(/\s+/);
    const suite = (where[1] ?? '').split('/')[0]!;
    if (!/ Packages$/.test(parts[2]!) || suite === '') continue;
    rows.push({ pkg: parts[0]!, version: parts[1]!, suite });
  }
  return rows;
}

function suiteRank(suite: string): number {
  const i = SUITES.findIndex((s) => s.name === suite);
  return i < 0 ? SUITES.length : i;
}

/** Newest first: by package version, then flavour (amd64, cloud-amd64, rt-amd64). */
export function compareReleases(a: KernelRelease, b: KernelRelease): number {
  return compareDebianVersions(b.version, a.version)
    || FLAVOURS.indexOf(a.flavour) - FLAVOURS.indexOf(b.flavour)
    || a.release.localeCompare(b.release);
}

/** Builds the rows from the image, headers and source packages' madison rows. */
export function releasesFromMadison(rows: Array<{ pkg: string; version: string; suite: string }>): KernelRelease[] {
  const have = new Set(rows.map((r) => `${r.pkg}=${r.version}`));
  const byKey = new Map<string, KernelRelease>();
  for (const r of rows) {
    const img = parseImagePackage(r.pkg);
    if (img === undefined || suiteByName(r.suite) === undefined) continue;
    const key = `${img.release}=${r.version}`;
    let rel = byKey.get(key);
    if (rel === undefined) {
      rel = {
        release: img.release, flavour: img.flavour, version: r.version, suite: r.suite, suites: [], codename: '',
        headers: have.has(`linux-headers-${img.release}=${r.version}`),
        source: have.has(`${sourcePackageOf(img.release)}=${r.version}`),
      };
      byKey.set(key, rel);
    }
    if (!rel.suites.includes(r.suite)) rel.suites.push(r.suite);
  }
  for (const rel of byKey.values()) {
    rel.suites.sort((a, b) => suiteRank(a) - suiteRank(b));
    rel.suite = rel.suites[0]!;
    rel.codename = suiteByName(rel.suite)!.codename;
  }
  return [...byKey.values()].sort(compareReleases);
}

/** Every kernel release in the lists, newest first (remembered per lists update). */
export async function listReleases(apt: AptState, say?: (l: string) => void): Promise<KernelRelease[]> {
  await apt.ensureLists(say);
  const memo = join(apt.dir, 'releases.json');
  const stamp = await apt.stamp();
  try {
    const m = JSON.parse(await fs.readFile(memo, 'utf8')) as { stamp: string; releases: KernelRelease[] };
    if (stamp !== undefined && m.stamp === stamp && Array.isArray(m.releases)) return m.releases;
  } catch {
    // not remembered yet
  }
  const names = await apt.run('apt-cache', ['pkgnames', 'linux-image-']);
  if (names.exitCode !== 0) throw new TargetError(`apt-cache pkgnames failed: ${names.stderr.trim()}`, apt.configFile);
  const images = names.stdout.split('\n').filter((n) => parseImagePackage(n.trim()) !== undefined).map((n) => n.trim());
  const releases = images.map((n) => parseImagePackage(n)!.release);
  const asked = [...new Set([...images, ...releases.map((r) => `linux-headers-${r}`), ...releases.map(sourcePackageOf)])];
  const out = asked.length === 0 ? { exitCode: 0, stdout: '', stderr: '' } : await apt.run('apt-cache', ['madison', ...asked]);
  if (out.exitCode !== 0) throw new TargetError(`apt-cache madison failed: ${out.stderr.trim()}`, apt.configFile);
  const list = releasesFromMadison(parseMadison(out.stdout));
  if (stamp !== undefined) await writeFileAtomic(memo, `${JSON.stringify({ stamp, releases: list })}\n`);
  return list;
}
