/**
 * The `.gnu_debuglink` and `.gnu_debugaltlink` sections as readelf's -L
 * alone shows them (its debug dumps include the links: the separate file's
 * name, and its CRC or build ID). When readelf would find and load the
 * linked file (next to the file, in .debug/ or under /usr/lib/debug; readelf
 * 2.40 does not look it up by build ID here), or a section is damaged, kelp
 * refuses the file instead: it does not dump separate debug files.
 */
import { existsSync } from 'node:fs';
import type { SectionHeader } from '../../elf/reader.js';
import type { DumpContext } from './context.js';
import { DumpUnsupportedError } from './names.js';
import { candidates } from './process-links.js';

interface DebugLink { section: string; name: string; crc?: number; buildId?: Buffer }

function linkSections(ctx: DumpContext): SectionHeader[] {
  if (!ctx.hasNames) return [];
  return ctx.elf.sections.filter((s) => {
    const n = ctx.elf.sectionNameOrUndefined(s);
    return n === '.gnu_debuglink' || n === '.gnu_debugaltlink';
  });
}

function parse(ctx: DumpContext, s: SectionHeader): DebugLink {
  const section = ctx.elf.sectionNameOrUndefined(s)!;
  const bad = (why: string): never => { throw new DumpUnsupportedError(ctx.file, `-L alone on a ${section} section ${why}`); };
  if (!ctx.elf.hasValidData(s)) bad('outside the file');
  ctx.needSection(s);
  const data = ctx.elf.sectionData(s);
  const end = data.indexOf(0);
  if (end <= 0) bad('without a file name');
  const name = data.toString('latin1', 0, end);
  if (section === '.gnu_debugaltlink') {
    const buildId = data.subarray(end + 1);
    // readelf prints a build ID of 26 bytes or more over several lines (not reproduced).
    if (buildId.length === 0 || (buildId.length >= 26 && !ctx.wide)) bad(`with a build ID of ${buildId.length} bytes`);
    return { section, name, buildId };
  }
  const crcAt = (end + 1 + 3) & ~3;
  if (crcAt + 4 !== data.length) bad('with a missing CRC or bytes after it');
  return { section, name, crc: data.readUInt32LE(crcAt) };
}

/** Refuses the file (before anything of it is printed) where readelf would load a linked file or a link is damaged. */
export function checkDebugLinks(ctx: DumpContext): void {
  for (const s of linkSections(ctx)) {
    const link = parse(ctx, s);
    const found = candidates(ctx.file, link.name).find((p) => existsSync(p));
    if (found !== undefined) throw new DumpUnsupportedError(ctx.file, `-L alone: dumping the linked debug file ${found}`);
  }
}

/** readelf's display of each debug link section, in section order. */
export function printDebugLinks(ctx: DumpContext): void {
  for (const s of linkSections(ctx)) {
    const link = parse(ctx, s);
    let text = `Contents of the ${link.section} section:\n\n  Separate debug info file: ${link.name}\n`;
    if (link.buildId !== undefined) {
      text += `  Build-ID (0x${link.buildId.length.toString(16)} bytes):\n${[...link.buildId].map((b) => ` ${b.toString(16).padStart(2, '0')}`).join('')}\n`;
    } else {
      text += `  CRC value: ${link.crc === 0 ? '0' : `0x${link.crc!.toString(16)}`}\n`;
    }
    ctx.out.w(text + '\n');
  }
}
