/**
 * A kernel the test suite builds itself, for `kelp target add`: Debian's 6.12
 * source (the trixie target's, already in the cache) with a small
 * configuration — tinyconfig plus what a livepatch and `kelp target run`
 * need — built in its source tree by the host's gcc 12 (the configuration then
 * names that compiler, and kelp's compiler rule picks the host). Cached under
 * the kelp cache like the downloads (<cache>/selfbuilt/<key>/), one completed
 * step at a time: a second run reuses it at once, and so does a run whose
 * trixie target moved on to a newer 6.12 (any completed small kernel of the
 * series with these options serves).
 */
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { TreeGuard } from '../../src/build/guard.js';
import { removeTree, withLock } from '../../src/target/atomic.js';
import { CacheEntry, cacheRoot } from '../../src/target/cache.js';
import type { TargetInfo } from '../../src/target/fetch.js';

/** The options on top of tinyconfig. */
export const SELFBUILT_OPTIONS: readonly string[] = [
  // 64-bit, modules, and what the target's initramfs and kelpctl use
  '64BIT', 'MODULES', 'MODULE_UNLOAD', 'PRINTK', 'BUG', 'FUTEX', 'MULTIUSER',
  'BLK_DEV_INITRD', 'BINFMT_ELF', 'BINFMT_SCRIPT', 'PROC_FS', 'PROC_SYSCTL', 'SYSFS', 'DEVTMPFS', 'SHMEM', 'TMPFS',
  // the console kelp target run reads (QEMU's first serial port, console=ttyS0)
  'TTY', 'SERIAL_8250', 'SERIAL_8250_CONSOLE',
  // livepatch and what it needs: ftrace with its dynamic entries, all symbols in kallsyms,
  // and reliable stack traces (ORC) so sleeping tasks can switch
  'KALLSYMS', 'KALLSYMS_ALL', 'FTRACE', 'FUNCTION_TRACER', 'DYNAMIC_FTRACE', 'UNWINDER_ORC', 'LIVEPATCH',
];

export interface SelfBuilt {
  /** The source tree, built in place. */
  tree: string;
  image: string;
  vmlinux: string;
  systemMap: string;
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const r = await execa(cmd, args, { cwd, reject: false, all: true, env: { LC_ALL: 'C' }, maxBuffer: 256 << 20 });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${(r.all ?? '').split('\n').slice(-30).join('\n')}`);
}

function layout(dir: string): SelfBuilt {
  const tree = join(dir, 'linux');
  return { tree, image: join(tree, 'arch', 'x86', 'boot', 'bzImage'), vmlinux: join(tree, 'vmlinux'), systemMap: join(tree, 'System.map') };
}

/**
 * The newest completed small kernel under `base` of `series` whose
 * configuration has every option of SELFBUILT_OPTIONS (read from its .config,
 * so kernels cached under older directory names count too).
 */
async function builtEarlier(base: string, series: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(base);
  } catch {
    return undefined;
  }
  let best: { dir: string; at: number } | undefined;
  for (const n of names.filter((x) => x.startsWith(`${series}.`) || x.startsWith(`${series}-`))) {
    const dir = join(base, n);
    if (!(await new CacheEntry(dir).isDone('build'))) continue;
    let config: string;
    let release: string;
    try {
      config = await fs.readFile(join(dir, 'linux', '.config'), 'utf8');
      release = (await fs.readFile(join(dir, 'linux', 'include', 'config', 'kernel.release'), 'utf8')).trim();
    } catch {
      continue;
    }
    if (!release.startsWith(`${series}.`) || !SELFBUILT_OPTIONS.every((o) => new RegExp(`^CONFIG_${o}=y$`, 'm').test(config))) continue;
    const at = (await fs.stat(join(dir, 'steps', 'build.done'))).mtimeMs;
    if (best === undefined || at > best.at) best = { dir, at };
  }
  return best?.dir;
}

/**
 * Builds (or finds in the cache) the small kernel from `from`'s source tree.
 * Needs the kbuild packages (SOURCE_PACKAGES). Takes minutes the first time.
 */
export async function getSelfBuiltKernel(from: TargetInfo, say: (l: string) => void = () => {}): Promise<SelfBuilt> {
  const series = /^\d+\.\d+/.exec(from.release)?.[0] ?? from.release;
  const options = createHash('sha256').update(`${SELFBUILT_OPTIONS.join(',')}\n`).digest('hex').slice(0, 12);
  const base = join(cacheRoot(), 'selfbuilt');
  // A small kernel built earlier from another source of the series serves as
  // well (the tests need a self-built kernel, not the newest one): a security
  // update of trixie, which changes the target, then costs no kernel build.
  const built = await builtEarlier(base, series);
  if (built !== undefined) {
    say(`reusing ${built}`);
    return layout(built);
  }
  const version = createHash('sha256').update(`${from.release}\n${from.version}\n`).digest('hex').slice(0, 8);
  const dir = join(base, `${series}-tiny-${options}-${version}`);
  const out = layout(dir);
  const tree = out.tree;
  await fs.mkdir(dir, { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    const entry = new CacheEntry(dir);
    await entry.step('copy', async () => {
      say(`copying ${from.source} without its build products`);
      await removeTree(tree);
      await fs.mkdir(tree, { recursive: true });
      // The prepared tree holds a few build products; mrproper removes what tar lets through.
      // Under the builds' tree lock: a kelp build in the trixie tree (another lane's) has its patched files there meanwhile.
      const guard = await TreeGuard.acquire(cacheRoot(), from.source!, { onWait: (pid) => say(`waiting for ${from.source}: kelp build ${pid} is in it`) });
      try {
        await run('sh', ['-c', 'tar -C "$1" --exclude="*.o" --exclude=".*.cmd" --exclude="*.ko" -cf - . | tar -C "$2" -xf -', 'sh', from.source!, tree], dir);
      } finally {
        guard.restore();
      }
      await run('make', ['-s', 'mrproper'], tree);
    });
    await entry.step('config', async () => {
      say('configuring: tinyconfig and livepatch');
      // The prepared tree names the trixie compiler (CC = x86_64-linux-gnu-gcc-14); this kernel is the host gcc's.
      await fs.rm(join(tree, '.kernelvariables'), { force: true });
      await run('make', ['-s', 'ARCH=x86_64', 'tinyconfig'], tree);
      await run('./scripts/config', ['--set-str', 'LOCALVERSION', '-kelp-tiny', ...SELFBUILT_OPTIONS.flatMap((o) => ['--enable', o]), '--disable', 'UNWINDER_GUESS', '--disable', 'UNWINDER_FRAME_POINTER'], tree);
      await run('make', ['-s', 'ARCH=x86_64', 'olddefconfig'], tree);
      const config = await fs.readFile(join(tree, '.config'), 'utf8');
      const lost = SELFBUILT_OPTIONS.filter((o) => !new RegExp(`^CONFIG_${o}=y$`, 'm').test(config));
      if (lost.length > 0) throw new Error(`Kconfig dropped ${lost.join(', ')} from the small configuration`);
    });
    await entry.step('build', async () => {
      say('building the small kernel (bzImage, modules)');
      await run('make', ['-s', '-j2', 'ARCH=x86_64', 'bzImage', 'modules'], tree);
    });
    return out;
  });
}
