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
import { DumpUnsupportedError } from './names.js';
import { checkDebugLinks, printDebugLinks } from './debug-links.js';
import type { DumpOptions } from './options.js';
import { localeIsUtf8 } from './format.js';
import { printFileHeader } from './file-header.js';
import { printSectionHeaders } from './section-headers.js';
import { printSectionGroups } from './groups.js';
import { printProgramHeaders } from './program-headers.js';
import { printRelocations } from './relocations.js';
import { printSymbols } from './symbols.js';
import { planSectionDumps, printSectionDumps } from './section-dumps.js';
import { checkSectionHeaders } from './section-checks.js';
import { checkProgramHeaders } from './segment-checks.js';
import { optionsWithoutSections, reportUnreadableSections } from './unreadable-sections.js';
import { checkProcessLinks } from './process-links.js';
import { printNotes } from './notes.js';
import { ByteSource } from '../../elf/source.js';
import { archiveKind } from './archive.js';
import { dumpArchive } from './archive-dump.js';
import { printDynamicRelocations, printDynamicSymbols } from './use-dynamic.js';
import { printSectionDetails } from './section-details.js';
import { printDynamicSection } from './dynamic-section.js';
import { printVersionSections } from './version-sections.js';
import { printHistogram } from './histogram.js';
import { printArchSpecific, printUnwind } from './arch-specific.js';
import { statSync, type Stats } from 'node:fs';

export type { DumpOptions } from './options.js';
export { emptyOptions, hasDisplayOption, parseSectionRequest, setAll } from './options.js';

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

/**
 * Dumps one file already in memory. Throws a KelpError for a file kelp cannot
 * describe; returns readelf's messages for it (warnings and errors).
 */
export function dumpBuffer(buf: Buffer, file: string, opts: DumpOptions, out: Out, utf8: boolean, showName: boolean, session = new DumpSession()): string[] {
  const first = session.messages.length;
  dumpSource(ByteSource.whole(buf, file), file, opts, out, utf8, showName, session);
  return session.messages.slice(first);
}

/** Dumps one object; returns false where readelf's process_object fails (its exit status becomes 1). */
function dumpSource(src: ByteSource, file: string, opts: DumpOptions, out: Out, utf8: boolean, showName: boolean, session: DumpSession): boolean {
  const size = src.buf.length;
  // readelf reads e_ident, then the rest of a 32- or 64-bit header, before it looks at the magic bytes.
  if (size < 16) {
    session.error(`${file}: Failed to read file header\n`);
    return false;
  }
  src.need(0, 16);
  if (size < (src.buf[4] === 2 ? 64 : 52)) {
    session.error(`${file}: Failed to read file header\n`);
    return false;
  }
  if (showName) out.w(`\nFile: ${file}\n`);
  if (src.buf.readUInt32BE(0) !== 0x7f454c46) {
    session.error('Not an ELF file - it has the wrong magic bytes at the start\n');
    return false;
  }
  const elf = ElfFile.parse(src, file, { readelf: true });
  const asked = opts;
  if (elf.unreadableSections) opts = optionsWithoutSections(opts);
  const ctx = new DumpContext(elf, file, opts, out, utf8, src, session);
  if (opts.checkAll) refuseDebugDumps(ctx);
  let ok = true;
  if (opts.processLinks) checkProcessLinks(ctx);
  if (opts.fileHeader) printFileHeader(ctx);
  let groups = opts.sectionGroups;
  if (elf.unreadableSections) {
    if (!reportUnreadableSections(ctx, asked)) groups = false;
  } else checkSectionHeaders(ctx);
  if (opts.sectionDetails) printSectionDetails(ctx, opts.fileHeader);
  else if (opts.sectionHeaders) printSectionHeaders(ctx, opts.fileHeader);
  if (groups) printSectionGroups(ctx);
  checkProgramHeaders(ctx);
  if (opts.programHeaders) printProgramHeaders(ctx, opts.fileHeader);
  if (opts.dynamic) printDynamicSection(ctx);
  if (opts.relocs) {
    if (opts.useDynamic) printDynamicRelocations(ctx);
    else printRelocations(ctx);
  }
  if (opts.unwind) printUnwind(ctx);
  if (opts.useDynamic && (opts.syms || opts.dynSyms)) printDynamicSymbols(ctx);
  else if (opts.syms || opts.dynSyms) printSymbols(ctx);
  if (opts.histogram) printHistogram(ctx);
  if (opts.versionInfo) printVersionSections(ctx);
  if (opts.checkAll) printDebugLinks(ctx);
  // readelf resolves -x/-p/-R names (and warns about missing ones) as it starts dumping sections.
  if (!printSectionDumps(ctx, planSectionDumps(ctx))) ok = false;
  if (opts.notes) printNotes(ctx);
  if (opts.archSpecific) printArchSpecific(ctx);
  return ok && !ctx.failed;
}

/**
 * readelf's -L alone also dumps the DWARF sections, the files debug links
 * name and LTO symbol tables, which kelp leaves to readelf (as -w): a file
 * with any is refused before anything of it is printed. A debug link whose
 * file is not there is shown (debug-links.ts).
 */
function refuseDebugDumps(ctx: DumpContext): void {
  for (const s of ctx.elf.sections) {
    const n = ctx.hasNames ? ctx.elf.sectionNameOrUndefined(s) : undefined;
    if (n !== undefined && /^(\.debug_|\.zdebug_|\.gnu\.linkonce\.wi\.|\.trace_|\.gnu\.lto_)/.test(n)) {
      throw new DumpUnsupportedError(ctx.file, `-L alone on a file with ${n} (readelf dumps it as -w would)`);
    }
  }
  checkDebugLinks(ctx);
}

/** Dumps every file in turn; returns the exit status (0 when every file was dumped without a problem). */
export function runDump(files: readonly string[], opts: DumpOptions, io: DumpIo): number {
  const utf8 = io.utf8 ?? localeIsUtf8();
  const out = new Out((chunk) => io.stdout(chunk));
  const session = new DumpSession((text) => {
    out.flush();
    io.stderr(text);
  });
  const sparseFrom = io.sparseFrom ?? 32 << 20;
  // readelf names each file when there are several, and every file after an archive.
  let showName = files.length > 1;
  const problem = (err: unknown): number => {
    out.flush();
    const k = asKelpError(err);
    if (k !== undefined) {
      io.stderr(`kelp: ${k.describe()}\n`);
      return k.exitCode || ExitCode.BadInput;
    }
    throw err;
  };
  const dumpOne = (src: ByteSource, name: string): number => {
    try {
      const ok = dumpSource(src, name, opts, out, utf8, showName, session);
      out.flush();
      return ok ? 0 : 1;
    } catch (err) {
      return problem(err);
    }
  };
  let status = 0;
  for (const file of files) {
    const why = unreadable(file);
    if (why !== undefined) {
      session.error(why);
      status = 1;
      continue;
    }
    let src: ByteSource;
    try {
      // Large files (the node binary is ~100 MB) are read on demand: peak memory follows what the options touch.
      src = ByteSource.open(file, sparseFrom);
    } catch {
      session.error(`Input file '${file}' is not readable.\n`);
      status = 1;
      continue;
    }
    try {
      if (src.buf.length < 8) {
        session.error(`${file}: Failed to read file's magic number\n`);
        status = 1;
        continue;
      }
      src.need(0, 8);
      const kind = archiveKind(src.buf);
      if (kind !== undefined) {
        showName = true;
        src.need(0, src.buf.length);
        try {
          status = Math.max(status, dumpArchive(src.buf, file, kind === 'thin', {
            out, opts, sparseFrom, member: dumpOne,
            problem: (line) => io.stderr(`kelp: ${line}\n`),
          }));
        } catch (err) {
          status = Math.max(status, problem(err));
        }
        continue;
      }
      if (opts.archiveIndex && !opts.checkAll) session.error(`File ${file} is not an archive so its index cannot be displayed.\n`);
      status = Math.max(status, dumpOne(src, file));
    } finally {
      src.close();
    }
  }
  out.flush();
  return status;
}

/** readelf's checks before it opens a file: the message when it cannot be dumped. */
function unreadable(file: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return `'${file}': No such file\n`;
    return `Could not locate '${file}'.  System error message: ${strerror(e)}\n`;
  }
  if (!st.isFile()) return `'${file}' is not an ordinary file\n`;
  return undefined;
}

/** The C library's strerror text for the errors stat can give. */
function strerror(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'EACCES': return 'Permission denied';
    case 'ENOTDIR': return 'Not a directory';
    case 'ELOOP': return 'Too many levels of symbolic links';
    case 'ENAMETOOLONG': return 'File name too long';
    case 'EIO': return 'Input/output error';
    default: return e.message;
  }
}
