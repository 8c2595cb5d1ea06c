/**
 * readelf -V: the version definition (.gnu.version_d), version needs
 * (.gnu.version_r) and version symbol (.gnu.version) sections, in section
 * order. Version numbers of symbols are named through the DT_VERNEED and
 * DT_VERDEF tables of the dynamic section, as readelf does.
 */
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { dynamicInfo, offsetFromVma } from './dynamic.js';
import { dynamicStrings } from './dynamic-strings.js';
import { DT } from './dynamic-tags.js';
import { DumpUnsupportedError } from './names.js';
import { hex, padEnd, spaces } from './format.js';

const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHT_NOBITS = 8;
const VERSYM_HIDDEN = 0x8000;
const VERSYM_VERSION = 0x7fff;

/** readelf's get_ver_flags. */
function verFlags(flags: number): string {
  if (flags === 0) return 'none';
  const parts: string[] = [];
  if (flags & 1) parts.push('BASE');
  if (flags & 2) parts.push('WEAK');
  if (flags & 4) parts.push('INFO');
  if (flags & ~7) parts.push('<unknown>');
  return parts.join(' | ');
}

/** printf `%#06zx`. */
function off6(n: number): string {
  return n === 0 ? '000000' : `0x${hex(n, 4)}`;
}

function plural(n: number | bigint): string {
  return n === 1 || n === 1n ? 'entry' : 'entries';
}

/** The section's bytes, which must lie inside the file (readelf's get_data). */
function contents(ctx: DumpContext, s: SectionHeader, what: string): Buffer | undefined {
  if (s.sh_size === 0) return undefined;
  if (s.sh_type === SHT_NOBITS || s.sh_offset + s.sh_size > ctx.elf.buf.length) throw new DumpUnsupportedError(ctx.file, `a ${what} past the end of the file`);
  ctx.needSection(s);
  return ctx.elf.buf.subarray(s.sh_offset, s.sh_offset + s.sh_size);
}

function header(ctx: DumpContext, s: SectionHeader, kind: string, count: number | bigint, link: string): void {
  ctx.out.w(`\n${kind} section '${ctx.sectionName(s)}' contains ${count} ${plural(count)}:\n`
    + ` Addr: 0x${hex(s.sh_addr, 16)}  Offset: 0x${hex(s.sh_offset, 8)}  Link: ${s.sh_link} (${link})\n`);
}

/** readelf's printable_section_name_from_index. */
function linkName(ctx: DumpContext, index: number): string {
  if (index >= ctx.shnum) return '<corrupt>';
  return ctx.sectionName(ctx.elf.sections[index]);
}

export function printVersionSections(ctx: DumpContext): void {
  let found = false;
  for (const s of ctx.elf.sections) {
    if (s.sh_type === SHT_GNU_VERDEF) {
      found = true;
      printVerdef(ctx, s);
    } else if (s.sh_type === SHT_GNU_VERNEED) {
      found = true;
      printVerneed(ctx, s);
    } else if (s.sh_type === SHT_GNU_VERSYM) {
      if (s.sh_link >= ctx.shnum || ctx.elf.sections[s.sh_link].sh_link >= ctx.shnum) continue;
      found = true;
      printVersym(ctx, s);
    }
  }
  if (!found) ctx.out.w('\nNo version information found in this file.\n');
}

/** A version section's header lines, its contents and a lookup of names in the dynamic strings (null when unreadable). */
function versionTable(ctx: DumpContext, s: SectionHeader, title: string, what: string): { data: Buffer; name: (n: number) => string | undefined } | null {
  header(ctx, s, title, s.sh_info, linkName(ctx, s.sh_link));
  const data = contents(ctx, s, what);
  if (!data) return null;
  const strings = dynamicStrings(ctx);
  return { data, name: (n: number) => (strings && strings.valid(n) ? strings.get(n) : undefined) };
}

function printVerdef(ctx: DumpContext, s: SectionHeader): void {
  const { out, file } = ctx;
  const table = versionTable(ctx, s, 'Version definition', 'version definition section');
  if (!table) return;
  const { data, name } = table;
  const end = data.length;
  let idx = 0;
  let cnt = 0;
  for (; cnt < s.sh_info; cnt++) {
    let v = idx;
    if (v + 20 > end) break;
    const version = data.readUInt16LE(v);
    const flags = data.readUInt16LE(v + 2);
    const ndx = data.readUInt16LE(v + 4);
    const vdCnt = data.readUInt16LE(v + 6);
    const aux = data.readUInt32LE(v + 12);
    const next = data.readUInt32LE(v + 16);
    const line = `  ${off6(idx)}: Rev: ${version}  Flags: ${verFlags(flags)}  Index: ${ndx}  Cnt: ${vdCnt}  `;
    if (aux > end - v) { out.w(line); break; }
    v += aux;
    if (v + 8 > end) { out.w(line); break; }
    let vdaName = data.readUInt32LE(v);
    let vdaNext = data.readUInt32LE(v + 4);
    const n0 = name(vdaName);
    out.w(line + (n0 !== undefined ? `Name: ${n0}\n` : `Name index: ${vdaName}\n`));
    let isum = idx + aux;
    let j = 1;
    for (; j < vdCnt; j++) {
      if (vdaNext < 8 && !(j === vdCnt - 1 && vdaNext === 0)) throw new DumpUnsupportedError(file, `an invalid vda_next field of ${vdaNext.toString(16)}`);
      if (vdaNext > end - v) break;
      isum += vdaNext;
      v += vdaNext;
      if (v + 8 > end) break;
      vdaName = data.readUInt32LE(v);
      vdaNext = data.readUInt32LE(v + 4);
      const n = name(vdaName);
      out.w(n !== undefined ? `  ${off6(isum)}: Parent ${j}: ${n}\n` : `  ${off6(isum)}: Parent ${j}, name index: ${vdaName}\n`);
    }
    if (j < vdCnt) out.w('  Version def aux past end of section\n');
    if (next < 20 && !(cnt === s.sh_info - 1 && next === 0)) throw new DumpUnsupportedError(file, `an invalid vd_next field of ${next.toString(16)}`);
    if (next > end - idx) break;
    idx += next;
  }
  if (cnt < s.sh_info) out.w('  Version definition past end of section\n');
}

function printVerneed(ctx: DumpContext, s: SectionHeader): void {
  const { out, file } = ctx;
  const table = versionTable(ctx, s, 'Version needs', 'version needs section');
  if (!table) return;
  const { data, name } = table;
  const end = data.length;
  let idx = 0;
  let cnt = 0;
  for (; cnt < s.sh_info; cnt++) {
    let v = idx;
    if (v + 16 > end) break;
    const version = data.readUInt16LE(v);
    const vnCnt = data.readUInt16LE(v + 2);
    const vnFile = data.readUInt32LE(v + 4);
    const aux = data.readUInt32LE(v + 8);
    const next = data.readUInt32LE(v + 12);
    const f = name(vnFile);
    out.w(`  ${off6(idx)}: Version: ${version}${f !== undefined ? `  File: ${f}` : `  File: ${vnFile.toString(16)}`}  Cnt: ${vnCnt}\n`);
    if (aux > end - v) break;
    v += aux;
    let j = 0;
    let isum = idx + aux;
    for (; j < vnCnt; j++) {
      if (v + 16 > end) break;
      const vnaFlags = data.readUInt16LE(v + 4);
      const vnaOther = data.readUInt16LE(v + 6);
      const vnaName = data.readUInt32LE(v + 8);
      const vnaNext = data.readUInt32LE(v + 12);
      const n = name(vnaName);
      out.w(`  ${off6(isum)}:   ${n !== undefined ? `Name: ${n}` : `Name index: ${vnaName.toString(16)}`}  Flags: ${verFlags(vnaFlags)}  Version: ${vnaOther}\n`);
      if (vnaNext < 16 && !(j === vnCnt - 1 && vnaNext === 0)) throw new DumpUnsupportedError(file, `an invalid vna_next field of ${vnaNext.toString(16)}`);
      if (vnaNext > end - v) break;
      isum += vnaNext;
      v += vnaNext;
    }
    if (j < vnCnt) throw new DumpUnsupportedError(file, 'missing version needs auxiliary information');
    if (next < 16 && !(cnt === s.sh_info - 1 && next === 0)) throw new DumpUnsupportedError(file, `an invalid vn_next field of ${next.toString(16)}`);
    if (next > end - idx) break;
    idx += next;
  }
  if (cnt < s.sh_info) throw new DumpUnsupportedError(file, 'missing version needs information');
}

/** The `(name)` of a version number through DT_VERNEED and DT_VERDEF, undefined when neither names it. */
class VersionNames {
  private readonly verneed: number | undefined;
  private readonly verdef: number | undefined;
  private readonly cache = new Map<number, string | undefined>();

  constructor(private readonly ctx: DumpContext, private readonly strtab: Buffer) {
    const d = dynamicInfo(ctx);
    const map = (tag: bigint, size: bigint): number | undefined => {
      const vma = d?.last.get(tag);
      if (vma === undefined || vma === 0n) return undefined;
      const off = offsetFromVma(ctx, vma, size);
      if (off === undefined || off >= BigInt(ctx.elf.buf.length)) throw new DumpUnsupportedError(ctx.file, `a version table address 0x${vma.toString(16)} outside the PT_LOAD segments`);
      return Number(off);
    };
    this.verneed = map(DT.VERNEED, 16n);
    this.verdef = map(DT.VERDEF, 20n);
  }

  private u16(off: number): number {
    return this.read(off, 2);
  }

  private u32(off: number): number {
    return this.read(off, 4);
  }

  private read(off: number, size: number): number {
    const buf = this.ctx.elf.buf;
    if (off < 0 || off + size > buf.length) throw new DumpUnsupportedError(this.ctx.file, 'a version table past the end of the file');
    this.ctx.need(off, size);
    return size === 2 ? buf.readUInt16LE(off) : buf.readUInt32LE(off);
  }

  private str(off: number): string {
    if (off >= this.strtab.length) return '*invalid*';
    let nul = this.strtab.indexOf(0, off);
    if (nul < 0) nul = this.strtab.length;
    return this.strtab.toString('latin1', off, nul);
  }

  name(vers: number): string | undefined {
    if (this.cache.has(vers)) return this.cache.get(vers);
    const n = this.lookup(vers);
    this.cache.set(vers, n);
    return n;
  }

  private lookup(vers: number): string | undefined {
    let name: string | undefined;
    let guard = 0;
    const step = () => {
      if (++guard > 1 << 20) throw new DumpUnsupportedError(this.ctx.file, 'a looping version chain');
    };
    if (this.verneed !== undefined) {
      let offset = this.verneed;
      for (;;) {
        step();
        const aux = this.u32(offset + 8);
        const next = this.u32(offset + 12);
        let a = offset + aux;
        let other = 0;
        let vnaNext = 0;
        let at = a;
        do {
          step();
          at = a;
          other = this.u16(a + 6);
          vnaNext = this.u32(a + 12);
          a += vnaNext;
        } while (other !== vers && vnaNext !== 0);
        if (other === vers) {
          name = this.str(this.u32(at + 8));
          break;
        }
        offset += next;
        if (next === 0) break;
      }
    }
    if (vers !== 0x8001 && this.verdef !== undefined) {
      const want = vers & VERSYM_VERSION;
      let offset = this.verdef;
      let ndx = 0;
      let next = 0;
      do {
        step();
        next = this.u32(offset + 16);
        ndx = this.u16(offset + 4);
        offset += next;
      } while (ndx !== want && next !== 0);
      if (ndx === want) {
        const aux = this.u32(offset - next + 12);
        const vdaName = this.u32(offset - next + aux);
        if (vdaName >= this.strtab.length) name = '*invalid*';
        else if (name !== undefined && name !== '*invalid*') name = '*both*';
        else name = this.str(vdaName);
      }
    }
    return name;
  }
}

function printVersym(ctx: DumpContext, s: SectionHeader): void {
  const { elf, out, file } = ctx;
  const link = elf.sections[s.sh_link];
  const total = Math.floor(s.sh_size / 2);
  if (link.sh_entsize === 0 || link.sh_size === 0) throw new DumpUnsupportedError(file, 'a version symbol section linked to an empty symbol table');
  const numSyms = Math.floor(link.sh_size / link.sh_entsize);
  const strSec = elf.sections[link.sh_link];
  if (link.sh_offset + link.sh_size > elf.buf.length) throw new DumpUnsupportedError(file, 'a symbol table past the end of the file');
  const strtab = contents(ctx, strSec, 'version string table');
  if (!strtab) throw new DumpUnsupportedError(file, 'an empty version string table');
  out.w(`\nVersion symbols section '${ctx.sectionName(s)}' contains ${total} ${plural(total)}:\n`
    + ` Addr: 0x${hex(s.sh_addr, 16)}  Offset: 0x${hex(s.sh_offset, 8)}  Link: ${s.sh_link} (${ctx.sectionName(link)})\n`);
  const vma = dynamicInfo(ctx)?.last.get(DT.VERSYM) ?? 0n;
  const off = offsetFromVma(ctx, vma, BigInt(total * 2));
  if (total === 0) return;
  if (off === undefined || off + BigInt(total * 2) > BigInt(elf.buf.length)) throw new DumpUnsupportedError(file, 'version symbol data outside the file');
  const base = Number(off);
  ctx.need(base, total * 2);
  const names = new VersionNames(ctx, strtab);
  const buf = elf.buf;
  for (let cnt = 0; cnt < total; cnt += 4) {
    let line = `  ${hex(cnt, 3)}:`;
    for (let j = 0; j < 4 && cnt + j < total; j++) {
      const v = buf.readUInt16LE(base + (cnt + j) * 2);
      if (v === 0) { line += '   0 (*local*)    '; continue; }
      if (v === 1) { line += '   1 (*global*)   '; continue; }
      let cell = `${(v & VERSYM_VERSION).toString(16).padStart(4)}${v & VERSYM_HIDDEN ? 'h' : ' '}`;
      if (cnt + j >= numSyms) throw new DumpUnsupportedError(file, 'an invalid index into the symbol array');
      const name = names.name(v);
      // printf("(%s%-*s", name, 12 - strlen(name), ")"): a negative width left-justifies too.
      if (name !== undefined) cell += `(${name}${padEnd(')', Math.abs(12 - name.length))}`;
      line += cell.length < 18 ? cell + spaces(18 - cell.length) : cell;
    }
    out.w(line + '\n');
  }
}
