/** readelf -s: every SHT_SYMTAB and SHT_DYNSYM table, with versions for dynamic symbols. */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { SYM_SIZE } from '../../elf/constants.js';
import { internalSectionIndex, sectionIndexName, symbolBindName, symbolTypeName, VISIBILITY, DumpUnsupportedError } from './names.js';
import { fmtSymbol, hex, padEnd, padStart, symbolSize } from './format.js';
import { VersionResolver, VersionKind } from './versions.js';

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_SECTION = 3;
const STB_LOCAL = 0;
const EM_MIPS = 8;
const ELFOSABI_SOLARIS = 6;

export function printSymbols(ctx: DumpContext): void {
  const { elf } = ctx;
  // readelf 2.40 does not look for symbols through the dynamic segment of a file without section headers.
  if (elf.sections.length === 0) {
    if (ctx.opts.syms) ctx.out.w('\nDynamic symbol information is not available for displaying symbols.\n');
    return;
  }
  // --dyn-syms alone shows only the SHT_DYNSYM tables.
  const symtabs = ctx.opts.syms;
  for (const s of elf.sections) {
    if ((s.sh_type === SHT_SYMTAB && symtabs) || s.sh_type === SHT_DYNSYM) printTable(ctx, s);
  }
}

/** Prints one symbol table; `title` replaces readelf's `Symbol table '<name>' contains N entries:` line. */
export function printTable(ctx: DumpContext, sec: SectionHeader, title?: string): void {
  const { elf, out, wide, utf8, machine, osabi, file } = ctx;
  const symBase = ctx.opts.symBase;
  ctx.needSymtab(sec.index);
  const table = elf.symbolTable(sec.index);
  const n = table.count;
  out.w((title ?? `\nSymbol table '${ctx.sectionName(sec)}' contains ${n} ${n === 1 ? 'entry' : 'entries'}:\n`)
    + '   Num:    Value          Size Type    Bind   Vis      Ndx Name\n');
  const buf = elf.buf;
  const strings = table.strings;
  const strStart = strings.offset;
  const strEnd = strings.offset + strings.size;
  const shnum = elf.sections.length;
  const versions = sec.sh_type === SHT_DYNSYM ? new VersionResolver(ctx) : undefined;
  const useVersions = versions !== undefined && versions.active;
  if (useVersions) versions!.prepare(n);
  const typeNames: (string | undefined)[] = new Array(16);
  const bindNames: (string | undefined)[] = new Array(16);
  const ndxCache = new Map<number, string>();
  let o = sec.sh_offset;
  for (let i = 0; i < n; i++, o += SYM_SIZE) {
    const st_name = buf.readUInt32LE(o);
    const info = buf[o + 4];
    const other = buf[o + 5];
    const rawNdx = buf.readUInt16LE(o + 6);
    const vlo = buf.readUInt32LE(o + 8);
    const vhi = buf.readUInt32LE(o + 12);
    const slo = buf.readUInt32LE(o + 16);
    const shi = buf.readUInt32LE(o + 20);
    const type = info & 0xf;
    const bind = info >> 4;
    let typeName = typeNames[type];
    if (typeName === undefined) typeName = typeNames[type] = padEnd(symbolTypeName(type, machine, osabi, file), 7);
    let bindName = bindNames[bind];
    if (bindName === undefined) bindName = bindNames[bind] = padEnd(symbolBindName(bind, machine, osabi, file), 6);
    const ndx = rawNdx < 0xff00 ? rawNdx : internalSectionIndex(rawNdx, () => table.extendedIndex(i), table.hasExtendedIndices);
    let ndxText = ndxCache.get(ndx);
    if (ndxText === undefined) {
      ndxText = padStart(sectionIndexName(ndx, shnum, machine, file), 4);
      if (ndxCache.size < 100000) ndxCache.set(ndx, ndxText);
    }
    const vis = other & 3;
    let visText = padEnd(VISIBILITY[vis], 7);
    if (other !== vis) {
      if (!ctx.isX86) throw new DumpUnsupportedError(file, `st_other 0x${other.toString(16)} of machine ${machine}`);
      visText += ` [<other>: ${(other ^ vis).toString(16)}] `;
    }
    let size: string;
    if (symBase === 0) {
      if (shi === 0 && slo < 100000) size = padStart(String(slo), 5);
      else size = '0x' + (shi === 0 ? slo.toString(16) : shi.toString(16) + hex(slo, 8));
    } else size = symbolSize((BigInt(shi) << 32n) | BigInt(slo), symBase);
    let name: string;
    if (type === STT_SECTION && st_name === 0 && ndx < shnum) {
      const target = elf.sections[ndx];
      name = ctx.hasNames && elf.sectionNameOrUndefined(target) !== undefined ? ctx.rawSectionName(target) : '<corrupt>';
    } else if (st_name < strings.size) {
      const start = strStart + st_name;
      let end = buf.indexOf(0, start);
      if (end < 0 || end > strEnd) end = strEnd;
      name = buf.toString('latin1', start, end);
    } else {
      name = '<corrupt>';
    }
    let suffix = '';
    let avail = 21;
    if (useVersions) {
      const v = versions!.lookup(i, st_name, ndx, strings);
      if (v !== undefined) {
        if (v.kind === VersionKind.Undefined) {
          suffix = `@${v.name} (${v.other})`;
          if (!wide) avail -= 1 + v.name.length + (` (${v.other})`).length;
        } else {
          suffix = (v.kind === VersionKind.Hidden ? '@' : '@@') + v.name;
          if (!wide) avail -= 1 + v.name.length + (v.kind === VersionKind.Hidden ? 0 : 1);
        }
      }
    }
    out.w(`${padStart(String(i), 6)}: ${hex(vhi, 8)}${hex(vlo, 8)} ${size} ${typeName} ${bindName} ${visText} ${ndxText} ${fmtSymbol(avail, name, wide, utf8, ctx.symStyle)}${suffix}\n`);
    // readelf's check that local symbols come first (MIPS and Solaris files are known to break it).
    if (bind === STB_LOCAL && i >= sec.sh_info && title === undefined && machine !== EM_MIPS && osabi !== ELFOSABI_SOLARIS) {
      ctx.session.warn(`local symbol ${i} found at index >= ${ctx.sectionName(sec)}'s sh_info value of ${sec.sh_info}\n`);
    }
  }
}

