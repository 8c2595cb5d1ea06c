/**
 * Dumping an archive as readelf does: with -c the symbol index, listed by
 * the member that defines each symbol, then (with any other display option)
 * every member in turn as an object named `lib.a(member.o)`.
 */
import { KelpError } from '../errors.js';
import { Archive, thinMemberPath } from './archive.js';
import type { Out } from './context.js';
import type { DumpOptions } from './options.js';
import { ByteSource } from '../../elf/source.js';

export interface ArchiveRun {
  readonly out: Out;
  readonly opts: DumpOptions;
  /** Reports one problem line (without the `kelp: ` prefix). */
  problem(line: string): void;
  /** Dumps one member; returns its exit status. */
  member(src: ByteSource, name: string): number;
  readonly sparseFrom: number;
}

/** True when options other than -c ask for something per object. */
function perObject(o: DumpOptions): boolean {
  return o.fileHeader || o.programHeaders || o.sectionHeaders || o.sectionGroups || o.syms || o.relocs || o.notes
    || o.dynamic || o.versionInfo || o.dynSyms || o.histogram || o.archSpecific || o.unwind
    || o.hexDumps.length > 0 || o.stringDumps.length > 0 || o.relocatedDumps.length > 0;
}

function printIndex(a: Archive, run: ArchiveRun): number {
  const { out } = run;
  if (!a.hasIndex) out.w(`${a.file} has no archive index\n`);
  const idx = a.index;
  if (!idx) {
    out.flush();
    run.problem(`${a.file}: unable to dump the index as none was found`);
    return 0;
  }
  const syms = idx.symbols;
  out.w(`Index of archive ${a.file}: (${idx.offsets.length} entries, 0x${syms.length.toString(16)} bytes in the symbol table)\n`);
  let l = 0;
  for (let i = 0; i < idx.offsets.length; i++) {
    if (i === 0 || idx.offsets[i] !== idx.offsets[i - 1]) {
      out.w(`Contents of binary ${a.qualifiedNameAt(idx.offsets[i])} at offset 0x${idx.offsets[i].toString(16)}\n`);
    }
    if (l >= syms.length) {
      out.flush();
      run.problem(`${a.file}: end of the symbol table reached before the end of the index`);
      return 1;
    }
    let nul = syms.indexOf(0, l);
    if (nul < 0) nul = syms.length;
    out.w(`\t${syms.toString('latin1', l, nul)}\n`);
    l = nul + 1;
  }
  l = idx.sym64 ? (l + 7) & ~7 : l + (l & 1);
  if (l < syms.length) {
    const n = syms.length - l;
    out.flush();
    run.problem(`${a.file}: ${n} ${n === 1 ? 'byte remains' : 'bytes remain'} in the symbol table, but without corresponding entries in the index table`);
    return 1;
  }
  return 0;
}

/** Dumps archive `file` (already read whole into `buf`); returns the exit status. */
export function dumpArchive(buf: Buffer, file: string, thin: boolean, run: ArchiveRun): number {
  const { opts } = run;
  const a = new Archive(buf, file, thin, opts.archiveIndex);
  let status = 0;
  if (opts.archiveIndex) {
    status = printIndex(a, run);
    if (!perObject(opts)) return status;
  }
  for (const m of a.members()) {
    if (!thin) {
      status = Math.max(status, run.member(ByteSource.whole(buf.subarray(m.offset), m.qualifiedName), m.qualifiedName));
      continue;
    }
    const path = thinMemberPath(file, m.name);
    let src: ByteSource;
    try {
      src = ByteSource.open(path, run.sparseFrom);
    } catch {
      throw new KelpError(`input file '${path}' is not readable`, file);
    }
    try {
      status = Math.max(status, run.member(src, m.qualifiedName));
    } finally {
      src.close();
    }
  }
  return status;
}
