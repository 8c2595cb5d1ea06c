/**
 * Debian package resolution for one target kernel: the release asked for (or,
 * without one, what bookworm's linux-image-amd64 metapackage points at), its
 * image, headers, headers-common, kbuild and source packages at one version,
 * all from kelp's own package lists (src/kernel/apt.ts).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { AptState } from '../kernel/apt.js';
import { listReleases, sourcePackageOf, type KernelRelease } from '../kernel/releases.js';
import { DEFAULT_CODENAME, suiteByName } from '../kernel/suites.js';
import { compareDebianVersions } from '../kernel/version.js';
import { writeFileAtomic } from './atomic.js';
import { KERNEL_METAPACKAGES as META, SUPPORTED_DISTROS } from './distros.js';
import { TargetError } from './errors.js';

/** The packages making up one Debian kernel, all at one version. */
export interface KernelPackages {
  /** The kernel release, e.g. 6.1.0-56-amd64 (uname -r of the target). */
  release: string;
  /** The Debian package version, e.g. 6.1.192-2. */
  version: string;
  /** The suite the image comes from (bookworm, trixie-security, ...). */
  suite: string;
  /** Its Debian release (bookworm, trixie). */
  codename: string;
  flavour: string;
  image: string;
  headers: string;
  headersCommon: string;
  kbuild: string;
  /**
   * The version of `kbuild` to fetch when it is not `version`: kbuild has no
   * ABI in its name in bookworm (linux-kbuild-6.1), so the archive keeps only
   * its newest builds while older ABIs' images and headers stay; the headers'
   * `Depends: linux-kbuild-6.1 (>= V)` then takes the oldest one still there.
   */
  kbuildVersion?: string;
  /** linux-source-<major.minor>; null when the archive has none at this version. */
  source: string | null;
}

export { SUPPORTED_DISTROS } from './distros.js';

/** The named dependencies (first alternative, without version) of one package's candidate. */
export function parseDependsField(field: string): string[] {
  return field
    .split(',')
    .map((alt) => alt.split('|')[0]!.trim().split(/[\s(]/)[0]!)
    .filter((n) => n !== '');
}

/** One field of a Debian control stanza (continuation lines joined). */
export function controlField(stanza: string, name: string): string | undefined {
  const re = new RegExp(`^${name}:[ \\t]*(.*(?:\\n[ \\t].*)*)`, 'm');
  const m = re.exec(stanza);
  return m ? m[1]!.replace(/\n[ \t]+/g, ' ').trim() : undefined;
}

async function showVersion(apt: AptState, pkg: string, version: string): Promise<string | undefined> {
  const r = await apt.run('apt-cache', ['show', `${pkg}=${version}`]);
  if (r.exitCode !== 0 || r.stdout.trim() === '') return undefined;
  return r.stdout.split(/\n\n/)[0];
}

/** The `(op V)` constraint a Depends field puts on `pkg` (first alternative naming it), if any. */
export function dependsConstraint(field: string, pkg: string): { op: string; version: string } | undefined {
  for (const alt of field.split(/[,|]/)) {
    const m = /^\s*([^\s(]+)\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^\s)]+)\s*\))?/.exec(alt);
    if (m && m[1] === pkg) return m[2] === undefined ? undefined : { op: m[2], version: m[3]! };
  }
  return undefined;
}

/**
 * The version of dependency `pkg` to fetch beside a kernel at `version`: that
 * same version when the archive has it, else the oldest one the Depends
 * constraint accepts (apt's own choice would be the newest; the oldest is the
 * nearest to the kernel).
 */
async function dependencyVersion(apt: AptState, depends: string, pkg: string, version: string): Promise<string> {
  const r = await apt.run('apt-cache', ['madison', pkg]);
  const versions = [...new Set(r.stdout.split('\n').map((l) => l.split('|')[1]?.trim()).filter((v): v is string => v !== undefined && v !== ''))];
  if (versions.length === 0 || versions.includes(version)) return version;
  const c = dependsConstraint(depends, pkg);
  if (c === undefined) return version;
  const ok = versions.filter((v) => debVersionSatisfies(v, c.op, c.version)).sort(compareDebianVersions);
  return ok[0] ?? version;
}


function debVersionSatisfies(v: string, op: string, ref: string): boolean {
  const c = compareDebianVersions(v, ref);
  switch (op) {
    case '>=': return c >= 0;
    case '>>': return c > 0;
    case '<=': return c <= 0;
    case '<<': return c < 0;
    default: return c === 0;
  }
}

/** The release bookworm's linux-image-amd64 points at (its newest version in bookworm or bookworm-security). */
async function defaultRelease(apt: AptState, meta: string): Promise<string> {
  const r = await apt.run('apt-cache', ['madison', meta]);
  const rows = r.stdout.split('\n').map((l) => l.split('|').map((p) => p.trim())).filter((p) => p.length >= 3);
  const ours = rows.filter((p) => {
    const suite = (p[2]!.split(/\s+/)[1] ?? '').split('/')[0]!;
    return suiteByName(suite)?.codename === DEFAULT_CODENAME && !suite.endsWith('-backports');
  }).map((p) => p[1]!).sort((a, b) => compareDebianVersions(b, a));
  if (ours.length === 0) throw new TargetError(`not in kelp's package lists for ${DEFAULT_CODENAME}`, meta);
  const stanza = await showVersion(apt, meta, ours[0]!);
  const image = parseDependsField(controlField(stanza ?? '', 'Depends') ?? '').find((d) => /^linux-image-\d/.test(d));
  if (image === undefined) throw new TargetError('depends on no linux-image-<release> package', `${meta}=${ours[0]}`);
  return image.slice('linux-image-'.length);
}

/** The row of `release` (its newest version), or a one-line error naming what exists. */
export function pickRelease(all: KernelRelease[], release: string): KernelRelease {
  const rows = all.filter((r) => r.release === release);
  if (rows.length === 0) {
    const near = all.filter((r) => r.flavour === (/-((?:cloud-|rt-)?amd64)$/.exec(release)?.[1] ?? 'amd64')).slice(0, 3).map((r) => r.release);
    throw new TargetError(`no such Debian kernel release in bookworm, bookworm-security, bookworm-backports, trixie or trixie-security (newest: ${near.join(', ') || 'none'}; see kelp target list)`, release);
  }
  return rows[0]!;
}

/** Resolves `release` (default: bookworm's current kernel) to its packages. */
export interface ResolveOptions { distro?: string; release?: string; source?: boolean; say?: (l: string) => void }

export async function resolveKernelPackages(apt: AptState, opts: ResolveOptions = {}): Promise<KernelPackages> {
  const distro = opts.distro ?? 'debian';
  const meta = META[distro];
  if (meta === undefined) throw new TargetError(`unsupported distribution (supported: ${SUPPORTED_DISTROS.join(', ')})`, distro);
  const all = await listReleases(apt, opts.say);
  const release = opts.release ?? await defaultRelease(apt, meta);
  const row = pickRelease(all, release);
  if (opts.source === true && !row.source) {
    throw new TargetError(`the archive has no ${sourcePackageOf(release)} at ${row.version}: no source for this release (kelp target list shows which releases have source)`, release);
  }
  if (!row.headers) throw new TargetError(`the archive has no linux-headers-${release} at ${row.version}: kelp cannot build modules for it`, release);
  const headers = `linux-headers-${release}`;
  const stanza = await showVersion(apt, headers, row.version);
  if (stanza === undefined) throw new TargetError('not in the package lists', `${headers}=${row.version}`);
  const hdeps = parseDependsField(controlField(stanza, 'Depends') ?? '');
  const headersCommon = hdeps.find((d) => /^linux-headers-.*-common(-rt)?$/.test(d));
  const kbuild = hdeps.find((d) => /^linux-kbuild-/.test(d));
  if (headersCommon === undefined || kbuild === undefined) {
    throw new TargetError('does not depend on linux-headers-*-common and linux-kbuild-*', headers);
  }
  const kbuildVersion = await dependencyVersion(apt, controlField(stanza, 'Depends') ?? '', kbuild, row.version);
  return {
    release, version: row.version, suite: row.suite, codename: row.codename, flavour: row.flavour,
    image: `linux-image-${release}`, headers, headersCommon, kbuild,
    ...(kbuildVersion === row.version ? {} : { kbuildVersion }),
    source: row.source ? sourcePackageOf(release) : null,
  };
}

/** The memo's format: 2 records kbuildVersion (memos of format 1 never looked for it). */
const MEMO_FORMAT = 2;

/**
 * resolveKernelPackages, remembered in `memoFile` for as long as kelp's package
 * lists are unchanged (a warm fetch then runs no apt-cache at all).
 */
export async function resolveKernelPackagesCached(apt: AptState, memoFile: string, opts: ResolveOptions = {}): Promise<KernelPackages> {
  await apt.ensureLists(opts.say);
  const stamp = await apt.stamp();
  if (stamp !== undefined) {
    try {
      const memo = JSON.parse(await fs.readFile(memoFile, 'utf8')) as { stamp: string; format?: number; packages: KernelPackages };
      if (memo.stamp === stamp && memo.format === MEMO_FORMAT && typeof memo.packages?.release === 'string' && typeof memo.packages.suite === 'string') return memo.packages;
    } catch {
      // no memo yet
    }
  }
  const packages = await resolveKernelPackages(apt, opts);
  const after = await apt.stamp();
  if (after !== undefined) {
    await fs.mkdir(join(memoFile, '..'), { recursive: true });
    await writeFileAtomic(memoFile, `${JSON.stringify({ stamp: after, format: MEMO_FORMAT, packages }, null, 2)}\n`);
  }
  return packages;
}
