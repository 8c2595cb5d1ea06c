/**
 * The kernel's own compiler. CONFIG_CC_VERSION_TEXT says which gcc built the
 * kernel; kelp builds with the host's gcc only when its `--version` line is
 * exactly that text, otherwise in a build root of the kernel's Debian release
 * (buildroot.ts) whose gcc is. A mismatch neither can resolve is refused,
 * naming both compilers, unless the check is skipped (and then recorded).
 *
 * The choice is made once per kelp run and is process-wide: every `make` kelp
 * runs for the target (makeInvocation) goes through it.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { KelpError } from '../errors.js';
import { compilerTextOf } from '../target/source.js';
import { which } from '../target/tools.js';
import { BuildRoot } from './buildroot.js';

export interface Toolchain {
  /** The kernel's CONFIG_CC_VERSION_TEXT (null when the config has none). */
  kernel: string | null;
  /** The `--version` line of the compiler kelp builds with. */
  used: string | null;
  /** host, or the build root's directory. */
  where: 'host' | string;
  /** --skip-compiler-check let a mismatch through. */
  checkSkipped: boolean;
  root: BuildRoot | null;
  /** Paths a root must see (the cache, the trees, kelp's templates), besides the temporary directory. */
  binds: string[];
}

/** The Debian release whose gcc-N is the default compiler (for trees kelp did not fetch). */
const RELEASE_OF_GCC: Readonly<Record<string, string>> = { 'gcc-12': 'bookworm', 'gcc-14': 'trixie' };

/** The Debian release whose default compiler a CONFIG_CC_VERSION_TEXT names (gcc-12: bookworm), if kelp knows one. */
export function debianReleaseOfCompiler(text: string): string | undefined {
  let cc = compilerCommand(text).replace(/^x86_64-linux-gnu-/, '');
  // A plain `gcc (Debian 12.2.0-14+deb12u1) 12.2.0` is Debian's gcc-12.
  const major = /^gcc \(Debian [^)]*\) (\d+)\.\d+\.\d+/.exec(text)?.[1];
  if (cc === 'gcc' && major !== undefined) cc = `gcc-${major}`;
  return RELEASE_OF_GCC[cc];
}

let active: Toolchain | null = null;

/** The toolchain chosen for this run (null: the host's, unchecked). */
export function activeToolchain(): Toolchain | null {
  return active;
}

export function setToolchain(t: Toolchain | null): void {
  active = t;
}

/** Runs `fn` with `t` as the active toolchain, restoring the previous one after. */
export async function withToolchain<T>(t: Toolchain, fn: () => Promise<T>): Promise<T> {
  const before = active;
  active = t;
  try {
    return await fn();
  } finally {
    active = before;
  }
}

/** The compiler command of a version text: `gcc-14 (Debian 14.2.0-19) 14.2.0` → gcc-14. */
export function compilerCommand(text: string): string {
  return text.split(/\s+/)[0]!;
}

/** The host's Debian release (VERSION_CODENAME of /etc/os-release). */
function hostCodename(): string | undefined {
  try {
    return /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

async function versionLine(cc: string): Promise<string | undefined> {
  const path = which(cc);
  if (path === undefined) return undefined;
  const r = await execa(path, ['--version'], { reject: false, stdin: 'ignore', env: { LC_ALL: 'C' } });
  return r.exitCode === 0 ? r.stdout.split('\n')[0]!.trim() : undefined;
}

export interface ChooseOptions {
  /** The kernel's .config text. */
  config: string;
  /** Where it was read, for messages. */
  configFile: string;
  /** The target's Debian release (bookworm, trixie), when known. */
  codename?: string;
  cache: string;
  binds: string[];
  skipCheck?: boolean;
  say?: (l: string) => void;
}

/** Chooses the host's compiler or a build root (made on first use), or refuses. */
export async function chooseToolchain(o: ChooseOptions): Promise<Toolchain> {
  const kernel = compilerTextOf(o.config) ?? null;
  const base = { kernel, checkSkipped: false, binds: o.binds };
  if (kernel === null || !/^\S*gcc/.test(kernel)) {
    // Not a gcc-built Debian kernel: the host's compiler, as the tree's kbuild picks it.
    return { ...base, used: null, where: 'host', root: null };
  }
  const cc = compilerCommand(kernel);
  const host = await versionLine(cc);
  if (host === kernel) return { ...base, used: host, where: 'host', root: null };
  const gcc = cc.replace(/^x86_64-linux-gnu-/, '');
  const codename = o.codename ?? RELEASE_OF_GCC[gcc];
  let inRoot: string | undefined;
  // On a host of the kernel's own release, that release's root would hold the host's very gcc.
  const sameRelease = host !== undefined && codename !== undefined && hostCodename() === codename;
  if (codename !== undefined && /^gcc-\d+$/.test(gcc) && !sameRelease) {
    const root = new BuildRoot(o.cache, codename, gcc);
    await root.ensure(o.say);
    const r = await root.compilerText(cc);
    if ('text' in r && r.text === kernel) return { ...base, used: r.text, where: root.dir, root };
    inRoot = 'text' in r ? `"${r.text}" in the ${codename} build root` : `a ${codename} build root where ${cc} does not run (${r.error})`;
  }
  const have = [host !== undefined ? `"${host}" on the host` : `no ${cc} on the host`, ...(inRoot !== undefined ? [inRoot] : [])];
  if (o.skipCheck === true) {
    o.say?.(`compiler check skipped: the kernel was built with "${kernel}", kelp builds with ${have[0]}`);
    return { ...base, used: host ?? null, where: 'host', root: null, checkSkipped: true };
  }
  throw new KelpError(`the kernel was built with "${kernel}", but kelp has ${have.join(' and ')}; a livepatch must be compiled by the kernel's own compiler (--skip-compiler-check builds anyway)`, o.configFile);
}

/**
 * How to run `make args` for the target: directly, or inside the active build
 * root. `env` holds the variables the build needs (the rest of the host's
 * environment stays out of a root).
 */
export function makeInvocation(args: string[], cwd: string, env: Record<string, string>): { file: string; args: string[]; env: Record<string, string> } {
  const t = active;
  if (t === null || t.root === null) return { file: 'make', args, env: { ...process.env as Record<string, string>, ...env } };
  const argv = t.root.wrap(['make', ...args], cwd, [...t.binds, cwd], env);
  return { file: argv[0]!, args: argv.slice(1), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } };
}
