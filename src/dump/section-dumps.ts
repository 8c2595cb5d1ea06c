/** readelf -x and -p: hex and string dumps of sections picked by number or name. */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { parseSectionRequest } from './options.js';
import { hex, utf8Length } from './format.js';
import { decompressedContents } from './decompress.js';
import { applyRelocations } from './relocated-dump.js';

const SHT_NOBITS = 8;
const SHT_RELA = 4;
const SHT_REL = 9;

const HEX = 1;
const STR = 2;
const RELOC = 4;

/** The -x/-p/-R requests by section index (readelf's dump_sects), made when the file is opened. */
export type DumpPlan = Map<number, number>;

/**
 * Resolves the -x/-p/-R requests against the file's sections. A name that
 * matches nothing is a warning now, as readelf gives it before any output.
 */
export function planSectionDumps(ctx: DumpContext): DumpPlan {
  const { elf, opts } = ctx;
  const want: DumpPlan = new Map();
  if (opts.hexDumps.length + opts.stringDumps.length + opts.relocatedDumps.length === 0) return want;
  const add = (req: string, bit: number): void => {
    const r = parseSectionRequest(req);
    if ('index' in r) {
      want.set(r.index, (want.get(r.index) ?? 0) | bit);
      return;
    }
    let hit = false;
    for (const s of elf.sections) {
      if (ctx.rawSectionName(s) === r.name) {
        want.set(s.index, (want.get(s.index) ?? 0) | bit);
        hit = true;
      }
    }
    if (!hit) ctx.session.warn(`Section '${r.name}' was not dumped because it does not exist\n`);
  };
  let requests = opts.sectionRequests;
  if (requests.length !== opts.hexDumps.length + opts.stringDumps.length + opts.relocatedDumps.length) {
    requests = [...opts.hexDumps.map((arg) => ({ kind: 'x' as const, arg })), ...opts.stringDumps.map((arg) => ({ kind: 'p' as const, arg })),
      ...opts.relocatedDumps.map((arg) => ({ kind: 'R' as const, arg }))];
  }
  // readelf keeps its requests in a list it prepends to: the last one given is looked up first.
  for (let i = requests.length - 1; i >= 0; i--) add(requests[i].arg, requests[i].kind === 'x' ? HEX : requests[i].kind === 'p' ? STR : RELOC);
  return want;
}

/** Prints the planned dumps in section order; false when a section number named no section (readelf's exit status 1). */
export function printSectionDumps(ctx: DumpContext, want: DumpPlan): boolean {
  const shnum = ctx.elf.sections.length;
  let ok = true;
  const indices = [...want.keys()].sort((a, b) => a - b);
  for (const i of indices) {
    if (i >= shnum) continue;
    const s = ctx.elf.sections[i];
    const bits = want.get(i)!;
    if (bits & HEX) hexDump(ctx, s, false);
    if (bits & RELOC) hexDump(ctx, s, true);
    if (bits & STR) stringDump(ctx, s);
  }
  for (const i of indices) {
    if (i < shnum) continue;
    ctx.session.warn(`Section ${i} was not dumped because it does not exist!\n`);
    ok = false;
  }
  return ok;
}

function contents(ctx: DumpContext, s: SectionHeader): Buffer | undefined {
  if (s.sh_size === 0 || s.sh_type === SHT_NOBITS) {
    ctx.out.w(`Section '${ctx.sectionName(s)}' has no data to dump.\n`);
    return undefined;
  }
  ctx.needSection(s);
  const data = ctx.elf.sectionData(s);
  return ctx.opts.decompress ? decompressedContents(ctx, s, data) : data;
}

function hasRelocations(ctx: DumpContext, s: SectionHeader): boolean {
  const shnum = ctx.elf.sections.length;
  for (const r of ctx.elf.sections) {
    if ((r.sh_type === SHT_RELA || r.sh_type === SHT_REL) && r.sh_info < shnum && r.sh_info === s.index && r.sh_size !== 0 && r.sh_link < shnum) return true;
  }
  return false;
}

function hexDump(ctx: DumpContext, s: SectionHeader, relocated: boolean): void {
  let data = contents(ctx, s);
  if (!data) return;
  const out = ctx.out;
  out.w(`\nHex dump of section '${ctx.sectionName(s)}':\n`);
  if (relocated) data = applyRelocations(ctx, s, data);
  else if (hasRelocations(ctx, s)) out.w(' NOTE: This section has relocations against it, but these have NOT been applied to this dump.\n');
  let addr = s.sh_addr;
  const lines: string[] = [];
  for (let p = 0; p < data.length; p += 16) {
    const n = Math.min(16, data.length - p);
    let line = `  0x${hex(addr, 8)} `;
    for (let j = 0; j < 16; j++) {
      line += j < n ? hex(data[p + j], 2) : '  ';
      if ((j & 3) === 3) line += ' ';
    }
    for (let j = 0; j < n; j++) {
      const c = data[p + j];
      line += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    }
    lines.push(line + '\n');
    if (lines.length >= 4096) {
      out.w(lines.join(''));
      lines.length = 0;
    }
    addr = (addr + 16n) & 0xffffffffffffffffn;
  }
  lines.push('\n');
  out.w(lines.join(''));
}

function isPrint(c: number): boolean {
  return c >= 0x20 && c < 0x7f;
}

function stringDump(ctx: DumpContext, s: SectionHeader): void {
  const data = contents(ctx, s);
  if (!data) return;
  const out = ctx.out;
  out.w(`\nString dump of section '${ctx.sectionName(s)}':\n`);
  if (hasRelocations(ctx, s)) out.w('  Note: This section has relocations against it, but these have NOT been applied to this dump.\n');
  const text = data.toString('latin1');
  const end = text.length;
  const parts: string[] = [];
  let shown = false;
  let continuing = false;
  let d = 0;
  while (d < end) {
    while (!isPrint(text.charCodeAt(d))) if (++d >= end) break;
    if (d >= end) break;
    let line = continuing ? '            ' : `  [${hex(d, 0).padStart(6, ' ')}]  `;
    continuing = false;
    let maxlen = end - d;
    let c = 0;
    while (maxlen > 0) {
      // Past the end is the NUL readelf's copy of the section ends with.
      c = d < end ? text.charCodeAt(d) : 0;
      d++;
      if (c === 0) break;
      if (c === 0x0a) {
        line += '\\n\n';
        if (d < end && text.charCodeAt(d) !== 0) continuing = true;
        break;
      }
      if (c < 0x20 || c === 0x7f) line += '^' + String.fromCharCode(c + 0x40);
      else if (c < 0x7f) line += text[d - 1];
      else {
        line += text[d - 1];
        if (ctx.utf8) {
          const len = utf8Length(text, d - 1, end);
          if (len > 0) d += len - 1;
        }
      }
      maxlen--;
    }
    if (c !== 0x0a) line += '\n';
    parts.push(line);
    shown = true;
    if (parts.length >= 4096) {
      out.w(parts.join(''));
      parts.length = 0;
    }
  }
  if (!shown) parts.push('  No strings found in this section.');
  parts.push('\n');
  out.w(parts.join(''));
}
