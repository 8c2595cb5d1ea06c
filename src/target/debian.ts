/**
 * Debian package resolution: which kernel the bookworm package lists currently
 * point at (the linux-image-amd64 metapackage's dependency), the matching
 * headers, kbuild and source packages, and `apt-get download` of them.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { writeFileAtomic } from './atomic.js';
import { KERNEL_METAPACKAGES as META, SUPPORTED_DISTROS } from './distros.js';
import { TargetError } from './errors.js';
import { isRoot, requireTool } from './tools.js';

/** The packages making up one Debian kernel, all at one version. */
export interface KernelPackages {
  /** The kernel release, e.g. 6.1.0-56-amd64 (uname -r of the target). */
  release: string;
  /** The Debian package version, e.g. 6.1.192-2. */
  version: string;
  image: string;
  headers: string;
  headersCommon: string;
  kbuild: string;
  source: string;
}

export { SUPPORTED_DISTROS } from './distros.js';

async function aptCache(args: string[]): Promise<string | undefined> {
  const r = await execa(requireTool('apt-cache'), args, { reject: false, stdin: 'ignore', env: { LC_ALL: 'C' } });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** The named dependencies (first alternative, without version) of one package's candidate. */
export function parseDependsField(field: string): string[] {
  return field
    .split(',')
    .map((alt) => alt.split('|')[0]!.trim().split(/[\s(]/)[0]!)
    .filter((n) => n !== '');
}

/** One field of `apt-cache show --no-all-versions` output (the candidate's stanza). */
export function controlField(stanza: string, name: string): string | undefined {
  const re = new RegExp(`^${name}:[ \\t]*(.*(?:\\n[ \\t].*)*)`, 'm');
  const m = re.exec(stanza);
  return m ? m[1]!.replace(/\n[ \t]+/g, ' ').trim() : undefined;
}

async function showCandidate(pkg: string): Promise<string | undefined> {
  const out = await aptCache(['show', '--no-all-versions', pkg]);
  if (out === undefined || out.trim() === '') return undefined;
  return out.split(/\n\n/)[0];
}

/** The candidate stanzas of several packages, by package name, from one apt-cache call. */
async function showCandidates(pkgs: string[]): Promise<Map<string, string>> {
  const out = await aptCache(['show', '--no-all-versions', ...pkgs]);
  const map = new Map<string, string>();
  for (const stanza of (out ?? '').split(/\n\n+/)) {
    const name = controlField(stanza, 'Package');
    if (name !== undefined && !map.has(name)) map.set(name, stanza);
  }
  return map;
}

async function updateListsIfPossible(): Promise<boolean> {
  if (!isRoot()) return false;
  const r = await execa(requireTool('apt-get'), ['update'], { reject: false, stdin: 'ignore', env: { LC_ALL: 'C' } });
  return r.exitCode === 0;
}

/**
 * Resolves the current kernel of `distro` from the package lists. Runs
 * `apt-get update` first when the lists do not know the metapackage and we are root.
 */
export async function resolveKernelPackages(distro = 'debian'): Promise<KernelPackages> {
  const meta = META[distro];
  if (meta === undefined) {
    throw new TargetError(`unsupported distribution (supported: ${SUPPORTED_DISTROS.join(', ')})`, distro);
  }
  let metaStanza = await showCandidate(meta);
  if (metaStanza === undefined && (await updateListsIfPossible())) metaStanza = await showCandidate(meta);
  if (metaStanza === undefined) {
    throw new TargetError(
      isRoot() ? 'not in the package lists (apt-get update failed or the Debian repository is not configured)'
        : 'not in the package lists; run apt-get update as root',
      meta,
    );
  }
  const image = parseDependsField(controlField(metaStanza, 'Depends') ?? '').find((d) => /^linux-image-\d/.test(d));
  if (image === undefined) throw new TargetError('depends on no linux-image-<release> package', meta);
  const release = image.slice('linux-image-'.length);

  const headers = `linux-headers-${release}`;
  const stanzas = await showCandidates([image, headers]);
  const imageStanza = stanzas.get(image);
  const version = imageStanza && controlField(imageStanza, 'Version');
  if (version === undefined) throw new TargetError('not in the package lists', image);
  const headersStanza = stanzas.get(headers);
  if (headersStanza === undefined) throw new TargetError('not in the package lists', headers);
  const hdeps = parseDependsField(controlField(headersStanza, 'Depends') ?? '');
  const headersCommon = hdeps.find((d) => /^linux-headers-.*-common$/.test(d));
  const kbuild = hdeps.find((d) => /^linux-kbuild-/.test(d));
  if (headersCommon === undefined || kbuild === undefined) {
    throw new TargetError('does not depend on linux-headers-*-common and linux-kbuild-*', headers);
  }
  const source = `linux-source-${kbuild.slice('linux-kbuild-'.length)}`;
  return { release, version, image, headers, headersCommon, kbuild, source };
}

/**
 * Downloads `pkg=version` into `dir` with apt-get download (no root needed) and
 * returns the .deb's path.
 */
export async function downloadPackage(pkg: string, version: string, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const args = ['download', `${pkg}=${version}`];
  // As root apt drops to the _apt user, which cannot write into a private cache dir.
  if (isRoot()) args.unshift('-o', 'APT::Sandbox::User=root');
  const r = await execa(requireTool('apt-get'), args, { cwd: dir, reject: false, stdin: 'ignore', env: { LC_ALL: 'C' }, maxBuffer: 4 << 20 });
  if (r.exitCode !== 0) {
    const why = lastLine(r.stderr) ?? `apt-get download exited with ${r.exitCode}`;
    throw new TargetError(`download failed: ${why}`, `${pkg}=${version}`);
  }
  const prefix = `${pkg}_`;
  const debs = (await fs.readdir(dir)).filter((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  const wanted = debs.find((f) => decodeURIComponent(f).startsWith(`${pkg}_${version}_`)) ?? debs[0];
  if (wanted === undefined) throw new TargetError('apt-get download produced no .deb', `${pkg}=${version}`);
  return `${dir}/${wanted}`;
}

function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('W:'));
  return lines[lines.length - 1];
}

/**
 * A fingerprint of the package lists (names, sizes and times of the files under
 * /var/lib/apt/lists and of the apt configuration): while it is unchanged, so is
 * what resolveKernelPackages returns.
 */
export async function packageListsStamp(): Promise<string | undefined> {
  const parts: string[] = [];
  for (const dir of ['/var/lib/apt/lists', '/etc/apt', '/etc/apt/sources.list.d', '/etc/apt/preferences.d']) {
    let names: string[];
    try {
      names = (await fs.readdir(dir)).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const st = await fs.stat(`${dir}/${n}`);
        if (st.isFile()) parts.push(`${dir}/${n}:${st.size}:${st.mtimeMs}`);
      } catch {
        // vanished while listing
      }
    }
  }
  return parts.some((p) => p.startsWith('/var/lib/apt/lists/')) ? createHash('sha256').update(parts.join('\n')).digest('hex') : undefined;
}

/**
 * resolveKernelPackages, remembered in `memoFile` for as long as the package
 * lists are unchanged (a warm fetch then runs no apt-cache at all).
 */
export async function resolveKernelPackagesCached(distro: string, memoFile: string): Promise<KernelPackages> {
  const stamp = await packageListsStamp();
  if (stamp !== undefined) {
    try {
      const memo = JSON.parse(await fs.readFile(memoFile, 'utf8')) as { stamp: string; packages: KernelPackages };
      if (memo.stamp === stamp && typeof memo.packages?.release === 'string') return memo.packages;
    } catch {
      // no memo yet
    }
  }
  const packages = await resolveKernelPackages(distro);
  const after = await packageListsStamp(); // apt-get update may have run
  if (after !== undefined) {
    await fs.mkdir(dirname(memoFile), { recursive: true });
    await writeFileAtomic(memoFile, `${JSON.stringify({ stamp: after, packages }, null, 2)}\n`);
  }
  return packages;
}
