/**
 * Typed errors. Every error that reaches the user carries the file it is about
 * and prints as one line: `kelp: <file>: <what is wrong>`.
 */

/** Base of every error kelp reports to the user (never a stack trace). */
export class KelpError extends Error {
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  /** The process exit code this error maps to. */
  readonly exitCode: number;

  constructor(message: string, file?: string, exitCode = 1) {
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

/** A malformed or unsupported ELF file: names the structure and the file offset. */
export class ElfFormatError extends KelpError {
  readonly structure: string;
  readonly offset: number | undefined;

  constructor(file: string, structure: string, message: string, offset?: number) {
    super(offset === undefined ? `${structure}: ${message}` : `${structure} at offset 0x${offset.toString(16)}: ${message}`, file);
    this.structure = structure;
    this.offset = offset;
  }
}
