/**
 * The one make runner: make in its own process group (an interrupt stops gcc
 * too, see Children), its output collected (the last MiB), and the summary of
 * a failed build shown to the user (compiler and modpost errors first).
 */
import { StringDecoder } from 'node:string_decoder';
import { spawn, type ChildProcess } from 'node:child_process';
import { ExitCode, KelpError } from '../errors.js';
import { makeInvocation } from './toolchain.js';

/** The processes kelp runs (make), so an interrupt can stop them all. */
export class Children {
  private readonly running = new Set<ChildProcess>();
  stopping = false;

  add(c: ChildProcess): void {
    this.running.add(c);
    c.once('exit', () => this.running.delete(c));
  }

  /** Stops every child's process group (TERM, then KILL); resolves when all have exited. */
  async stopAll(graceMs = 1500): Promise<void> {
    this.stopping = true;
    const list = [...this.running];
    const exited = list.map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null || c.signalCode !== null) res();
      else c.once('exit', () => res());
    }));
    const signal = (sig: NodeJS.Signals) => {
      for (const c of list) {
        if (c.pid === undefined) continue;
        try { process.kill(-c.pid, sig); } catch { /* already gone */ }
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await Promise.all(exited);
    clearTimeout(timer);
    // Grandchildren that ignored TERM (none should) get KILL.
    signal('SIGKILL');
  }
}

export interface MakeResult { exitCode: number | null; signal: NodeJS.Signals | null; output: string }

/** Runs make in its own process group (so an interrupt stops gcc too), collecting its output. */
export function runMake(
  args: string[],
  opts: {
    cwd: string; children?: Children;
    /** The variables the build needs (inside a build root, the only environment besides PATH). */
    vars: Record<string, string>;
    /** The whole environment when make runs directly on the host (default: the host's with `vars`). */
    hostEnv?: NodeJS.ProcessEnv;
    log?: (line: string) => void; onSpawn?: (pid: number) => void;
  },
): Promise<MakeResult> {
  return new Promise((res, rej) => {
    if (opts.children?.stopping) {
      rej(new KelpError('interrupted', opts.cwd, ExitCode.Interrupted));
      return;
    }
    // Directly, or inside the target's build root (the kernel's own compiler; kernel/toolchain.ts).
    const run = makeInvocation(args, opts.cwd, opts.vars);
    const env = run.file === 'make' && opts.hostEnv !== undefined ? opts.hostEnv : run.env;
    const child = spawn(run.file, run.args, { cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    opts.children?.add(child);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const chunks: string[] = [];
    let size = 0;
    // UTF-8, as gcc writes its quotes in a UTF-8 locale; a character split across two chunks is kept whole.
    const keeper = () => {
      const decoder = new StringDecoder('utf8');
      return (d: Buffer) => keep(decoder.write(d));
    };
    const keep = (s: string) => {
      if (opts.log) for (const l of s.split('\n')) if (l !== '') opts.log(l);
      chunks.push(s);
      size += s.length;
      while (size > (1 << 20) && chunks.length > 1) size -= chunks.shift()!.length;
    };
    child.stdout!.on('data', keeper());
    child.stderr!.on('data', keeper());
    child.on('error', (e) => rej(new KelpError(`cannot run make: ${e.message}`, opts.cwd)));
    child.on('close', (code, sig) => res({ exitCode: code, signal: sig, output: chunks.join('') }));
  });
}

/** The lines of make's output worth showing when a build fails (compiler errors first). */
export function makeFailure(output: string): string {
  const lines = output.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const errors = lines.filter((l) => /\berror\b|Error \d|No rule to make target|ERROR:|undefined!/.test(l));
  const pick = (errors.length > 0 ? errors : lines).slice(0, 3);
  return pick.join(' / ') || 'make failed';
}

