/**
 * Boots a kernel and initramfs in qemu-system-x86_64 with the serial console on
 * stdout, streaming the console to a callback, and kills a run that outlives
 * its timeout.
 */
import { constants, promises as fs } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { TargetError } from './errors.js';
import { requireTool } from './tools.js';

export interface QemuOptions {
  kernel: string;
  initrd: string;
  /** Extra kernel command-line words, after the fixed ones. */
  append?: string;
  timeoutMs: number;
  kvm?: boolean;
  memory?: string;
  /** Receives console output as it arrives. */
  onConsole: (text: string) => void;
  /** Called after each chunk; returning true stops the VM (the init reported everything). */
  finished?: () => boolean;
}

export interface QemuResult {
  /** True when `finished` returned true and qemu was stopped for that reason. */
  stoppedWhenFinished: boolean;
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** The last lines qemu itself wrote on stderr. */
  stderr: string;
  elapsedMs: number;
}

/**
 * The fixed kernel command line of a target boot. no_timer_check: under
 * software emulation on a loaded host the IO-APIC timer test can miss its
 * ticks, and 6.1 then panics ("IO-APIC + timer doesn't work"; seen in a cold
 * fleet build at load 20 on 2 cores).
 */
export const BASE_APPEND = 'console=ttyS0 panic=-1 quiet no_timer_check';

/** Fails unless /dev/kvm can be opened for reading and writing and the CPU can virtualize. */
export async function requireKvm(): Promise<void> {
  try {
    await fs.access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    throw new TargetError('not usable (missing or no permission); run without --kvm for software emulation', '/dev/kvm');
  }
  // A /dev/kvm without hardware virtualization (e.g. inside a VM without nested
  // virtualization) opens fine but cannot run a guest.
  const cpuinfo = await fs.readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) {
    throw new TargetError('the CPU shows no hardware virtualization (vmx/svm); run without --kvm for software emulation', '/dev/kvm');
  }
}

/** The qemu command line for a run. */
export function qemuArgs(o: Pick<QemuOptions, 'kernel' | 'initrd' | 'append' | 'kvm' | 'memory'>): string[] {
  const append = o.append !== undefined && o.append.trim() !== '' ? `${BASE_APPEND} ${o.append.trim()}` : BASE_APPEND;
  return [
    '-nographic', '-no-reboot', '-m', o.memory ?? '512M', '-smp', '1',
    // No network card: saves the PXE option ROM's boot delay.
    '-nic', 'none',
    ...(o.kvm ? ['-accel', 'kvm'] : ['-accel', 'tcg']),
    '-kernel', o.kernel, '-initrd', o.initrd, '-append', append,
  ];
}

/** Runs qemu until it exits, the init is finished, or the timeout kills it. */
export async function runQemu(o: QemuOptions): Promise<QemuResult> {
  const qemu = requireTool('qemu-system-x86_64');
  if (o.kvm) await requireKvm();
  const started = Date.now();
  const child = execa(qemu, qemuArgs(o), {
    stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false, encoding: 'buffer',
    cleanup: true, forceKillAfterDelay: 2000,
  });
  let timedOut = false;
  let stopping = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.timeoutMs);
  const decoder = new StringDecoder('utf8');
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  child.stdout?.on('data', (d: Buffer) => {
    o.onConsole(decoder.write(d));
    if (!stopping && o.finished?.()) {
      // The guest said all it had to say. Stopping qemu here (rather than waiting
      // for the guest's poweroff) also avoids the kernel's power-down message
      // landing in the middle of console output still draining from the tty.
      stopping = true;
      child.kill('SIGTERM');
    }
  });
  const r = await child;
  clearTimeout(timer);
  const rest = decoder.end();
  if (rest !== '') o.onConsole(rest);
  return {
    stoppedWhenFinished: stopping,
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : undefined,
    signal: r.signal ?? undefined,
    timedOut,
    stderr: stderr.trim().split('\n').slice(-5).join('\n'),
    elapsedMs: Date.now() - started,
  };
}
