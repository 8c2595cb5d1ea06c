/**
 * Interrupts of a fleet build: SIGINT, SIGTERM and SIGHUP are passed on to
 * the running release builds (each restores its own tree, see
 * src/build/interrupt.ts), no further release is started, and the fleet ends
 * with ExitCode.Interrupted/Terminated once they have stopped.
 */
import type { ChildProcess } from 'node:child_process';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class FleetSignals {
  /** The signal that arrived, if one did. */
  signal: NodeJS.Signals | null = null;
  private readonly running = new Set<ChildProcess>();

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.signal !== null) return;
    this.signal = sig;
    for (const c of this.running) c.kill(sig);
  };

  constructor(private readonly say: (l: string) => void) {}

  install(): void {
    for (const s of SIGNALS) process.on(s, this.onSignal);
  }

  uninstall(): void {
    for (const s of SIGNALS) process.off(s, this.onSignal);
  }

  /** Tracks a release's process until it exits (stopped at once when a signal already came). */
  track(child: ChildProcess): void {
    this.running.add(child);
    child.on('close', () => this.running.delete(child));
    if (this.signal !== null) child.kill(this.signal);
  }

  /** True when no further release should start. */
  stopped(release: string): boolean {
    if (this.signal === null) return false;
    this.say(`${release}: not started (${this.signal})`);
    return true;
  }
}
