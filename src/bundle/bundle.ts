/**
 * `kelp bundle`: the modules of a fleet build (OUTDIR/<release>/NAME.ko with
 * NAME.json beside each) or of a single build (OUTDIR/NAME.ko), packed into
 * one deterministic tar with a manifest saying, per module, the kernel
 * release it is for, its vermagic, sha256 and what it patches. kelpctl on a
 * host picks the module for `uname -r` from it and checks the sum.
 *
 * Layout of the archive (in this order):
 *   manifest.json            the whole manifest (BundleManifest)
 *   manifest.tsv             one line a module for kelpctl: RELEASE TAB SHA256 TAB PATH TAB NAME
 *   <release>/               one directory a release, sorted by release
 *   <release>/<NAME>.ko
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KelpError } from '../errors.js';
import { modinfoOfImage } from '../target/modinfo.js';
import { writeTar, type TarEntry } from './tar.js';

export const BUNDLE_FORMAT = 'kelp-bundle/1';

/** What one module patches: per patched object (vmlinux or a module), the functions it replaces. */
export interface BundlePatch {
  object: string;
  functions: string[];
}

export interface BundleModule {
  release: string;
  /** The module's name as the kernel knows it (modinfo name, '-' → '_'). */
  name: string;
  /** Path inside the archive. */
  path: string;
  vermagic: string;
  sha256: string;
  size: number;
  patches: BundlePatch[];
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  modules: BundleModule[];
}

/** Releases as `uname -r` prints them; nothing a path or kelpctl's sh would misread. */
const RELEASE_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const FILE_RE = /^[A-Za-z0-9_-]{1,55}\.ko$/;

interface Found { ko: string; dirRelease: string | null }

/** The .ko files of OUTDIR and of its release subdirectories. */
function findModules(outdir: string): Found[] {
  if (!existsSync(outdir) || !statSync(outdir).isDirectory()) throw new KelpError('no such directory', outdir);
  const found: Found[] = [];
  const entries = readdirSync(outdir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(outdir, e.name);
    if (e.isFile() && e.name.endsWith('.ko')) found.push({ ko: p, dirRelease: null });
    if (!e.isDirectory()) continue;
    for (const f of readdirSync(p).sort()) {
      if (f.endsWith('.ko') && statSync(join(p, f)).isFile()) found.push({ ko: join(p, f), dirRelease: e.name });
    }
  }
  if (found.length === 0) throw new KelpError('no livepatch modules (NAME.ko, or RELEASE/NAME.ko of a fleet build) in it', outdir);
  return found;
}

interface ReportLike { objects?: Array<{ target?: string; result?: string; changedFunctions?: Array<{ oldName?: string }> }> }

/** What the build report says the module patches. */
function patchesOf(json: string): BundlePatch[] {
  let report: ReportLike;
  try {
    report = JSON.parse(readFileSync(json, 'utf8')) as ReportLike;
  } catch (e) {
    throw new KelpError(existsSync(json) ? `not a kelp build report (${(e as Error).message})` : 'missing: the build report beside the module says what it patches', json);
  }
  if (!Array.isArray(report.objects)) throw new KelpError('not a kelp build report (no "objects")', json);
  const byObject = new Map<string, Set<string>>();
  for (const o of report.objects) {
    if (o.result !== 'changed' || typeof o.target !== 'string') continue;
    const set = byObject.get(o.target) ?? new Set<string>();
    for (const f of o.changedFunctions ?? []) if (typeof f.oldName === 'string') set.add(f.oldName);
    byObject.set(o.target, set);
  }
  return [...byObject.keys()].sort().map((object) => ({ object, functions: [...byObject.get(object)!].sort() }));
}

function describe(f: Found): BundleModule & { data: Buffer } {
  const data = readFileSync(f.ko);
  const info = modinfoOfImage(data);
  if (info === undefined) throw new KelpError('not a kernel module (no .modinfo in an ELF64 little-endian file)', f.ko);
  if (info.get('livepatch') !== 'Y') throw new KelpError('not a livepatch module (no livepatch=Y in its modinfo)', f.ko);
  const vermagic = info.get('vermagic');
  if (vermagic === undefined || vermagic === '') throw new KelpError('no vermagic in its modinfo; cannot tell which kernel it is for', f.ko);
  const release = vermagic.split(' ')[0];
  if (!RELEASE_RE.test(release)) throw new KelpError(`vermagic names an unusable release ${JSON.stringify(release)}`, f.ko);
  if (f.dirRelease !== null && f.dirRelease !== release) throw new KelpError(`built for ${release}, but lies in the directory of ${f.dirRelease}`, f.ko);
  const file = basename(f.ko);
  if (!FILE_RE.test(file)) throw new KelpError('a module file name is 1 to 55 letters, digits, \'_\' or \'-\' and .ko', f.ko);
  const name = (info.get('name') ?? file.slice(0, -3)).replace(/-/g, '_');
  return {
    release, name, path: `${release}/${file}`, vermagic,
    sha256: createHash('sha256').update(data).digest('hex'), size: data.length,
    patches: patchesOf(f.ko.replace(/\.ko$/, '.json')), data,
  };
}

/** SOURCE_DATE_EPOCH when set (reproducible-builds.org), else 2000-01-01: every entry's mtime. */
export function bundleMtime(env: NodeJS.ProcessEnv = process.env): number {
  const s = env.SOURCE_DATE_EPOCH;
  if (s !== undefined && s !== '') {
    if (!/^[0-9]{1,11}$/.test(s)) throw new KelpError(`SOURCE_DATE_EPOCH=${s}: not a whole number of seconds`);
    return Number(s);
  }
  return 946684800;
}

/** Reads the build output and returns the archive's bytes and its manifest. */
export function makeBundle(outdir: string, mtime = bundleMtime()): { tar: Buffer; manifest: BundleManifest } {
  const modules = findModules(outdir).map(describe);
  modules.sort((a, b) => (a.release < b.release ? -1 : a.release > b.release ? 1 : 0));
  for (let i = 1; i < modules.length; i++) {
    if (modules[i].release === modules[i - 1].release) {
      throw new KelpError(`two modules for ${modules[i].release}: ${modules[i - 1].path} and ${modules[i].path}; a bundle carries one a release`, outdir);
    }
  }
  const manifest: BundleManifest = { format: BUNDLE_FORMAT, modules: modules.map(({ data: _data, ...m }) => m) };
  const tsv = manifest.modules.map((m) => `${m.release}\t${m.sha256}\t${m.path}\t${m.name}\n`).join('');
  const entries: TarEntry[] = [
    { path: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    { path: 'manifest.tsv', data: Buffer.from(tsv) },
  ];
  for (const m of modules) entries.push({ path: m.release }, { path: m.path, data: m.data });
  return { tar: writeTar(entries, mtime), manifest };
}
