/**
 * A build root of one Debian release (`<cache>/roots/<codename>`): made once
 * with `mmdebstrap --variant=minbase` from the same suites and keyring as
 * kelp's apt state, holding the compiler that built the release's kernels and
 * what kbuild needs. Commands run in it through `unshare` (a private mount
 * namespace; a user namespace when not root) with the cache, the temporary
 * directory and kelp's templates bind-mounted at their own paths, then
 * `chroot`: originals, patched objects, the module link and the tree's
 * prepare then all use the kernel's own toolchain.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { removeTree, withLock, writeFileAtomic } from '../target/atomic.js';
import { TargetError } from '../target/errors.js';
import { isRoot, requireTool } from '../target/tools.js';
import { ARCHIVE_KEYRING, SUITES } from './suites.js';

/** What a root holds beside gcc-N: kbuild's tools for objects, prepare and module links (BTF). */
export const ROOT_PACKAGES = ['make', 'bc', 'flex', 'bison', 'libc6-dev', 'libelf-dev', 'libssl-dev', 'dwarves', 'openssl', 'xz-utils', 'kmod', 'cpio', 'perl', 'python3'];

export class BuildRoot {
  readonly dir: string;

  constructor(cacheRoot: string, readonly codename: string, readonly gcc: string) {
    this.dir = join(cacheRoot, 'roots', `${codename}-${gcc}`);
  }

  get root(): string { return join(this.dir, 'root'); }
  private get marker(): string { return join(this.dir, 'complete'); }

  get packages(): string[] { return [this.gcc, 'gcc', ...ROOT_PACKAGES]; }

  /** The packages the completed root was made with (undefined: not made). */
  private async made(): Promise<string[] | undefined> {
    try {
      return (JSON.parse(await fs.readFile(this.marker, 'utf8')) as { packages: string[] }).packages;
    } catch {
      return undefined;
    }
  }

  async isReady(): Promise<boolean> {
    const have = await this.made();
    return have !== undefined && this.packages.every((p) => have.includes(p));
  }

  /** Creates the root once (about 400 MB), or adds packages a newer kelp needs; later calls return at once. */
  async ensure(say: (l: string) => void = () => {}): Promise<void> {
    if (await this.isReady()) return;
    await fs.mkdir(this.dir, { recursive: true });
    await withLock(`${this.dir}.lock`, async () => {
      if (await this.isReady()) return;
      const have = await this.made();
      if (have !== undefined) {
        const missing = this.packages.filter((p) => !have.includes(p));
        say(`adding ${missing.join(', ')} to the ${this.codename} build root`);
        const argv = this.wrap(['sh', '-c', `apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${missing.join(' ')}`], '/', []);
        const r = await execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', all: true, maxBuffer: 64 << 20 });
        if (r.exitCode !== 0) throw new TargetError(`installing ${missing.join(', ')} failed: ${(r.all ?? '').trim().split('\n').pop()}`, this.root);
        await writeFileAtomic(this.marker, `${JSON.stringify({ at: new Date().toISOString(), packages: this.packages })}\n`);
        return;
      }
      const mmdebstrap = requireTool('mmdebstrap');
      const mode = isRoot() ? 'root' : 'unshare';
      say(`making a ${this.codename} build root with ${this.gcc} (mmdebstrap --variant=minbase, once)`);
      await removeTree(this.root);
      const sources = SUITES.filter((s) => s.codename === this.codename && !s.name.endsWith('-backports'))
        .map((s) => `deb [signed-by=${ARCHIVE_KEYRING}] ${s.uri} ${s.name} main`);
      const r = await execa(mmdebstrap, [
        '--variant=minbase', `--mode=${mode}`, `--keyring=${ARCHIVE_KEYRING}`, '--aptopt=Acquire::Languages "none"',
        '--dpkgopt=path-exclude=/usr/share/{doc,man,locale}/*', `--include=${this.packages.join(',')}`,
        this.codename, this.root, ...sources,
      ], { reject: false, stdin: 'ignore', all: true, maxBuffer: 64 << 20, env: { LC_ALL: 'C' } });
      if (r.exitCode !== 0) {
        await removeTree(this.root);
        const why = (r.all ?? '').trim().split('\n').filter((l) => /^E:|error/i.test(l)).slice(-1)[0] ?? `exit ${r.exitCode}`;
        throw new TargetError(`mmdebstrap of a ${this.codename} build root failed${mode === 'unshare' ? ' (without root it needs unprivileged user namespaces and /etc/subuid)' : ''}: ${why}`, this.root);
      }
      await writeFileAtomic(this.marker, `${JSON.stringify({ at: new Date().toISOString(), packages: this.packages })}\n`);
    });
  }

  /** The first line of `<cc> --version` inside the root. */
  /**
   * `cc --version`'s first line in the root. Kept in the root's directory
   * with the state of the root's dpkg database: an installed or upgraded
   * package changes it, and the next call asks the compiler again (starting
   * the root takes seconds, once per build otherwise).
   */
  async compilerText(cc: string): Promise<{ text: string } | { error: string }> {
    const memo = join(this.dir, `compiler-${cc.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    let state: string | null = null;
    try {
      const st = await fs.stat(join(this.root, 'var/lib/dpkg/status'));
      state = `${st.size}:${st.mtimeMs}:${st.ino}`;
      const m = JSON.parse(await fs.readFile(memo, 'utf8')) as { state: string; text: string };
      if (m.state === state && typeof m.text === 'string' && m.text !== '') return { text: m.text };
    } catch {
      // No record yet (or no dpkg database): ask the compiler.
    }
    const r = await execa(requireTool('unshare'), this.wrap([cc, '--version'], '/', []).slice(1), { reject: false, stdin: 'ignore', all: true });
    if (r.exitCode !== 0) return { error: (r.all ?? '').trim().split('\n').pop() || `exit ${r.exitCode}` };
    const text = r.stdout.split('\n')[0]!.trim();
    if (state !== null) await writeFileAtomic(memo, `${JSON.stringify({ state, text })}\n`).catch(() => {});
    return { text };
  }

  /**
   * The argv (starting with unshare's path) that runs `argv` in the root with
   * `cwd` as working directory, the `binds` (plus the temporary directory)
   * mounted at their own paths, and `env` only.
   */
  wrap(argv: string[], cwd: string, binds: string[], env: Record<string, string> = {}): string[] {
    const unshare = requireTool('unshare');
    const paths = collapse([...binds, tmpdir()].map((p) => resolve(p)));
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const root = this.root;
    const mounts = [
      `mount --rbind /dev ${q(`${root}/dev`)}`,
      `mount -t proc proc ${q(`${root}/proc`)} 2>/dev/null || mount --rbind /proc ${q(`${root}/proc`)}`,
      ...paths.map((p) => `mkdir -p ${q(root + p)} && mount --rbind ${q(p)} ${q(root + p)}`),
    ];
    const envArgs = Object.entries({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', HOME: '/root', ...env }).map(([k, v]) => `${k}=${v}`);
    const inner = `cd ${q(cwd)} && exec ${['env', '-i', ...envArgs, ...argv].map(q).join(' ')}`;
    const script = `set -e; ${mounts.join(' && ')} && exec chroot ${q(root)} /bin/sh -c ${q(inner)}`;
    return [unshare, ...(isRoot() ? [] : ['--map-root-user']), '--mount', '--propagation', 'private', '--fork', '--pid', '/bin/sh', '-c', script];
  }
}

/** Drops paths that lie inside another path of the list. */
function collapse(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(`${q}/`)));
}
