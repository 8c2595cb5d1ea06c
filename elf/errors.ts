/**
 * The ELF layer's errors: a malformed or unsupported file it reads, an object
 * it cannot write. They name the file and print as one line; they carry no
 * process exit policy (src/errors.ts maps them to kelp's exit codes).
 */

/** Base of the ELF layer's errors: a problem with one file. */
export class ElfError extends Error {
  /** The file the problem is in. */
  readonly file: string;

  constructor(message: string, file: string) {
    super(message);
    this.name = new.target.name;
    this.file = file;
  }

  /** The one line shown to the user, without the `kelp: ` prefix. */
  describe(): string {
    return `${this.file}: ${this.message}`;
  }
}

/** A malformed or unsupported ELF file: names the structure and the file offset. */
export class ElfFormatError extends ElfError {
  readonly structure: string;
  readonly offset: number | undefined;

  constructor(file: string, structure: string, message: string, offset?: number) {
    super(offset === undefined ? `${structure}: ${message}` : `${structure} at offset 0x${offset.toString(16)}: ${message}`, file);
    this.structure = structure;
    this.offset = offset;
  }
}

/** An object the writer cannot lay out (an inconsistent model). */
export class ElfWriteError extends ElfError {}
