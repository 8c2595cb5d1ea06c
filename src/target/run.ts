/**
 * `kelp target run`: boot a kernel with an initramfs that loads modules, runs
 * checks (and re-runs them after disabling patches), and turn what the console
 * reported into a structured result.
 */
import { createHash } from 'node:crypto';
import { kernelModuleName } from '../kmod/names.js';
import { promises as fs, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { ConsoleParser, type CommandReport } from './console-parser.js';
import { TargetError } from './errors.js';
import { buildInitramfs, RESERVED_ROOT } from './initramfs.js';
import { identifyModule } from './modinfo.js';
import { bootKernel } from './pvh.js';
import { runQemu, type QemuResult } from './qemu.js';
import { requireTools } from './tools.js';

export interface RunOptions {
  kernel: string;
  load?: readonly string[];
  check?: readonly string[];
  /** Regular expressions the checks' output (before any disable) must match. */
  expect?: readonly string[];
  /** Livepatch names to disable before the checks run again. */
  disable?: readonly string[];
  /** Seconds before a hung run is killed. */
  timeout?: number;
  kvm?: boolean;
  /** Where to keep the console log (always written when given). */
  log?: string;
  /** Extra kernel command-line words. */
  append?: string;
  /** Host files put into the initramfs root as /<basename> (a bundle, a script) for the checks. */
  files?: readonly string[];
  /** Boot the bzImage as it is, through its decompressor, instead of its vmlinux's PVH entry (src/target/pvh.ts). */
  bzImage?: boolean;
  /** The kelp cache, where the unpacked vmlinux is kept (default: cacheRoot()). */
  cache?: string;
}

export interface ModuleResult {
  file: string;
  name: string;
  loaded: boolean;
  /** The livepatch's enabled state after loading; null when it is no livepatch. */
  enabled: boolean | null;
  /** Why the module is not loaded (or its patch not enabled); null when all is well. */
  error: string | null;
  /** What the loader (kelpctl or insmod) printed. */
  output: string;
}

export interface CheckResult {
  command: string;
  output: string;
  /** null when the check never finished (the target stopped first). */
  exitCode: number | null;
}

export interface DisableResult {
  name: string;
  ok: boolean;
  /** enabled after the disable, null when the patch left sysfs. */
  enabled: boolean | null;
  error: string | null;
}

export interface ExpectResult {
  pattern: string;
  matched: boolean;
}

export interface RunResult {
  /** Everything loaded, every check exited 0, every --expect matched, every disable worked. */
  ok: boolean;
  kernel: string;
  /** The init reached its end and reported back. */
  completed: boolean;
  timedOut: boolean;
  /** A problem with the run as a whole (timeout, boot failure), null otherwise. */
  error: string | null;
  modules: ModuleResult[];
  checks: CheckResult[];
  disabled: DisableResult[];
  /** The checks run again after --disable (empty without it). */
  checksAfterDisable: CheckResult[];
  expect: ExpectResult[];
  /** Kernel log lines about livepatch, taint, module loading and oopses. */
  kernelMessages: string[];
  /** /proc/sys/kernel/tainted at the end. */
  taint: number | null;
  /** Seconds from starting qemu to the init running (host clock). */
  bootTime: number | null;
  /** Guest uptime in seconds when the init started. */
  guestBootTime: number | null;
  /** Seconds for the whole run, initramfs included. */
  totalTime: number;
  /** True when the image's vmlinux was booted through its PVH entry (no decompressor, no KASLR). */
  pvh: boolean;
  /** The console log's path, when it was kept (--log, or a failed run). */
  log: string | null;
}

/** Rejects files that are not x86 bzImage kernels before qemu sees them. */
export async function checkKernelImage(kernel: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(kernel);
  } catch {
    throw new TargetError('no such kernel image', kernel);
  }
  if (!st.isFile()) throw new TargetError('not a regular file', kernel);
  const fh = await fs.open(kernel, 'r');
  try {
    const hdr = Buffer.alloc(0x206);
    const { bytesRead } = await fh.read(hdr, 0, hdr.length, 0);
    if (bytesRead < hdr.length || hdr.toString('latin1', 0x202, 0x206) !== 'HdrS' || hdr.readUInt16LE(0x1fe) !== 0xaa55) {
      throw new TargetError('not an x86 Linux kernel image (no bzImage boot header)', kernel);
    }
  } finally {
    await fh.close();
  }
}

/** Keeps the console log with bounded memory: the first and the last 4 MiB. */
class LogBuffer {
  private head = '';
  private tail: string[] = [];
  private tailLength = 0;
  private dropped = 0;
  private static readonly HALF = 4 << 20;

  add(text: string): void {
    if (this.head.length < LogBuffer.HALF) {
      const room = LogBuffer.HALF - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (text === '') return;
    this.tail.push(text);
    this.tailLength += text.length;
    while (this.tailLength - (this.tail[0]?.length ?? 0) >= LogBuffer.HALF && this.tail.length > 1) {
      const first = this.tail.shift()!;
      this.tailLength -= first.length;
      this.dropped += first.length;
    }
  }

  toString(): string {
    const gap = this.dropped > 0 ? `\n[... ${this.dropped} characters of console output left out ...]\n` : '';
    return this.head + gap + this.tail.join('');
  }
}

/** Kernel log lines worth returning: livepatch, taint and module loading, oopses and warnings. */
const INTERESTING = /livepatch|\bklp|taint|module verification|out-of-tree/i;
const TROUBLE = /\bBUG:|\bOops\b|\bWARNING:|Call Trace|general protection|Kernel panic/;

function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1];
}

/**
 * What kelpctl said went wrong: after a transition timeout, its message and
 * the tasks it lists as still blocking (not the last line of their stacks);
 * otherwise the last line.
 */
export function kelpctlMessage(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  let i = lines.length - 1;
  while (i >= 0 && !lines[i].startsWith('kelpctl:')) i--;
  if (i < 0) return lastLine(output);
  const tasks = lines.slice(i + 1).filter((l) => /^task \d+ \(/.test(l)).map((l) => l.replace(/: patch_state .*$/, ''));
  // Without a task list, what came last says it (insmod's own complaint after kelpctl's note, say).
  if (tasks.length === 0) return lines[lines.length - 1];
  const shown = tasks.slice(0, 6).join(', ');
  return `${lines[i]} ${shown}${tasks.length > 6 ? ` and ${tasks.length - 6} more` : ''}`;
}

/**
 * The --file arguments: existing regular files, each going to /<basename>,
 * no two with one name and none over a path the initramfs itself uses.
 */
function rootFiles(paths: readonly string[]): Array<{ file: string; name: string }> {
  const seen = new Map<string, string>();
  return paths.map((p) => {
    const file = resolve(p);
    let st;
    try {
      st = statSync(file);
    } catch {
      throw new TargetError('no such file', p);
    }
    if (!st.isFile()) throw new TargetError('not a regular file', p);
    const name = basename(file);
    if (RESERVED_ROOT.has(name)) throw new TargetError(`/${name} is the target's own; rename the file`, p);
    const other = seen.get(name);
    if (other !== undefined) throw new TargetError(`/${name} is already taken by ${other}`, p);
    seen.set(name, p);
    return { file, name };
  });
}

/** Boots the target and reports what happened. Throws only for unusable inputs or tools. */
export async function runTarget(o: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const kernel = resolve(o.kernel);
  const loads = (o.load ?? []).map((f) => resolve(f));
  const files = rootFiles(o.files ?? []);
  const checks = [...(o.check ?? [])];
  const expects = [...(o.expect ?? [])];
  const disable = (o.disable ?? []).map(kernelModuleName);
  const timeout = o.timeout ?? 120;
  if (!(timeout > 0)) throw new TargetError('must be a positive number of seconds', '--timeout');
  const regexps = expects.map((p) => {
    try {
      return new RegExp(p, 'm');
    } catch {
      throw new TargetError('not a valid regular expression', p);
    }
  });
  if (expects.length > 0 && checks.length === 0) throw new TargetError('needs at least one --check whose output it matches', '--expect');
  for (const n of disable) if (!/^[\w.]+$/.test(n)) throw new TargetError('not a module name', n);
  await checkKernelImage(kernel);
  requireTools(['qemu-system-x86_64', 'busybox']);

  const idents = [];
  for (const file of loads) {
    try {
      idents.push({ file, ...(await identifyModule(file)) });
    } catch {
      throw new TargetError('cannot read the module file', file);
    }
  }

  const hash = createHash('sha256');
  hash.update(kernel);
  for (const f of loads) hash.update(await fs.readFile(f));
  for (const f of files) hash.update(await fs.readFile(f.file));
  hash.update(JSON.stringify([checks, disable, timeout]));
  const nonce = hash.digest('hex').slice(0, 16);

  const work = await fs.mkdtemp(join(tmpdir(), 'kelp-target-'));
  const log = new LogBuffer();
  const parser = new ConsoleParser(nonce, () => Date.now() - started);
  let q: QemuResult;
  let boot = { file: kernel, pvh: false };
  try {
    const { image } = await buildInitramfs({
      plan: { nonce, disable, transitionTimeout: Math.min(60, Math.max(5, Math.floor(timeout / 2))) },
      modules: idents.map((m) => ({ file: m.file, name: m.name })),
      checks,
      files,
    });
    const initrd = join(work, 'initramfs.cpio');
    await fs.writeFile(initrd, image);
    // Software emulation spends most of a boot in the bzImage's decompressor; KVM does not.
    boot = await bootKernel(kernel, { bzImage: o.bzImage === true || o.kvm === true, cache: o.cache });
    q = await runQemu({
      kernel: boot.file, initrd, append: o.append, kvm: o.kvm, timeoutMs: Math.max(1000, timeout * 1000 - (Date.now() - started)),
      onConsole: (text) => {
        log.add(text);
        parser.push(text);
      },
      finished: () => parser.done,
    });
    parser.end();
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }

  // The run as a whole.
  let error: string | null = null;
  if (q.timedOut) {
    error = parser.bootUptime === undefined
      ? `killed after ${timeout}s: the kernel did not reach the init`
      : `killed after ${timeout}s: the target hung${parser.checkInProgress ? ` in check ${parser.checkInProgress.index}` : parser.moduleInProgress !== undefined ? ` loading module ${parser.moduleInProgress}` : ''}`;
  } else if (parser.bootUptime === undefined) {
    error = `the kernel stopped before the init ran (qemu exit ${q.exitCode ?? q.signal}${q.stderr ? `: ${lastLine(q.stderr)}` : ''})`;
  } else if (!parser.done) {
    error = 'the target stopped before the init finished (kernel panic or crash; see the console log)';
  }

  const modules: ModuleResult[] = idents.map((m, i) => {
    const r = parser.modules.get(i);
    if (r === undefined) {
      const why = parser.moduleInProgress === i ? 'the target stopped while loading it' : 'not attempted: the target stopped earlier';
      return { file: m.file, name: m.name, loaded: false, enabled: null, error: why, output: '' };
    }
    let err: string | null = null;
    if (!r.loaded || r.exitCode !== 0) err = kelpctlMessage(r.output) ?? `load failed (exit ${r.exitCode})`;
    else if (r.enabled === false) err = 'loaded, but its livepatch is not enabled';
    else if (r.transition === true) err = 'loaded, but its livepatch transition did not finish';
    else if (m.livepatch && r.enabled === null) err = 'loaded, but no livepatch appeared in /sys/kernel/livepatch';
    return { file: m.file, name: m.name, loaded: r.loaded, enabled: r.enabled, error: err, output: r.output };
  });
  const checkResults = (reports: Map<number, CommandReport>): CheckResult[] => checks.map((command, j) => {
    const r = reports.get(j);
    return { command, output: r?.output ?? '', exitCode: r === undefined ? null : r.exitCode };
  });
  const checkOut = checkResults(parser.checks.p);
  const afterOut = disable.length > 0 ? checkResults(parser.checks.d) : [];
  const disabled: DisableResult[] = disable.map((name, k) => {
    const r = parser.disables.get(k);
    if (r === undefined) return { name, ok: false, enabled: null, error: 'not attempted: the target stopped earlier' };
    const ok = r.exitCode === 0 && r.enabled !== true;
    return { name, ok, enabled: r.enabled, error: ok ? null : (kelpctlMessage(r.output) ?? `disable failed (exit ${r.exitCode})`) };
  });
  const allOutput = checkOut.map((c) => c.output).join('');
  const expect = expects.map((pattern, i) => ({ pattern, matched: regexps[i]!.test(allOutput) }));
  // Lines about the loaded modules too: their names as the kernel spells them, or with dashes.
  const names = idents.flatMap((m) => [m.name, m.name.replace(/_/g, '-')]).filter((n) => n.length > 2);
  const kernelMessages = parser.dmesg.filter((l) => INTERESTING.test(l) || TROUBLE.test(l) || names.some((n) => l.includes(n)));

  const ok = error === null
    && modules.every((m) => m.error === null)
    && checkOut.every((c) => c.exitCode === 0)
    && afterOut.every((c) => c.exitCode === 0)
    && disabled.every((d) => d.ok)
    && expect.every((e) => e.matched);

  let logPath: string | null = null;
  if (o.log !== undefined) {
    logPath = resolve(o.log);
    await fs.mkdir(dirname(logPath), { recursive: true });
    await writeFileAtomic(logPath, log.toString());
  } else if (!ok) {
    const dir = await fs.mkdtemp(join(tmpdir(), 'kelp-target-log-'));
    logPath = join(dir, 'console.log');
    await fs.writeFile(logPath, log.toString());
  }

  return {
    ok,
    kernel,
    completed: parser.done,
    timedOut: q.timedOut,
    error,
    modules,
    checks: checkOut,
    disabled,
    checksAfterDisable: afterOut,
    expect,
    kernelMessages,
    taint: parser.taint ?? null,
    bootTime: parser.bootSeenAt === undefined ? null : round(parser.bootSeenAt / 1000),
    guestBootTime: parser.bootUptime ?? null,
    totalTime: round((Date.now() - started) / 1000),
    pvh: boot.pvh,
    log: logPath,
  };
}

function round(s: number): number {
  return Math.round(s * 100) / 100;
}
