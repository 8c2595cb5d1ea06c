/** readelf -r: REL and RELA sections (`.klp.rela.*` included), with symbol names and versions. */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import type { SymbolTable } from '../../elf/symbols.js';
import { knownRelocationName } from '../../rela/x86_64.js';
import { DumpUnsupportedError, internalSectionIndex } from './names.js';
import { fmtSymbol, hex, padEnd, spaces } from './format.js';
import { dynamicInfo, DT_PLTRELSZ, DT_RELASZ, DT_RELRSZ, DT_RELSZ } from './dynamic.js';
import { VersionResolver, VersionKind } from './versions.js';

const SHT_RELA = 4;
const SHT_REL = 9;
const SHT_RELR = 19;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_SECTION = 3;
const STT_GNU_IFUNC = 10;

export function printRelocations(ctx: DumpContext): void {
  const { elf, out } = ctx;
  let found = false;
  for (const s of elf.sections) {
    if (s.sh_type !== SHT_RELA && s.sh_type !== SHT_REL && s.sh_type !== SHT_RELR) continue;
    if (s.sh_size === 0) continue;
    if (!ctx.isX86) throw new DumpUnsupportedError(ctx.file, `relocations of machine ${ctx.machine}`);
    if (s.sh_type === SHT_RELR) {
      dumpRelr(ctx, s);
      found = true;
      continue;
    }
    ctx.needSection(s);
    const rels = elf.relocations(s);
    const title = ctx.hasNames ? `'${ctx.sectionName(s)}'` : String(s.sh_name);
    out.w(`\nRelocation section ${title} at offset 0x${s.sh_offset.toString(16)} contains ${rels.count} ${rels.count === 1 ? 'entry' : 'entries'}:\n`);
    let symtab: SymbolTable | undefined;
    if (s.sh_link !== 0 && s.sh_link < elf.sections.length) {
      const symsec = elf.sections[s.sh_link];
      if (symsec.sh_type !== SHT_SYMTAB && symsec.sh_type !== SHT_DYNSYM) continue;
      ctx.needSymtab(s.sh_link);
      symtab = elf.symbolTable(s.sh_link);
    }
    dumpRelocs(ctx, s, symtab);
    found = true;
  }
  if (!found) {
    const d = dynamicInfo(ctx);
    const dyn = d !== undefined && [DT_RELSZ, DT_RELASZ, DT_RELRSZ, DT_PLTRELSZ].some((t) => (d.last.get(t) ?? 0n) !== 0n);
    if (dyn) out.w('\nThere are no static relocations in this file.\nTo see the dynamic relocations add --use-dynamic to the command line.\n');
    else out.w('\nThere are no relocations in this file.\n');
  }
}

/** Prints the entries of a REL or RELA table (a section, or a dynamic table described as one). */
export function dumpRelocs(ctx: DumpContext, s: SectionHeader, symtab: SymbolTable | undefined): void {
  const { elf, out, wide, utf8, file } = ctx;
  const isRela = s.sh_type === SHT_RELA;
  if (wide) out.w(`    Offset             Info             Type               Symbol's Value  Symbol's Name${isRela ? ' + Addend' : ''}\n`);
  else out.w(`  Offset          Info           Type           Sym. Value    Sym. Name${isRela ? ' + Addend' : ''}\n`);
  const data = elf.sectionData(s);
  const ent = isRela ? 24 : 16;
  const count = Math.floor(data.length / ent);
  const isDyn = symtab !== undefined && symtab.section.sh_type === SHT_DYNSYM;
  const versions = isDyn ? new VersionResolver(ctx) : undefined;
  const useVersions = versions !== undefined && versions.active;
  if (useVersions && symtab) versions!.prepare(symtab.count);
  const shnum = elf.sections.length;
  const typeCache = new Map<number, string>();
  for (let i = 0; i < count; i++) {
    const o = i * ent;
    const offText = wide ? hex(data.readUInt32LE(o + 4), 8) + hex(data.readUInt32LE(o), 8) : hex(data.readBigUInt64LE(o), 12);
    const type = data.readUInt32LE(o + 8);
    const symIndex = data.readUInt32LE(o + 12);
    const infoText = wide ? hex(symIndex, 8) + hex(type, 8) : hex(data.readBigUInt64LE(o + 8), 12);
    let typeText = typeCache.get(type);
    if (typeText === undefined) {
      const name = knownRelocationName(type);
      if (name === undefined) typeText = `unrecognized: ${padEnd(type.toString(16), 7)}`;
      else typeText = wide ? padEnd(name, 22) : padEnd(name, 17).slice(0, 17);
      typeCache.set(type, typeText);
    }
    let line = `${offText}  ${infoText} ${typeText}`;
    const addend = isRela ? data.readBigInt64LE(o + 16) : 0n;
    if (symIndex !== 0) {
      if (symtab === undefined || symIndex >= symtab.count) {
        // readelf ends the line there (its exit status stays 0).
        ctx.session.error(` bad symbol index: ${symIndex.toString(16).padStart(8, '0')} in reloc\n`);
        out.w(line + '\n');
        continue;
      }
      const stName = symtab.nameOffset(symIndex);
      const stType = symtab.type(symIndex);
      const raw = symtab.shndx(symIndex);
      const ndx = internalSectionIndex(raw, () => symtab!.extendedIndex(symIndex), symtab.hasExtendedIndices);
      const v = useVersions ? versions!.lookup(symIndex, stName, ndx, symtab.strings) : undefined;
      const verText = v === undefined ? '' : (v.kind === VersionKind.Public ? '@@' : '@') + v.name;
      line += ' ';
      if (stType === STT_GNU_IFUNC) {
        if (stName === 0 || stName >= symtab.strings.size) throw new DumpUnsupportedError(file, `an unnamed IFUNC symbol in relocation ${i} of section ${s.index}`);
        const nm = fmtSymbol(14, symtab.name(symIndex), wide, utf8, ctx.symStyle);
        const len = printedLength(nm);
        line += nm + verText + '()' + spaces(len <= 14 ? 15 - len : 1);
      } else {
        line += symtab.value(symIndex).toString(16).padStart(16, '0') + ' ';
      }
      if (stName === 0) {
        let secName = '<null>';
        if (stType === STT_SECTION) {
          if (ndx < shnum) secName = ctx.rawSectionName(elf.sections[ndx]);
          else if (ndx === 0xfffffff1) secName = 'ABS';
          else if (ndx === 0xfffffff2) secName = 'COMMON';
          else if (ndx === 0xffffff02) secName = 'LARGE_COMMON';
          else secName = `<section 0x${ndx.toString(16)}>`;
        }
        line += fmtSymbol(22, secName, wide, utf8, ctx.symStyle);
      } else if (stName >= symtab.strings.size) {
        // No name: readelf reports the offset and goes on with the addend.
        ctx.session.error(`<corrupt string table index: ${String(stName).padStart(3)}>\n`);
      } else {
        line += fmtSymbol(22, symtab.name(symIndex), wide, utf8, ctx.symStyle) + verText;
      }
      if (isRela) line += addend < 0n ? ` - ${(-addend).toString(16)}` : ` + ${addend.toString(16)}`;
    } else if (isRela) {
      line += spaces(20) + (addend < 0n ? `-${(-addend).toString(16)}` : addend.toString(16));
    }
    out.w(line + '\n');
  }
}

/** The number of columns print_symbol reported (a `^X` escape counts two, as it prints). */
function printedLength(s: string): number {
  return s.length;
}

/** SHT_RELR: a list of addresses and bitmaps of the words that follow each, printed as one offset a line. */
function dumpRelr(ctx: DumpContext, s: SectionHeader): void {
  if (s.sh_entsize !== 8) throw new DumpUnsupportedError(ctx.file, `SHT_RELR section ${s.index} with sh_entsize ${s.sh_entsize}`);
  ctx.needSection(s);
  const data = ctx.elf.sectionData(s);
  const n = Math.floor(data.length / 8);
  const title = ctx.hasNames ? `'${ctx.sectionName(s)}'` : String(s.sh_name);
  const lines: string[] = [];
  let where = 0n;
  const M64 = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    let entry = data.readBigUInt64LE(i * 8);
    if ((entry & 1n) === 0n) {
      lines.push(hex(entry, 16) + '\n');
      where = (entry + 8n) & M64;
    } else {
      for (let j = 0n; (entry >>= 1n) !== 0n; j++) {
        if ((entry & 1n) === 1n) lines.push(hex((where + j * 8n) & M64, 16) + '\n');
      }
      where = (where + 63n * 8n) & M64;
    }
  }
  ctx.out.w(`\nRelocation section ${title} at offset 0x${s.sh_offset.toString(16)} contains ${n} ${n === 1 ? 'entry' : 'entries'}:\n`
    + `  ${lines.length} ${lines.length === 1 ? 'offset' : 'offsets'}\n`);
  for (let k = 0; k < lines.length; k += 4096) ctx.out.w(lines.slice(k, k + 4096).join(''));
}
