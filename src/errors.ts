/**
 * Outcomes and errors of kelp's commands. Every error that reaches the user
 * carries the file it is about and prints as one line: `kelp: <file>: <what is
 * wrong>`; the process exit code says which kind of outcome it was.
 *
 * The format layers (elf/, rela/) know nothing of processes: they throw their
 * own errors (ElfFormatError, ElfWriteError), which `asKelpError` maps to BadInput.
 */
import { ElfError } from '../elf/errors.js';

/** The process exit codes of `kelp` (kelpctl has its own, EX_* in templates/). */
export const ExitCode = {
  /** Done: written, accepted, verified. */
  Ok: 0,
  /** Bad input or a failed step (unreadable file, build failure, problems found by check). */
  BadInput: 1,
  /** The change cannot be live-patched (every refusal is listed). */
  Refused: 2,
  /** The patch changes no function (only comments, line numbers or unused code). */
  NoChange: 3,
  /** The module was built but failed verification in the target. */
  VerifyFailed: 4,
  /** `kelp target run`: the target itself failed (no boot, crash, killed at --timeout). */
  TargetFailed: 2,
  /** A bug in kelp (an error that is not a KelpError). */
  Internal: 70,
  /** Stopped by SIGINT (Ctrl-C). */
  Interrupted: 130,
  /** Stopped by SIGTERM or SIGHUP. */
  Terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for a run stopped by a signal. */
export function signalExitCode(sig: NodeJS.Signals): ExitCode {
  return sig === 'SIGINT' ? ExitCode.Interrupted : ExitCode.Terminated;
}

/** True for the exit codes of a run stopped by a signal. */
export function isInterruption(code: number): boolean {
  return code === ExitCode.Interrupted || code === ExitCode.Terminated;
}

/** Base of every error kelp reports to the user (never a stack trace). */
export class KelpError extends Error {
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  /** The process exit code this error maps to. */
  readonly exitCode: number;

  constructor(message: string, file?: string, exitCode: number = ExitCode.BadInput) {
    super(message);
    this.name = new.target.name;
    this.file = file;
    this.exitCode = exitCode;
  }

  /** The one line shown to the user, without the `kelp: ` prefix. */
  describe(): string {
    return this.file === undefined ? this.message : `${this.file}: ${this.message}`;
  }
}

/** The user-facing form of an error: a KelpError as it is, a format error as bad input; undefined for anything else (a bug). */
export function asKelpError(e: unknown): KelpError | undefined {
  if (e instanceof KelpError) return e;
  if (e instanceof ElfError) return new KelpError(e.message, e.file, ExitCode.BadInput);
  return undefined;
}
