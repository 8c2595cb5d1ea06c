/**
 * Interrupts of `kelp build`: SIGINT, SIGTERM and SIGHUP stop the running
 * make and diff workers, restore the tree the guard protects and end the
 * build with ExitCode.Interrupted/Terminated and one line saying nothing was
 * written. Should the pipeline not unwind (a hung tool), the tree is restored
 * and the process leaves anyway after 20 s; at process exit the tree is
 * restored too.
 */
import { isInterruption, KelpError, signalExitCode } from '../errors.js';
import type { TreeGuard } from './guard.js';
import { Children } from './kbuild.js';
import type { Progress } from './progress.js';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class Interrupts {
  /** The signal that arrived, if one did. */
  private signal: NodeJS.Signals | null = null;
  /** The processes the build runs (make), stopped on a signal. */
  readonly children = new Children();
  /** The tree guard while the tree may be patched (restored on a signal and at exit). */
  guard: TreeGuard | null = null;
  /** Stops the running diff workers, while they run. */
  stopDiffs: (() => Promise<void>) | null = null;

  constructor(private readonly progress: Progress) {}

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.signal !== null) return;
    this.signal = sig;
    this.progress.say(`${sig}: stopping the build and restoring the tree`);
    void this.children.stopAll();
    if (this.stopDiffs) void this.stopDiffs();
    setTimeout(() => {
      try { this.guard?.restore(); } catch { /* the journal stays for the next run */ }
      process.exit(signalExitCode(sig));
    }, 20_000).unref();
  };

  private readonly onExit = (): void => {
    try { this.guard?.restore(); } catch { /* journal kept */ }
  };

  install(): void {
    for (const s of SIGNALS) process.on(s, this.onSignal);
    process.on('exit', this.onExit);
  }

  uninstall(): void {
    for (const s of SIGNALS) process.off(s, this.onSignal);
    process.off('exit', this.onExit);
  }

  /** Throws the interruption error if a signal arrived. */
  check(where: string | undefined): void {
    if (this.signal !== null) throw this.error(where);
  }

  /** The error a failed build ends with: once a signal arrived, the interruption (whatever failed on the way down). */
  outcome(e: unknown, where: string | undefined): unknown {
    if (this.signal !== null && !(e instanceof KelpError && isInterruption(e.exitCode))) return this.error(where);
    return e;
  }

  /** Restores the tree (if the guard still holds it) and forgets the guard. */
  restoreTree(): void {
    this.guard?.restore();
    this.guard = null;
  }

  private error(where: string | undefined): KelpError {
    return new KelpError(`interrupted (${this.signal}); nothing was written and the tree is as it was`, where, signalExitCode(this.signal!));
  }
}
