/**
 * The target's initramfs: a static busybox with its applet links, kelpctl,
 * the modules, the check scripts and the generated /init, as a newc cpio.
 */
import { existsSync, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { PT_INTERP } from '../../elf/constants.js';
import { ElfFormatError } from '../../elf/errors.js';
import { ElfFile } from '../../elf/reader.js';
import { buildCpio, type CpioEntry } from './cpio.js';
import { MissingToolError, TargetError } from './errors.js';
import { GUEST, generateInit, type InitPlan } from './init-script.js';
import { requireTool } from './tools.js';
import { moduleStem, readMaybeCompressed } from '../util/decompress.js';

/** True when an ELF executable has no program interpreter (is statically linked). */
export function isStaticElf(buf: Buffer): boolean {
  try {
    return !ElfFile.parse(buf, 'busybox').segments.some((p) => p.p_type === PT_INTERP);
  } catch (e) {
    if (e instanceof ElfFormatError) return false;
    throw e;
  }
}

/** The host's static busybox and the applets it provides. */
export async function findBusybox(): Promise<{ path: string; binary: Buffer; applets: string[] }> {
  const path = requireTool('busybox');
  const binary = await fs.readFile(path);
  if (!isStaticElf(binary)) throw new MissingToolError(`${path} (dynamically linked busybox)`, 'busybox-static');
  const r = await execa(path, ['--list'], { reject: false, stdin: 'ignore' });
  const applets = r.exitCode === 0 ? r.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[\w.[\]-]+$/.test(s)) : [];
  if (!applets.includes('sh')) throw new TargetError('does not list a sh applet (busybox --list)', path);
  return { path, binary, applets };
}

/** bin/kelpctl of this kelp checkout or installation, if present. */
export function findKelpctl(): string | undefined {
  const env = process.env.KELP_KELPCTL;
  if (env !== undefined && env !== '') return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'bin', 'kelpctl');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export interface InitramfsInput {
  plan: Omit<InitPlan, 'modules' | 'checks' | 'kelpctl'>;
  /** Host paths of the modules, loaded in this order, with their names. */
  modules: ReadonlyArray<{ file: string; name: string }>;
  /** Shell commands, each run as its own script. */
  checks: readonly string[];
  /** Host files copied to /<name> (mode kept: executable or not). */
  files?: ReadonlyArray<{ file: string; name: string }>;
}

/** Names in the initramfs root that --file cannot take. */
export const RESERVED_ROOT: ReadonlySet<string> = new Set(['bin', 'dev', 'proc', 'sys', 'tmp', 'kelp', 'init']);

/** Builds the initramfs image; returns the cpio bytes and the plan the init follows. */
export async function buildInitramfs(input: InitramfsInput): Promise<{ image: Buffer; plan: InitPlan }> {
  const busybox = await findBusybox();
  const kelpctl = findKelpctl();
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'kelp', GUEST.modulesDir.slice(1), GUEST.checksDir.slice(1)]) {
    entries.push({ type: 'dir', path: d, mode: d === 'tmp' ? 0o1777 : 0o755 });
  }
  entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  entries.push({ type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  entries.push({ type: 'file', path: 'bin/busybox', data: busybox.binary, mode: 0o755 });
  for (const applet of [...new Set(busybox.applets)].sort()) {
    if (applet === 'busybox' || (applet === 'kelpctl' && kelpctl !== undefined)) continue;
    entries.push({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' });
  }
  if (kelpctl !== undefined) {
    entries.push({ type: 'file', path: GUEST.kelpctl.slice(1), data: await fs.readFile(kelpctl), mode: 0o755 });
  }
  const modules = [];
  for (const [i, m] of input.modules.entries()) {
    const dir = `${GUEST.modulesDir}/${i}`;
    // A compressed module (Debian 6.12's .ko.xz) goes in decompressed: busybox's insmod hands the bytes to init_module, which does not decompress.
    const stem = moduleStem(basename(m.file));
    const guestPath = `${dir}/${stem !== null ? `${stem}.ko` : basename(m.file)}`;
    entries.push({ type: 'dir', path: dir.slice(1) });
    entries.push({ type: 'file', path: guestPath.slice(1), data: readMaybeCompressed(m.file), mode: 0o644 });
    modules.push({ guestPath, name: m.name });
  }
  input.checks.forEach((cmd, j) => {
    entries.push({ type: 'file', path: `${GUEST.checksDir.slice(1)}/${j}.sh`, data: Buffer.from(`${cmd}\n`), mode: 0o755 });
  });
  for (const f of input.files ?? []) {
    if (RESERVED_ROOT.has(f.name) || f.name.includes('/')) throw new Error(`bad root file name ${f.name}`);
    const st = await fs.stat(f.file);
    entries.push({ type: 'file', path: f.name, data: await fs.readFile(f.file), mode: (st.mode & 0o111) !== 0 ? 0o755 : 0o644 });
  }
  const plan: InitPlan = { ...input.plan, modules, checks: input.checks.length, kelpctl: kelpctl !== undefined };
  entries.push({ type: 'file', path: 'init', data: Buffer.from(generateInit(plan)), mode: 0o755 });
  return { image: buildCpio(entries), plan };
}
