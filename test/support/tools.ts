/** Running the real binutils and gcc beside kelp in tests. */
import { execFileSync, spawnSync } from 'node:child_process';

/** Runs a tool and returns its stdout; throws with stderr when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'latin1', maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs a tool and returns stdout, stderr and status without throwing. */
export function runStatus(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'latin1', maxBuffer: 1 << 30 });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status ?? -1 };
}

/** Compiles C source to an object with gcc. */
export function compileC(src: string, out: string, flags: string[], cwd: string): void {
  run('gcc', [...flags, '-c', '-x', 'c', '-', '-o', out], { cwd, input: src });
}

/** Kernel-like code generation flags (as kbuild uses for x86-64 objects). */
export const KERNEL_CFLAGS = ['-O2', '-fno-pie', '-mcmodel=kernel', '-mno-red-zone', '-mfentry', '-pg', '-mrecord-mcount', '-ffunction-sections', '-fdata-sections'];
