/**
 * kelp's own apt state under the cache (`<cache>/apt`): its sources (the
 * suites of suites.ts, Signed-By Debian's archive keyring), package lists,
 * package cache and an empty dpkg status. apt-get and apt-cache run with
 * APT_CONFIG pointing at kelp's apt.conf, which names only kelp's directories:
 * the host's apt configuration is neither read nor written, and no root is
 * needed (as root, apt's download sandbox user is turned off because _apt
 * cannot write into a private cache).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { exists, withLock, writeFileAtomic } from '../target/atomic.js';
import { TargetError } from '../target/errors.js';
import { isRoot, requireTool } from '../target/tools.js';
import { ARCHIVE_KEYRING, sourcesFile } from './suites.js';

/** Package lists older than this are refreshed before a lookup that needs them. */
export const LISTS_MAX_AGE_MS = 12 * 3600_000;

export interface AptRun { exitCode: number; stdout: string; stderr: string }

export class AptState {
  readonly dir: string;

  constructor(cacheRoot: string) {
    this.dir = join(cacheRoot, 'apt');
  }

  get configFile(): string { return join(this.dir, 'etc', 'apt.conf'); }
  private get lists(): string { return join(this.dir, 'state', 'lists'); }
  private get updatedMarker(): string { return join(this.dir, 'state', 'updated'); }

  /** The apt.conf text: every Dir:: apt reads or writes is inside this.dir. */
  configText(): string {
    const d = this.dir;
    const lines = [
      `Dir::Etc "${d}/etc";`,
      `Dir::Etc::main "${d}/etc/apt.conf";`,
      `Dir::Etc::parts "${d}/etc/apt.conf.d";`,
      'Dir::Etc::sourcelist "/dev/null";',
      `Dir::Etc::sourceparts "${d}/etc/sources.list.d";`,
      'Dir::Etc::preferences "/dev/null";',
      `Dir::Etc::preferencesparts "${d}/etc/preferences.d";`,
      'Dir::Etc::trusted "/dev/null";',
      `Dir::Etc::trustedparts "${d}/etc/trusted.gpg.d";`,
      `Dir::State "${d}/state";`,
      `Dir::State::status "${d}/state/status";`,
      `Dir::Cache "${d}/cache";`,
      'Dir::Cache::pkgcache "pkgcache.bin";',
      'Dir::Cache::srcpkgcache "srcpkgcache.bin";',
      `Dir::Log "${d}/log";`,
      'Acquire::Languages "none";',
      'Acquire::Retries "3";',
      'APT::Architecture "amd64";',
      'APT::Architectures { "amd64"; };',
      'APT::Get::AllowUnauthenticated "false";',
      'Acquire::AllowInsecureRepositories "false";',
      // As root apt downloads as _apt, which cannot enter a private cache directory.
      ...(isRoot() ? ['APT::Sandbox::User "root";'] : []),
    ];
    return `${lines.join('\n')}\n`;
  }

  /** Creates the directories and (re)writes the configuration when it differs. */
  async ensure(): Promise<void> {
    if (!(await exists(ARCHIVE_KEYRING))) {
      throw new TargetError('missing; install the Debian package debian-archive-keyring (apt-get install debian-archive-keyring)', ARCHIVE_KEYRING);
    }
    for (const sub of ['etc/apt.conf.d', 'etc/preferences.d', 'etc/sources.list.d', 'etc/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'log']) {
      await fs.mkdir(join(this.dir, sub), { recursive: true });
    }
    await writeIfChanged(this.configFile, this.configText());
    await writeIfChanged(join(this.dir, 'etc', 'sources.list.d', 'debian.sources'), sourcesFile());
    if (!(await exists(join(this.dir, 'state', 'status')))) await fs.writeFile(join(this.dir, 'state', 'status'), '');
  }

  /** Runs an apt program with kelp's configuration. */
  async run(tool: 'apt-get' | 'apt-cache', args: string[], cwd?: string): Promise<AptRun> {
    const o = { cwd, reject: false, stdin: 'ignore', maxBuffer: 64 << 20, env: { LC_ALL: 'C', APT_CONFIG: this.configFile } } as const;
    const r = tool === 'apt-get' ? await execa(requireTool('apt-get'), args, o) : await execa(requireTool('apt-cache'), args, o);
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  /** When the lists were last updated successfully (ms since the epoch), or undefined. */
  async updatedAt(): Promise<number | undefined> {
    try {
      return (await fs.stat(this.updatedMarker)).mtimeMs;
    } catch {
      return undefined;
    }
  }

  /**
   * `apt-get update` of kelp's lists (one at a time per cache). apt verifies
   * every Release file against the archive keyring; a suite that fails to
   * verify fails the update.
   */
  async update(say: (l: string) => void = () => {}): Promise<void> {
    await this.ensure();
    await withLock(join(this.dir, 'update.lock'), async () => {
      say('updating kelp\'s package lists (bookworm, bookworm-security, bookworm-backports, trixie, trixie-security)');
      const r = await this.run('apt-get', ['update', '-q']);
      const bad = r.stderr.split('\n').find((l) => /^(E:|W: .*(NO_PUBKEY|not signed|BADSIG|EXPKEYSIG|is not signed))/.test(l.trim()));
      if (r.exitCode !== 0 || bad !== undefined) {
        throw new TargetError(`apt-get update failed: ${(bad ?? lastLine(r.stderr) ?? `exit ${r.exitCode}`).replace(/^[EW]: /, '')}`, this.configFile);
      }
      await fs.writeFile(this.updatedMarker, `${new Date().toISOString()}\n`);
    });
  }

  /**
   * Makes sure the lists exist and are not older than `maxAgeMs`; an update
   * that fails with usable lists present only notes it (offline use).
   */
  async ensureLists(say: (l: string) => void = () => {}, maxAgeMs = LISTS_MAX_AGE_MS): Promise<void> {
    await this.ensure();
    const at = await this.updatedAt();
    if (at !== undefined && Date.now() - at < maxAgeMs) return;
    try {
      await this.update(say);
    } catch (err) {
      if (at === undefined || !(await this.hasLists())) throw err;
      say(`${(err as Error).message}; using the package lists of ${new Date(at).toISOString()}`);
    }
  }

  private async hasLists(): Promise<boolean> {
    try {
      return (await fs.readdir(this.lists)).some((f) => f.includes('_Packages'));
    } catch {
      return false;
    }
  }

  /** A fingerprint of the lists: while unchanged, so is every lookup made from them. */
  async stamp(): Promise<string | undefined> {
    const at = await this.updatedAt();
    return at === undefined ? undefined : String(at);
  }

  /** `apt-get download pkg=version` into `dir`; returns the .deb's path. */
  async download(pkg: string, version: string, dir: string): Promise<string> {
    await fs.mkdir(dir, { recursive: true });
    const r = await this.run('apt-get', ['download', '-q', `${pkg}=${version}`], dir);
    if (r.exitCode !== 0) {
      throw new TargetError(`download failed: ${lastLine(r.stderr) ?? `apt-get download exited with ${r.exitCode}`}`, `${pkg}=${version}`);
    }
    const debs = (await fs.readdir(dir)).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    const wanted = debs.find((f) => decodeURIComponent(f).startsWith(`${pkg}_${version}_`)) ?? debs[0];
    if (wanted === undefined) throw new TargetError('apt-get download produced no .deb', `${pkg}=${version}`);
    return join(dir, wanted);
  }
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  const old = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (old !== text) await writeFileAtomic(file, text);
}

export function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('W:'));
  return lines[lines.length - 1];
}
