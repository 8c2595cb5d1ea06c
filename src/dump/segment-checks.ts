/**
 * readelf's checks on the program headers, made whether or not -l shows
 * them (readelf reads them for the dynamic section): a program header
 * offset without headers, LOAD segments whose file size exceeds their
 * memory size, a PHDR segment after a LOAD or outside every LOAD, and the
 * dynamic segment (more than one, no .dynamic section in it, past the end
 * of the file, and with -L, not the same as the .dynamic section).
 */
import { ET_DYN, PT_DYNAMIC, PT_LOAD, PT_PHDR, SHT_NOBITS } from '../../elf/constants.js';
import type { ProgramHeader } from '../../elf/reader.js';
import type { DumpContext } from './context.js';

const EM_PARISC = 15;
const M64 = (1n << 64n) - 1n;

/**
 * readelf's attempt to read program headers it cannot read: its error (each
 * attempt gives it again) and true; false when the headers were read.
 */
export function programHeadersUnreadable(ctx: DumpContext): boolean {
  const why = ctx.elf.unreadableSegments;
  if (why === undefined) return false;
  if (why !== '') ctx.session.error(why);
  return true;
}

export function checkProgramHeaders(ctx: DumpContext): void {
  const { elf, session } = ctx;
  const segs = elf.segments;
  if (elf.unreadableSegments !== undefined) {
    // -l without -h first names the file type, which for ET_DYN looks for the dynamic segment (a first attempt).
    if (ctx.opts.programHeaders && !ctx.opts.fileHeader && elf.header.e_type === ET_DYN) programHeadersUnreadable(ctx);
    programHeadersUnreadable(ctx);
    return;
  }
  if (segs.length === 0) {
    if (elf.header.e_phoff !== 0) session.warn('possibly corrupt ELF header - it has a non-zero program header offset, but no program headers\n');
    return;
  }
  let previousLoad: ProgramHeader | undefined;
  let dynamicSeen = false;
  for (const p of segs) {
    if (p.p_type === PT_LOAD) {
      if (p.p_memsz < p.p_filesz) session.error("the segment's file size is larger than its memory size\n");
      previousLoad = p;
    } else if (p.p_type === PT_PHDR) {
      if (p.index > 0 && previousLoad !== undefined) session.error('the PHDR segment must occur before any LOAD segment\n');
      if (ctx.machine !== EM_PARISC && !segs.some((l) => l.index > 0 && coversPhdr(l, p))) {
        session.error('the PHDR segment is not covered by a LOAD segment\n');
      }
    } else if (p.p_type === PT_DYNAMIC) {
      if (dynamicSeen) session.error('more than one dynamic segment\n');
      dynamicSeen = true;
      checkDynamicSegment(ctx, p);
    }
  }
}

/** readelf's test that a LOAD segment holds the program headers (sums in 64 bits, as C's unsigned arithmetic). */
function coversPhdr(l: ProgramHeader, p: ProgramHeader): boolean {
  return l.p_type === PT_LOAD && l.p_offset <= p.p_offset && ((l.p_offset + l.p_filesz) & M64) >= ((p.p_offset + p.p_filesz) & M64)
    && l.p_vaddr <= p.p_vaddr && ((l.p_vaddr + l.p_filesz) & M64) >= ((p.p_vaddr + p.p_filesz) & M64);
}

function checkDynamicSegment(ctx: DumpContext, p: ProgramHeader): void {
  const { elf, session } = ctx;
  let addr = p.p_offset;
  let size = p.p_filesz;
  if (elf.sections.length > 0) {
    const sec = dynamicSection(ctx);
    if (sec === undefined || sec.sh_size === 0) {
      session.error('no .dynamic section in the dynamic segment\n');
      return;
    }
    if (sec.sh_type === SHT_NOBITS) return;
    addr = BigInt(sec.sh_offset);
    size = BigInt(sec.sh_size);
    if (ctx.opts.lint && (addr !== p.p_offset || size !== p.p_filesz)) session.warn('the .dynamic section is not the same as the dynamic segment\n');
  }
  const len = BigInt(ctx.fileSize);
  if (addr > len || size > len - addr) session.error('the dynamic segment offset + size exceeds the size of the file\n');
}

/** The section readelf takes for the dynamic section: the first named `.dynamic`. */
export function dynamicSection(ctx: DumpContext) {
  if (!ctx.hasNames) return undefined;
  return ctx.elf.sections.find((s) => ctx.elf.sectionNameOrUndefined(s) === '.dynamic');
}
