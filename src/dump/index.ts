/**
 * `kelp dump`: readelf-compatible output for one or more files. Each file is
 * parsed with the elf/ reader and printed in readelf's order (file header,
 * section headers, groups, program headers, relocations, symbols, section
 * dumps, notes). Output goes to `stdout` in large latin1 chunks; problems are
 * one line each on `stderr` and make the exit status non-zero.
 */
import { ElfFile } from '../../elf/reader.js';
import { asKelpError, ExitCode } from '../errors.js';
import { DumpContext, DumpSession, Out } from './context.js';
import type { DumpOptions } from './options.js';
import { localeIsUtf8 } from './format.js';
import { printFileHeader } from './file-header.js';
import { printSectionHeaders } from './section-headers.js';
import { printSectionGroups } from './groups.js';
import { printProgramHeaders } from './program-headers.js';
import { printRelocations } from './relocations.js';
import { printSymbols } from './symbols.js';
import { printSectionDumps } from './section-dumps.js';
import { printNotes } from './notes.js';
import { FileSource, preloadHeaders } from './source.js';
import { systemMessage } from '../util/system-error.js';

export type { DumpOptions } from './options.js';
export { emptyOptions, hasDisplayOption, parseSectionRequest } from './options.js';

export interface DumpIo {
  /** Receives stdout bytes in large chunks. */
  stdout(chunk: Buffer): void;
  /** Receives one complete line (with its newline) per problem. */
  stderr(line: string): void;
  /** Whether names are decoded as UTF-8 the way readelf does in a UTF-8 locale (default: from the environment). */
  utf8?: boolean;
  /** Files of at least this many bytes are read on demand instead of whole (default 32 MiB). */
  sparseFrom?: number;
}

/** Dumps one file already in memory. Throws a KelpError for a file kelp cannot describe; returns warnings. */
export function dumpBuffer(buf: Buffer, file: string, opts: DumpOptions, out: Out, utf8: boolean, showName: boolean, session = new DumpSession()): string[] {
  return dumpSource(FileSource.whole(buf), file, opts, out, utf8, showName, session);
}

function dumpSource(src: FileSource, file: string, opts: DumpOptions, out: Out, utf8: boolean, showName: boolean, session: DumpSession): string[] {
  preloadHeaders(src);
  const elf = ElfFile.parse(src.buf, file);
  const ctx = new DumpContext(elf, file, opts, out, utf8, src, session);
  if (showName) out.w(`\nFile: ${file}\n`);
  if (opts.fileHeader) printFileHeader(ctx);
  if (opts.sectionHeaders) printSectionHeaders(ctx, opts.fileHeader);
  if (opts.sectionGroups) printSectionGroups(ctx);
  if (opts.programHeaders) printProgramHeaders(ctx, opts.fileHeader);
  if (opts.relocs) printRelocations(ctx);
  if (opts.syms) printSymbols(ctx);
  let warnings: string[] = [];
  if (opts.hexDumps.length > 0 || opts.stringDumps.length > 0) warnings = printSectionDumps(ctx);
  if (opts.notes) printNotes(ctx);
  return warnings;
}

/** Dumps every file in turn; returns the exit status (0 when every file was dumped without a problem). */
export function runDump(files: readonly string[], opts: DumpOptions, io: DumpIo): number {
  const utf8 = io.utf8 ?? localeIsUtf8();
  const out = new Out((chunk) => io.stdout(chunk));
  const session = new DumpSession();
  let status = 0;
  for (const file of files) {
    let src: FileSource;
    try {
      src = FileSource.open(file, io.sparseFrom ?? 32 << 20);
    } catch (err) {
      io.stderr(`kelp: ${file}: ${systemMessage(err as NodeJS.ErrnoException)}\n`);
      status = 1;
      continue;
    }
    try {
      const warnings = dumpSource(src, file, opts, out, utf8, files.length > 1, session);
      out.flush();
      for (const w of warnings) io.stderr(`kelp: ${file}: ${w}\n`);
      if (warnings.length > 0) status = 1;
    } catch (err) {
      out.flush();
      const k = asKelpError(err);
      if (k !== undefined) {
        io.stderr(`kelp: ${k.describe()}\n`);
        status = Math.max(status, k.exitCode || ExitCode.BadInput);
      } else {
        throw err;
      }
    } finally {
      src.close();
    }
  }
  out.flush();
  return status;
}
