/**
 * Test harness for bin/kelpctl: builds real ELF objects carrying a `.modinfo`
 * section, lays out a scratch tree standing in for /sys, /proc, /var/lib/kelp
 * and /etc, and runs kelpctl under a chosen shell with the KELPCTL_* overrides.
 * The insmod/rmmod stand-ins are small shell scripts that create and remove
 * the sysfs entries the kernel would; kelpctl itself runs unmodified.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const KELPCTL = path.join(REPO, 'bin/kelpctl');

/** The shells kelpctl must run under, as argv prefixes. */
export const SHELLS: Array<{ name: string; argv: string[] }> = [
  { name: 'busybox ash', argv: ['busybox', 'ash'] },
  { name: 'dash', argv: ['dash'] },
  { name: 'bash', argv: ['bash', '--posix'] },
];

export const RUNNING_RELEASE = os.release();

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure the commands exist, installing their Debian packages when
 * running as root. A missing prerequisite is an error, never a skip.
 */
export function ensureCommands(wanted: Record<string, string>): void {
  const missing = Object.entries(wanted).filter(([cmd]) => !haveCommand(cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  if (isRoot()) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, encoding: 'utf8' });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, encoding: 'utf8' });
    }
  }
  const still = missing.filter(([cmd]) => !haveCommand(cmd)).map(([cmd]) => cmd);
  if (still.length > 0) {
    throw new Error(`missing prerequisites ${still.join(', ')} (Debian packages: ${pkgs.join(' ')}); install them as root`);
  }
}

export interface ModuleSpec {
  /** modinfo strings, e.g. ['livepatch=Y', 'name=lp_a', 'vermagic=...']. */
  modinfo: string[];
  /** extra (empty) sections to create, e.g. '.klp.rela.vmlinux..text'. */
  sections?: string[];
}

function cString(s: string): string {
  return JSON.stringify(s);
}

/** Compiles a relocatable ELF object with the given .modinfo strings. */
export function buildModule(dir: string, file: string, spec: ModuleSpec): string {
  const src = path.join(dir, `${file}.c`);
  const lines: string[] = [];
  spec.modinfo.forEach((s, i) => {
    lines.push(`__attribute__((section(".modinfo"), used, aligned(1))) static const char mi${i}[] = ${cString(s)};`);
  });
  (spec.sections ?? []).forEach((s, i) => {
    lines.push(`__attribute__((section(${cString(s)}), used)) static const char sec${i}[8] = "rela";`);
  });
  lines.push('int kelpctl_test_fn(int x) { return x + 1; }');
  fs.writeFileSync(src, lines.join('\n') + '\n');
  const out = path.join(dir, file);
  const r = spawnSync('gcc', ['-c', '-O1', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return out;
}

export function vermagic(release: string): string {
  return `vermagic=${release} SMP preempt mod_unload modversions `;
}

/** The insmod stand-in finds the module's name= with objcopy, independently of kelpctl. */
const FAKE_INSMOD = `#!/bin/sh
# Stand-in for insmod: does what the kernel's livepatch core shows in sysfs.
#   FAKE_FLIP_AFTER  seconds until transition reads 0 (default 1; "never" to stall)
#   FAKE_INSMOD_FAIL set to make it fail
#   FAKE_NO_SIGNAL   set for a kernel without the signal file (Linux 5.1 and later)
echo "insmod $*" >>"$FAKE_LOG"
[ -z "\${FAKE_INSMOD_FAIL:-}" ] || { echo "insmod: fake failure" >&2; exit 1; }
objcopy -O binary --only-section=.modinfo "$1" "$FAKE_LOG.modinfo" || exit 1
name=$(tr '\\0' '\\n' <"$FAKE_LOG.modinfo" | sed -n 's/^name=//p')
lp=$KELPCTL_SYSFS/kernel/livepatch/$name
mkdir -p "$lp/vmlinux/cmdline_proc_show,1" "$lp/vmlinux/version_proc_show,1" "$KELPCTL_SYSFS/module/$name"
echo 1 >"$lp/enabled"
echo 1 >"$lp/transition"
echo 0 >"$lp/force"
[ -n "\${FAKE_NO_SIGNAL:-}" ] || : >"$lp/signal"
echo 1 >"$lp/replace"
echo OEK >"$KELPCTL_SYSFS/module/$name/taint"
after=\${FAKE_FLIP_AFTER:-1}
if [ "$after" != never ]; then
  ( sleep "$after"; echo 0 >"$lp/transition" ) </dev/null >/dev/null 2>&1 &
fi
exit 0
`;

const FAKE_RMMOD = `#!/bin/sh
echo "rmmod $*" >>"$FAKE_LOG"
[ -d "$KELPCTL_SYSFS/module/$1" ] || { echo "rmmod: $1: not loaded" >&2; exit 1; }
[ ! -d "$KELPCTL_SYSFS/kernel/livepatch/$1" ] || { echo "rmmod: $1: in use" >&2; exit 1; }
rm -rf "$KELPCTL_SYSFS/module/$1"
`;

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A scratch system: sysfs, procfs, state and etc roots plus fake insmod/rmmod. */
export class FakeSystem {
  readonly root: string;
  readonly sysfs: string;
  readonly proc: string;
  readonly state: string;
  readonly etc: string;
  readonly lp: string;
  readonly log: string;
  readonly bin: string;

  constructor(opts: { livepatch?: boolean } = {}) {
    // A space in every path checks kelpctl's quoting.
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'kelpctl root-'));
    this.sysfs = path.join(this.root, 'sys');
    this.proc = path.join(this.root, 'proc');
    this.state = path.join(this.root, 'var/lib/kelp');
    this.etc = path.join(this.root, 'etc');
    this.lp = path.join(this.sysfs, 'kernel/livepatch');
    this.log = path.join(this.root, 'calls.log');
    this.bin = path.join(this.root, 'bin');
    fs.mkdirSync(path.join(this.sysfs, 'module'), { recursive: true });
    fs.mkdirSync(this.proc, { recursive: true });
    fs.mkdirSync(this.bin, { recursive: true });
    if (opts.livepatch !== false) fs.mkdirSync(this.lp, { recursive: true });
    fs.writeFileSync(path.join(this.bin, 'insmod'), FAKE_INSMOD, { mode: 0o755 });
    fs.writeFileSync(path.join(this.bin, 'rmmod'), FAKE_RMMOD, { mode: 0o755 });
    fs.writeFileSync(this.log, '');
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      LC_ALL: 'C',
      KELPCTL_SYSFS: this.sysfs,
      KELPCTL_PROC: this.proc,
      KELPCTL_STATE: this.state,
      KELPCTL_ETC: this.etc,
      KELPCTL_INSMOD: path.join(this.bin, 'insmod'),
      KELPCTL_RMMOD: path.join(this.bin, 'rmmod'),
      FAKE_LOG: this.log,
      ...extra,
    };
  }

  /** Runs kelpctl under a shell with this system's overrides. */
  run(shell: string[], args: string[], extraEnv: Record<string, string> = {}, prefix: string[] = [], script: string = KELPCTL): RunResult {
    const argv = [...prefix, ...shell, script, ...args];
    const t0 = Date.now();
    const r = spawnSync(argv[0], argv.slice(1), { env: this.env(extraEnv), encoding: 'utf8', timeout: 60000 });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
  }

  /**
   * Runs kelpctl like run(), without blocking: `onStdout` sees the output so
   * far each time more arrives, so a test can act when kelpctl reaches a step
   * (end a stalled transition once the stall was reported) instead of racing
   * it with a timer.
   */
  runAsync(shell: string[], args: string[], extraEnv: Record<string, string>, onStdout: (soFar: string) => void): Promise<RunResult> {
    const argv = [...shell, KELPCTL, ...args];
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { env: this.env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; onStdout(stdout); });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      child.on('error', reject);
      child.on('close', (code) => { clearTimeout(timer); resolve({ status: code ?? -1, stdout, stderr, ms: Date.now() - t0 }); });
    });
  }

  calls(): string[] {
    return fs.readFileSync(this.log, 'utf8').split('\n').filter((l) => l !== '');
  }

  /** Creates an applied patch directly in the fake sysfs. */
  addPatch(name: string, opts: { enabled?: 0 | 1; transition?: 0 | 1; objects?: Record<string, string[]> } = {}): string {
    const dir = path.join(this.lp, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'enabled'), `${opts.enabled ?? 1}\n`);
    fs.writeFileSync(path.join(dir, 'transition'), `${opts.transition ?? 0}\n`);
    fs.writeFileSync(path.join(dir, 'signal'), '');
    for (const [obj, funcs] of Object.entries(opts.objects ?? { vmlinux: ['cmdline_proc_show,1'] })) {
      for (const f of funcs) fs.mkdirSync(path.join(dir, obj, f), { recursive: true });
      fs.mkdirSync(path.join(dir, obj), { recursive: true });
    }
    this.addModule(name, 'OEK');
    return dir;
  }

  addModule(name: string, taint: string): void {
    const dir = path.join(this.sysfs, 'module', name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'taint'), `${taint}\n`);
  }

  /** Creates /proc/<pid>/task/<tid>/{patch_state,comm,stack} (tid defaults to pid). */
  addTask(pid: number, comm: string, patchState: number, stack?: string, tid: number = pid): void {
    const t = path.join(this.proc, String(pid), 'task', String(tid));
    fs.mkdirSync(t, { recursive: true });
    fs.writeFileSync(path.join(t, 'patch_state'), `${patchState}\n`);
    fs.writeFileSync(path.join(t, 'comm'), `${comm}\n`);
    if (stack !== undefined) fs.writeFileSync(path.join(t, 'stack'), stack);
  }

  read(rel: string): string {
    return fs.readFileSync(path.join(this.root, rel), 'utf8');
  }

  exists(rel: string): boolean {
    return fs.existsSync(path.join(this.root, rel));
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * A copy of kelpctl that any user can read and run (the checkout may sit in a
 * directory only root can enter, as `mktemp -d` makes them), for tests that run
 * it as another user. Returns the script's path and a cleanup function.
 */
export function publicKelpctl(): { script: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kelpctl-public-'));
  fs.chmodSync(dir, 0o755);
  const script = path.join(dir, 'kelpctl');
  fs.copyFileSync(KELPCTL, script);
  fs.chmodSync(script, 0o755);
  return { script, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
