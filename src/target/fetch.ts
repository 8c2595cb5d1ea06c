/**
 * `kelp target fetch`: the current Debian kernel (image, headers with kbuild,
 * optionally prepared source) unpacked into the cache, one completed step at a
 * time, and described by paths.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { TreeGuard } from '../build/guard.js';
import { chooseToolchain, withToolchain } from '../kernel/toolchain.js';
import { exists, removeTree, withLock, writeFileAtomic } from './atomic.js';
import { CacheEntry, cacheRoot } from './cache.js';
import { AptState } from '../kernel/apt.js';
import { resolveKernelPackagesCached, type KernelPackages } from './debian.js';
import { TargetError } from './errors.js';
import { isPlaceholderMap, systemMapFromKernel } from './kallsyms.js';
import { compilerTextOf, prepareSource, preparedWithKelpFlags, refreshPreparation, SOURCE_TOOLS, sourceTarball, unpackSourceTarball } from './source.js';
import { findBaseTree, unpackSharing } from './share.js';
import { registeredTarget } from './custom.js';
import { requireTools } from './tools.js';
import { assertSelfContained, extractDeb, relativizeSymlinks, relocateHeadersMakefile } from './unpack.js';

/** What `kelp target fetch --json` prints: absolute paths into the cache. */
export interface TargetInfo {
  /** The kernel image (bzImage), for `kelp target run --kernel`. */
  kernel: string;
  systemMap: string;
  config: string;
  /** The headers tree with kbuild: `make -C <kdir> M=<dir> modules`. */
  kdir: string;
  /** Module.symvers of the image. */
  symvers: string;
  /** The image's module tree (lib/modules/<release>). */
  modules: string;
  /** The prepared kernel source tree (with --source): `make -C <source> path/to/file.o`. */
  source?: string;
  /** uname -r of the target kernel, e.g. 6.1.0-56-amd64. */
  release: string;
  /** The Debian package version, e.g. 6.1.192-2. */
  version: string;
  /** The suite the kernel comes from (bookworm, bookworm-security, bookworm-backports, trixie, trixie-security). */
  suite: string;
  /** Its Debian release, whose compiler built it (bookworm, trixie). */
  codename: string;
  /** amd64, cloud-amd64 or rt-amd64. */
  flavour: string;
  /** The compiler that built the kernel (CONFIG_CC_VERSION_TEXT), e.g. "gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0". */
  compiler: string | null;
}

export interface FetchOptions {
  distro?: string;
  /** The kernel release (uname -r), e.g. 6.12.117+deb13-amd64; default: bookworm's current kernel. */
  release?: string;
  source?: boolean;
  cache?: string;
  /** Progress lines (for stderr); nothing is reported when absent. */
  progress?: (line: string) => void;
}

const INFO_FILE = 'target.json';

function pathsOf(dir: string, pk: KernelPackages, withSource: string | undefined, compiler: string | null = null): TargetInfo {
  const root = join(dir, 'root');
  const kdir = join(root, 'usr', 'src', pk.headers);
  const info: TargetInfo = {
    kernel: join(root, 'boot', `vmlinuz-${pk.release}`),
    // Debian's boot/System.map is a placeholder; the real map is made from /proc/kallsyms.
    systemMap: join(dir, `System.map-${pk.release}`),
    config: join(root, 'boot', `config-${pk.release}`),
    kdir,
    symvers: join(kdir, 'Module.symvers'),
    modules: join(root, 'lib', 'modules', pk.release),
    release: pk.release,
    version: pk.version,
    suite: pk.suite,
    codename: pk.codename,
    flavour: pk.flavour,
    compiler,
  };
  if (withSource !== undefined) info.source = withSource;
  return info;
}

/** Fetches (or finds in the cache) one kernel release (default: the current bookworm kernel) and returns its paths. */
export async function fetchTarget(opts: FetchOptions = {}): Promise<TargetInfo> {
  const distro = opts.distro ?? 'debian';
  const root = cacheRoot(opts.cache);
  const say = opts.progress ?? (() => {});
  requireTools(['apt-get', 'apt-cache', 'dpkg-deb']);

  // A kernel registered with `kelp target add` is there already: nothing to fetch.
  const registered = opts.release === undefined ? undefined : registeredTarget(opts.release, opts.cache);
  if (registered !== undefined) {
    say(`${opts.release} is a registered kernel (kelp target add): ${registered.release}, nothing to fetch`);
    return registered;
  }
  if (opts.release !== undefined && !/^\d+\.\d+[A-Za-z0-9.+~_-]*$/.test(opts.release)) {
    throw new TargetError('not a kernel release (what uname -r prints, e.g. 6.1.0-50-amd64 or 6.12.117+deb13-amd64, or a name given to kelp target add)', opts.release);
  }
  const apt = new AptState(root);
  const memo = opts.release === undefined ? join(root, distro, 'resolved-default.json') : join(root, distro, 'resolved', `${opts.release}.json`);
  let pk: KernelPackages;
  try {
    pk = await resolveKernelPackagesCached(apt, memo, { distro, release: opts.release, source: opts.source, say });
  } catch (err) {
    // Without usable package lists, a kernel fetched earlier still serves.
    const cached = await newestCompleted(join(root, distro), opts.source === true, opts.release);
    if (cached === undefined) throw err;
    say(`package lists unavailable; using the cached ${cached.release} (${cached.version})`);
    return cached;
  }
  if (opts.source === true && pk.source === null) {
    throw new TargetError(`the archive has no linux-source-${/^\d+\.\d+/.exec(pk.release)?.[0] ?? ''} at ${pk.version}: no source for this release (kelp target list shows which releases have source)`, pk.release);
  }
  const dir = join(root, distro, `${pk.release}_${pk.version}`);
  await fs.mkdir(dir, { recursive: true });
  return withLock(`${dir}.lock`, () => fetchInto(dir, pk, apt, opts.source === true, say));
}

async function fetchInto(dir: string, pk: KernelPackages, apt: AptState, wantSource: boolean, say: (l: string) => void): Promise<TargetInfo> {
  const entry = new CacheEntry(dir);
  const debs = join(dir, 'debs');
  const rootDir = join(dir, 'root');

  const base = [pk.image, pk.headers, pk.headersCommon, pk.kbuild];
  const debPath = async (pkg: string): Promise<string> => {
    const file = join(debs, `${pkg}.deb`);
    await entry.step(`download-${pkg}`, async () => {
      const version = pkg === pk.kbuild ? (pk.kbuildVersion ?? pk.version) : pk.version;
      say(`downloading ${pkg} ${version}`);
      const partial = join(debs, `partial-${pkg}`);
      await removeTree(partial);
      const got = await apt.download(pkg, version, partial);
      await fs.rename(got, file);
      await removeTree(partial);
    });
    return file;
  };

  // What can overlap does: all packages download at once, and while the source unpacks and is
  // prepared, the build root the kernel's compiler needs is made and the kernel boots for its
  // System.map (when the package's is a placeholder).
  const pending: Promise<unknown>[] = [];
  const early = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {}); // awaited (and its error thrown) where it is used
    pending.push(p);
    return p;
  };
  try {
    return await fetchSteps();
  } finally {
    // On a failure, what was started in the background ends before the entry's lock is released.
    await Promise.allSettled(pending);
  }

  async function fetchSteps(): Promise<TargetInfo> {
    const sourceDeb = wantSource && !(await entry.isDone('source')) ? early(debPath(pk.source!)) : undefined;
    if (!(await entry.isDone('unpack'))) {
      const files = await Promise.all(base.map((pkg) => debPath(pkg)));
      await entry.step('unpack', async () => {
        say(`unpacking ${pk.release}`);
        await removeTree(rootDir);
        for (const f of files) await extractDeb(f, rootDir);
        // trixie's packages install to /usr/lib only (merged /usr): lib -> usr/lib, as on a trixie host.
        if (!(await exists(join(rootDir, 'lib'))) && (await exists(join(rootDir, 'usr', 'lib')))) await fs.symlink(join('usr', 'lib'), join(rootDir, 'lib'));
        await relativizeSymlinks(rootDir);
        const info = pathsOf(dir, pk, undefined);
        await relocateHeadersMakefile(info.kdir);
        await assertSelfContained(rootDir);
        for (const p of [info.kernel, join(rootDir, 'boot', `System.map-${pk.release}`), info.config, info.symvers, join(info.kdir, 'Makefile'), join(info.kdir, 'scripts', 'mod', 'modpost'), info.modules]) {
          if (!(await exists(p))) throw new TargetError('missing after unpacking the kernel packages', p);
        }
      });
      for (const pkg of base) await fs.rm(join(debs, `${pkg}.deb`), { force: true });
    }

    // A placeholder System.map means a boot under QEMU: it runs beside the source's unpacking and preparing.
    const systemMap = early(entry.step('system-map', async () => {
      const info = pathsOf(dir, pk, undefined);
      const shipped = join(rootDir, 'boot', `System.map-${pk.release}`);
      let text = await fs.readFile(shipped, 'utf8').catch(() => '');
      if (isPlaceholderMap(text)) {
        say('booting the kernel once to read its symbol table (System.map)');
        text = await systemMapFromKernel(info.kernel);
      }
      await writeFileAtomic(info.systemMap, text);
    }));

    let source: string | undefined;
    const srcBase = join(dir, 'source');
    if (wantSource) {
      if (!(await entry.isDone('source'))) {
        requireTools(SOURCE_TOOLS);
        const config0 = await fs.readFile(pathsOf(dir, pk, undefined).config, 'utf8');
        const toolchain = early(toolchainFor(dir, pk, config0, say));
        const file = await (sourceDeb ?? debPath(pk.source!));
        // The tree is the package's top directory (linux-source-6.1.tar.xz unpacks to linux-source-6.1). Replacing it
        // takes the builds' tree lock: a kelp build still in an earlier copy of it finishes first.
        const expected = join(srcBase, pk.source!);
        const guard = await TreeGuard.acquire(dirname(dirname(dir)), expected, {
          onWait: (pid) => say(`waiting for the tree: another kelp build (pid ${pid}) is building in ${expected}`),
        });
        try {
          await entry.step('source', async () => {
            await removeTree(srcBase);
            say(`unpacking ${pk.source} ${pk.version}`);
            const debRoot = join(srcBase, 'deb');
            await extractDeb(file, debRoot);
            const tarball = await sourceTarball(debRoot);
            // Another revision of the same upstream version in the cache: only the files that differ are written.
            const base = tarball.endsWith('.tar.xz') ? await findBaseTree(dirname(dir), dir, pk.version, pk.source!) : undefined;
            let tree: string;
            if (base !== undefined) {
              say(`unpacking only what differs from ${base} (the same upstream version); the rest is shared`);
              const { tree: t, share: s } = await unpackSharing(tarball, srcBase, base, dirname(dirname(dir)), say);
              say(`${s.linked} of ${s.files} files (${(s.bytesLinked / 2 ** 20).toFixed(0)} MiB) shared, ${s.files - s.linked} written (${(s.bytesWritten / 2 ** 20).toFixed(1)} MiB) in ${s.seconds.toFixed(1)} s`);
              tree = t;
            } else {
              tree = await unpackSourceTarball(debRoot, srcBase);
            }
            await removeTree(debRoot);
            if (tree !== expected) throw new TargetError(`unpacked to ${tree}, not ${expected}`, file);
            say('preparing the source (olddefconfig, prepare, modules_prepare)');
            await withToolchain(await toolchain, () => prepareSource(tree, config0));
            await writeFileAtomic(join(srcBase, 'tree'), `${tree}\n`);
          });
        } finally {
          guard.restore();
        }
        await fs.rm(file, { force: true });
      }
      source = (await fs.readFile(join(srcBase, 'tree'), 'utf8')).trim();
      if (!(await preparedWithKelpFlags(source))) {
        // A kelp build may be compiling in the tree right now: re-prepare only once it is done (the builds' own lock).
        const tree = source;
        const guard = await TreeGuard.acquire(dirname(dirname(dir)), tree, {
          onWait: (pid) => say(`waiting for the tree: another kelp build (pid ${pid}) is building in ${tree}`),
        });
        try {
          if (!(await preparedWithKelpFlags(tree))) {
            say('re-preparing the source with kelp\'s flags (it was rebuilt without them)');
            const config = await fs.readFile(pathsOf(dir, pk, undefined).config, 'utf8');
            await withToolchain(await toolchainFor(dir, pk, config, say), () => refreshPreparation(tree));
          }
        } finally {
          guard.restore();
        }
      }
    } else if (await entry.isDone('source')) {
      source = (await fs.readFile(join(srcBase, 'tree'), 'utf8')).trim();
    }

    await systemMap;
    const compiler = compilerTextOf(await fs.readFile(pathsOf(dir, pk, undefined).config, 'utf8')) ?? null;
    const info = pathsOf(dir, pk, source, compiler);
    await writeFileAtomic(join(dir, INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
    return info;
  }
}

/** The kernel's own compiler for preparing its source (the host's, or the release's build root). */
function toolchainFor(dir: string, pk: KernelPackages, config: string, say: (l: string) => void) {
  return chooseToolchain({ config, configFile: pathsOf(dir, pk, undefined).config, codename: pk.codename, cache: dirname(dirname(dir)), binds: [dir], say });
}

/** The most recently completed fetch under `distroDir` (with source when required). */
async function newestCompleted(distroDir: string, needSource: boolean, release?: string): Promise<TargetInfo | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(distroDir);
  } catch {
    return undefined;
  }
  let best: { info: TargetInfo; mtime: number } | undefined;
  for (const name of names) {
    const file = join(distroDir, name, INFO_FILE);
    try {
      const st = await fs.stat(file);
      const info = JSON.parse(await fs.readFile(file, 'utf8')) as TargetInfo;
      if (!(await new CacheEntry(join(distroDir, name)).isDone('unpack'))) continue;
      if (needSource && info.source === undefined) continue;
      if (release !== undefined && info.release !== release) continue;
      if (release === undefined && info.codename !== undefined && info.codename !== 'bookworm') continue;
      if (best === undefined || st.mtimeMs > best.mtime) best = { info, mtime: st.mtimeMs };
    } catch {
      // not a completed entry
    }
  }
  return best?.info;
}
