/**
 * readelf -D/--use-dynamic: -r prints the relocation tables the dynamic
 * section names (DT_REL, DT_RELA, DT_RELR, DT_JMPREL) instead of the
 * relocation sections, and -s prints the dynamic symbol table as the
 * "symbol table for image" when the file has a symbol hash table.
 */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { dynamicInfo, offsetFromVma } from './dynamic.js';
import { dynamicStrings } from './dynamic-strings.js';
import { DT } from './dynamic-tags.js';
import { DumpUnsupportedError } from './names.js';
import { dumpRelocs } from './relocations.js';
import { printSymbols, printTable } from './symbols.js';
import { hex } from './format.js';

const SHT_DYNSYM = 11;
const SHT_RELA = 4;
const SHT_REL = 9;
const M64 = (1n << 64n) - 1n;

/** The first SHT_DYNSYM section, which must use the dynamic string table readelf uses. */
function dynsym(ctx: DumpContext): SectionHeader | undefined {
  const sec = ctx.elf.sections.find((s) => s.sh_type === SHT_DYNSYM);
  if (!sec) return undefined;
  const strings = dynamicStrings(ctx);
  const link = sec.sh_link < ctx.shnum ? ctx.elf.sections[sec.sh_link] : undefined;
  if (!strings || !link || link.sh_offset !== strings.offset || link.sh_size !== strings.length) {
    throw new DumpUnsupportedError(ctx.file, 'a dynamic symbol table whose strings are not the dynamic string table');
  }
  return sec;
}

export function printDynamicRelocations(ctx: DumpContext): void {
  const { out, file } = ctx;
  const d = dynamicInfo(ctx);
  const tables: Array<[string, bigint, bigint]> = [['REL', DT.REL, DT.RELSZ], ['RELA', DT.RELA, DT.RELASZ], ['RELR', DT.RELR, DT.RELRSZ], ['PLT', DT.JMPREL, DT.PLTRELSZ]];
  let any = false;
  for (const [name, addrTag, sizeTag] of tables) {
    const size = d?.last.get(sizeTag) ?? 0n;
    const vma = d?.last.get(addrTag) ?? 0n;
    if (size === 0n) continue;
    any = true;
    out.w(`\n'${name}' relocation section at offset ${vma === 0n ? '0' : `0x${vma.toString(16)}`} contains ${BigInt.asIntN(64, size)} bytes:\n`);
    const off = offsetFromVma(ctx, vma, size);
    if (off === undefined || off > BigInt(ctx.elf.buf.length) || size > BigInt(ctx.elf.buf.length) - off) {
      throw new DumpUnsupportedError(file, `a dynamic ${name} table outside the file`);
    }
    ctx.need(Number(off), size);
    if (name === 'RELR') {
      relr(ctx, Number(off), Number(size));
      continue;
    }
    let isRela = name === 'RELA';
    if (name === 'PLT') isRela = d?.last.get(DT.PLTREL) !== DT.REL;
    const sym = dynsym(ctx);
    // Without section headers readelf finds the symbols through DT_SYMTAB and the hash tables: not reproduced.
    if (!sym && ctx.elf.sections.length === 0) throw new DumpUnsupportedError(file, '-D relocations of a file without section headers');
    if (sym) ctx.needSymtab(sym.index);
    const table: SectionHeader = {
      index: sym?.index ?? 0, sh_name: 0, sh_type: isRela ? SHT_RELA : SHT_REL, sh_flags: 0, sh_addr: vma,
      sh_offset: Number(off), sh_size: Number(size), sh_link: sym?.index ?? 0, sh_info: 0, sh_addralign: 8,
      sh_entsize: isRela ? 24 : 16, headerOffset: 0,
    };
    dumpRelocs(ctx, table, sym ? ctx.elf.symbolTable(sym.index) : undefined);
  }
  if (!any) out.w('\nThere are no dynamic relocations in this file.\n');
}

/** A dynamic SHT_RELR table: the count of offsets, then one a line. */
function relr(ctx: DumpContext, off: number, size: number): void {
  const buf = ctx.elf.buf;
  const n = Math.floor(size / 8);
  const lines: string[] = [];
  let where = 0n;
  for (let i = 0; i < n; i++) {
    let entry = buf.readBigUInt64LE(off + i * 8);
    if ((entry & 1n) === 0n) {
      lines.push(hex(entry, 16) + '\n');
      where = (entry + 8n) & M64;
    } else {
      for (let j = 0n; (entry >>= 1n) !== 0n; j++) if ((entry & 1n) === 1n) lines.push(hex((where + j * 8n) & M64, 16) + '\n');
      where = (where + 63n * 8n) & M64;
    }
  }
  ctx.out.w(`  ${lines.length} ${lines.length === 1 ? 'offset' : 'offsets'}\n`);
  for (let k = 0; k < lines.length; k += 4096) ctx.out.w(lines.slice(k, k + 4096).join(''));
}

/**
 * -s/--dyn-syms with -D: with -s and a hash table, the dynamic symbols as the
 * image's symbol table; else with --dyn-syms the symbol sections as without
 * -D, and -s alone says there is nothing to show.
 */
export function printDynamicSymbols(ctx: DumpContext): void {
  const d = dynamicInfo(ctx);
  const hashed = !!(d && ((d.last.get(DT.HASH) ?? 0n) !== 0n || (d.last.get(DT.GNU_HASH) ?? 0n) !== 0n));
  if (ctx.opts.syms && hashed && dynamicStrings(ctx)) {
    const sym = dynsym(ctx);
    if (!sym) throw new DumpUnsupportedError(ctx.file, 'dynamic symbols without a .dynsym section');
    const n = Math.floor(sym.sh_size / 24);
    printTable(ctx, sym, `\nSymbol table for image contains ${n} ${n === 1 ? 'entry' : 'entries'}:\n`);
    return;
  }
  if (ctx.opts.dynSyms) {
    printSymbols(ctx);
    return;
  }
  if (ctx.opts.syms) ctx.out.w('\nDynamic symbol information is not available for displaying symbols.\n');
}
