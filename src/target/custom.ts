/**
 * `kelp target add`: a kernel kelp did not fetch (a self-built one, another
 * distribution's) registered under a name, then usable as `--release NAME`
 * for build, check and verify like a fetched Debian kernel. The registration
 * is <cache>/targets/<NAME>/target.json (the same TargetInfo a fetch writes)
 * with the System.map beside it; the trees themselves stay where they are.
 *
 * The compiler rule is the same as for Debian's kernels: the configuration's
 * CONFIG_CC_VERSION_TEXT decides, and a gcc of a Debian release kelp knows
 * (gcc-12 bookworm, gcc-14 trixie) builds in that release's root when the
 * host's differs.
 */
import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { KelpError } from '../errors.js';
import { debianReleaseOfCompiler } from '../kernel/toolchain.js';
import { exists, removeTree, writeFileAtomic } from './atomic.js';
import { cacheRoot } from './cache.js';
import type { TargetInfo } from './fetch.js';
import { checkKernelImage } from './run.js';
import { compilerTextOf } from './source.js';
import { requireTools } from './tools.js';

export interface AddOptions {
  name: string;
  /** The kernel's source tree. */
  source: string;
  /** Where it was built (make O=...); default: the source tree. */
  build?: string;
  /** The bzImage it boots. */
  image: string;
  vmlinux?: string;
  systemMap?: string;
  cache?: string;
}

/** The suite a registered kernel reports. */
export const CUSTOM_SUITE = 'custom';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;

function registrationDir(cache: string, name: string): string {
  return join(cache, 'targets', name);
}

/** The kernel registered as `name`, if any. */
export function registeredTarget(name: string, cache?: string): TargetInfo | undefined {
  if (!NAME.test(name)) return undefined;
  const file = join(registrationDir(cacheRoot(cache), name), 'target.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TargetInfo;
  } catch {
    throw new KelpError('unreadable target registration (run kelp target add again)', file);
  }
}

/** Every registered kernel, by name (sorted), for `kelp target list`. */
export async function registeredTargets(cache?: string): Promise<{ name: string; info: TargetInfo }[]> {
  let names: string[];
  try {
    names = await fs.readdir(join(cacheRoot(cache), 'targets'));
  } catch {
    return [];
  }
  const out: { name: string; info: TargetInfo }[] = [];
  for (const name of names.sort()) {
    if (!NAME.test(name)) continue; // a staging directory of an add in progress
    const info = registeredTarget(name, cache);
    if (info !== undefined) out.push({ name, info });
  }
  return out;
}

function requireDir(path: string, what: string): string {
  const p = resolve(path);
  let st;
  try {
    st = statSync(p);
  } catch {
    throw new KelpError(`no such directory (${what})`, p);
  }
  if (!st.isDirectory()) throw new KelpError(`not a directory (${what})`, p);
  return p;
}

function requireFile(path: string, what: string): string {
  if (!existsSync(path)) throw new KelpError(`missing: ${what}`, path);
  return path;
}

/**
 * The version string a bzImage carries in its setup header (kernel_version,
 * at 0x20e: an offset from 0x200), e.g. "6.12.118 (user@host) #1 SMP ...".
 */
export async function imageVersion(image: string): Promise<string | undefined> {
  const buf = await fs.readFile(image);
  if (buf.length < 0x210) return undefined;
  const off = buf.readUInt16LE(0x20e);
  if (off === 0) return undefined;
  const at = off + 0x200;
  const end = buf.indexOf(0, at);
  if (at >= buf.length || end < 0) return undefined;
  return buf.toString('latin1', at, Math.min(end, at + 256));
}

/** System.map lines from `nm -n vmlinux`, without the kinds scripts/mksysmap leaves out. */
export function systemMapFromNm(nm: string): string {
  const out: string[] = [];
  for (const line of nm.split('\n')) {
    const m = /^([0-9a-f]{16}) ([A-Za-z]) (\S+)$/.exec(line);
    if (m === null) continue;
    const [, , type, name] = m;
    if ('aNUw'.includes(type!) || name!.startsWith('__crc_') || name!.startsWith('.L') || name!.startsWith('__kstrtab_') || name!.startsWith('__kstrtabns_')) continue;
    out.push(line);
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

function checkSystemMap(text: string, file: string): void {
  const first = text.split('\n', 1)[0] ?? '';
  if (!/^[0-9a-f]{8,16} [A-Za-z] \S+$/.test(first)) throw new KelpError('not a System.map (lines of "address type name")', file);
  if (!/ [Tt] _text$/m.test(text) && !/ [Tt] startup_64$/m.test(text)) throw new KelpError('no _text symbol: not the System.map of an x86-64 kernel', file);
}

/** Registers a kernel; returns what `kelp target fetch --json` would print for it. */
export async function addTarget(o: AddOptions): Promise<TargetInfo> {
  if (!NAME.test(o.name)) throw new KelpError('not a target name (letters, digits and . _ + ~ -, up to 128, not starting with a punctuation mark)', o.name);
  if ((o.vmlinux === undefined) === (o.systemMap === undefined)) throw new KelpError('give the kernel\'s symbols with exactly one of --vmlinux and --system-map', o.name);
  const source = requireDir(o.source, '--source');
  for (const f of ['Makefile', 'Kconfig']) requireFile(join(source, f), `the source tree's ${f}`);
  const build = o.build === undefined ? source : requireDir(o.build, '--build');
  const config = requireFile(join(build, '.config'), 'the kernel configuration (.config) of the build directory');
  const configText = await fs.readFile(config, 'utf8');
  if (!/^CONFIG_LIVEPATCH=y$/m.test(configText)) throw new KelpError('CONFIG_LIVEPATCH is not set: this kernel cannot load livepatch modules', config);
  if (!/^CONFIG_X86_64=y$/m.test(configText)) throw new KelpError('not an x86-64 kernel configuration (CONFIG_X86_64 is not set)', config);
  const symvers = requireFile(join(build, 'Module.symvers'), 'Module.symvers (build the kernel and its modules first)');
  const releaseFile = requireFile(join(build, 'include', 'config', 'kernel.release'), 'include/config/kernel.release (build the kernel first)');
  requireFile(join(build, 'scripts', 'mod', 'modpost'), 'scripts/mod/modpost (build the kernel first)');
  const release = (await fs.readFile(releaseFile, 'utf8')).trim();
  const image = resolve(o.image);
  await checkKernelImage(image);
  const version = await imageVersion(image);
  if (version !== undefined && version.split(' ')[0] !== release) {
    throw new KelpError(`the image is kernel ${version.split(' ')[0]}, the build directory's is ${release}`, image);
  }

  let mapText: string;
  let mapFrom: string;
  if (o.systemMap !== undefined) {
    mapFrom = resolve(o.systemMap);
    mapText = await fs.readFile(requireFile(mapFrom, '--system-map'), 'latin1');
  } else {
    mapFrom = resolve(o.vmlinux!);
    requireFile(mapFrom, '--vmlinux');
    requireTools(['nm']);
    const r = await execa('nm', ['-n', mapFrom], { reject: false, maxBuffer: 1 << 30, env: { LC_ALL: 'C' } });
    if (r.exitCode !== 0) throw new KelpError(`nm cannot read it: ${r.stderr.trim().split('\n').pop() ?? ''}`, mapFrom);
    mapText = systemMapFromNm(r.stdout);
  }
  checkSystemMap(mapText, mapFrom);
  const banner = /^([0-9a-f]+) [DdRr] linux_banner$/m.test(mapText);
  if (!banner) throw new KelpError('no linux_banner symbol: not a whole kernel\'s symbol table', mapFrom);

  const compiler = compilerTextOf(configText) ?? null;
  const cache = cacheRoot(o.cache);
  const dir = registrationDir(cache, o.name);
  const info: TargetInfo = {
    kernel: image,
    systemMap: join(dir, `System.map-${release}`),
    config,
    kdir: build,
    symvers,
    modules: build,
    source,
    release,
    version: release,
    suite: CUSTOM_SUITE,
    codename: compiler === null ? '' : debianReleaseOfCompiler(compiler) ?? '',
    flavour: '',
    compiler,
  };
  // A new registration replaces an old one whole: written beside it, then renamed over it.
  const staging = `${dir}.new-${process.pid}`;
  await removeTree(staging);
  await fs.mkdir(staging, { recursive: true });
  await writeFileAtomic(join(staging, `System.map-${release}`), mapText);
  await writeFileAtomic(join(staging, 'target.json'), `${JSON.stringify(info, null, 2)}\n`);
  if (await exists(dir)) await removeTree(dir);
  await fs.rename(staging, dir);
  return info;
}
