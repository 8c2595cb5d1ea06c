/**
 * readelf -n for GNU build attribute notes (annobin's NT_GNU_BUILD_ATTRIBUTE_OPEN
 * and _FUNC, owner names starting with "GA" or a type character). The owner
 * column decodes the name: the value type (`$` string, `*` number, `+`/`!`
 * true/false), the attribute (a known id shown as `<version>`, `<stack prot>`,
 * ... or a custom name followed by `:`) and the value, within 20 columns
 * (28 with -W, then padded). The description is the address range from the
 * descriptor, with the symbol found at its start; an empty descriptor repeats
 * the range of the previous note of the same type, across sections and files.
 */
import type { DumpContext } from './context.js';
import { DumpUnsupportedError } from './names.js';
import { asKelpError } from '../errors.js';
import { altHex, fmtSymbol, hex } from './format.js';

export const NT_GNU_BUILD_ATTRIBUTE_OPEN = 0x100;
export const NT_GNU_BUILD_ATTRIBUTE_FUNC = 0x101;

const SHT_SYMTAB = 2;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_FILE = 4;
const STB_LOCAL = 0;
const STB_GLOBAL = 1;

/** The ranges an empty descriptor refers to; readelf keeps them for the whole run. */
export class BuildAttributeState {
  globalOffset = 0n;
  globalEnd = 0n;
  funcOffset = 0n;
  funcEnd = 0n;
}

const TYPE_CHARS = '*$!+';

/** True when readelf prints this note as a build attribute (name and description). */
export function isBuildAttributeNote(name: Buffer, type: number): boolean {
  if (type !== NT_GNU_BUILD_ATTRIBUTE_OPEN && type !== NT_GNU_BUILD_ATTRIBUTE_FUNC) return false;
  const at = (i: number): number => (i < name.length ? name[i] : 0);
  // strchr finds the terminating NUL too, so a NUL type character counts.
  const isType = (c: number): boolean => c === 0 || TYPE_CHARS.includes(String.fromCharCode(c));
  return (at(0) === 0x47 && at(1) === 0x41 && isType(at(2))) || isType(at(0));
}

/** The text readelf's print_symbol prints and the count it returns. */
function printSymbol(ctx: DumpContext, width: number, s: string): string {
  // In wide mode a non-negative width neither cuts nor pads; fmtSymbol prints nothing for width 0.
  if (ctx.wide && width >= 0) return fmtSymbol(s.length + 1, s, true, ctx.utf8, ctx.symStyle);
  return fmtSymbol(width, s, ctx.wide, ctx.utf8, ctx.symStyle);
}

const ATTRIBUTES: Record<number, [string, string]> = {
  1: ['<version>', '$'],
  2: ['<stack prot>', '!+*'],
  3: ['<relro>', '+!'],
  4: ['<stack size>', '*'],
  5: ['<tool>', '$'],
  6: ['<ABI>', '$*'],
  7: ['<PIC>', '*'],
  8: ['<short enum>', '+!'],
};

const PIC = ['static', 'pic', 'PIC', 'pie', 'PIE'];
const STACK_PROT = ['off', 'on', 'all', 'strong', 'explicit'];

/** A printable ASCII byte (safe-ctype's ISPRINT, the same in every locale). */
function isPrint(c: number): boolean {
  return c >= 0x20 && c < 0x7f;
}

/**
 * The owner column of a build attribute note. `name` is the note's name field
 * (namesz bytes); readelf reads it as if a NUL followed it.
 */
export function buildAttributeName(ctx: DumpContext, name: Buffer): string {
  const namesz = name.length;
  const at = (i: number): number => (i < namesz ? name[i] : 0);
  /** The C string at `i`, at most up to the end of the field. */
  const cstr = (i: number, max = namesz - i): string => {
    let e = i;
    const lim = Math.min(namesz, i + Math.max(0, max));
    while (e < lim && name[e] !== 0) e++;
    return name.toString('latin1', i, e);
  };
  const signed = (v: number): number => (v >= 0x80 ? v - 0x100 : v);
  const corrupt = (): string => {
    ctx.session.error(`corrupt name field in GNU build attribute note: size = ${namesz}\n`);
    ctx.failed = true;
    return printSymbol(ctx, -20, '  <corrupt name>');
  };
  if (namesz < 2) return corrupt();
  let left = ctx.wide ? 28 : 20;
  let p = 0;
  let s = '';
  if (at(0) === 0x47 && at(1) === 0x41) {
    if (namesz < 4) return corrupt();
    s += 'GA';
    p = 2;
    left -= 2;
  }
  const type = at(p);
  if (!TYPE_CHARS.includes(String.fromCharCode(type)) || type === 0) {
    ctx.session.error(`unrecognised attribute type in name field: ${signed(type)}\n`);
    ctx.failed = true;
    return s + printSymbol(ctx, -20, '<unknown name type>');
  }
  s += String.fromCharCode(type);
  left--;
  p++;
  const id = at(p);
  let text: string | undefined;
  const known = ATTRIBUTES[id];
  let expected = '*$!+';
  if (known !== undefined) {
    text = known[0];
    expected = known[1];
    p++;
  } else if (isPrint(id)) {
    // A custom attribute name, cut to the columns left outside wide mode; readelf counts its NUL.
    let len = cstr(p).length + 1;
    if (len > left && !ctx.wide) len = left;
    s += cstr(p, len) + ':';
    left -= len;
    p += len;
  } else {
    // A signed char, as readelf formats it.
    ctx.session.error(`unrecognised byte in name field: ${signed(id)}\n`);
    text = `<unknown:_${signed(id)}>`;
    p++;
  }
  if (text !== undefined) {
    s += text;
    left -= text.length;
  }
  if (!expected.includes(String.fromCharCode(type))) ctx.session.warn(`attribute does not have an expected type (${String.fromCharCode(type)})\n`);
  // readelf stops here (after an error) when parsing went past the field.
  if (p > namesz) {
    ctx.session.error(`corrupt name field: namesz: ${namesz} but parsing gets to ${p}\n`);
    ctx.failed = true;
    return s;
  }
  if (left < 1 && !ctx.wide) return s;
  switch (String.fromCharCode(type)) {
    case '*': {
      let bytes = namesz - p;
      if (bytes > 0) bytes--;
      if (bytes > 8) {
        ctx.session.error(`corrupt numeric name field: too many bytes in the value: ${bytes.toString(16)}\n`);
        bytes = 8;
      }
      let val = 0n;
      for (let k = 0; k < bytes; k++) val |= BigInt(at(p + k)) << BigInt(8 * k);
      let decoded: string | undefined;
      if (val < 5n) {
        if (id === 7) decoded = PIC[Number(val)];
        else if (id === 2) decoded = STACK_PROT[Number(val)];
      }
      if (decoded !== undefined) {
        s += printSymbol(ctx, -left, decoded);
        left = 0;
      } else if (val === 0n) {
        s += '0x0';
        left -= 3;
      } else {
        const digits = ctx.wide ? val.toString(16) : hex(val, left);
        s += '0x' + digits;
        left -= 2 + digits.length;
      }
      break;
    }
    case '$': {
      const v = printSymbol(ctx, -left, cstr(p));
      s += v;
      left -= v.length;
      break;
    }
    case '+':
    case '!': {
      const v = printSymbol(ctx, -left, type === 0x2b ? 'true' : 'false');
      s += v;
      left -= v.length;
      break;
    }
  }
  if (ctx.wide && left > 0) s += ' '.repeat(left);
  return s;
}

interface SymbolIndex {
  /** Symbol indices by value (values as decimal strings), in table order. */
  byValue: Map<string, number[]>;
  lookup(value: bigint, open: boolean): { name: string; size: bigint } | undefined;
}

const indices = new WeakMap<DumpContext, SymbolIndex | null>();

/** The first SHT_SYMTAB, indexed by value; null when the file has none. */
function symbolIndex(ctx: DumpContext): SymbolIndex | null {
  const hit = indices.get(ctx);
  if (hit !== undefined) return hit;
  const { elf } = ctx;
  const sec = elf.sections.find((s) => s.sh_type === SHT_SYMTAB);
  if (sec === undefined || sec.sh_size === 0) {
    indices.set(ctx, null);
    return null;
  }
  let table;
  try {
    ctx.needSymtab(sec.index);
    table = elf.symbolTable(sec.index);
  } catch (e) {
    if (asKelpError(e) !== undefined) throw new DumpUnsupportedError(ctx.file, 'GNU build attribute notes with an unreadable symbol table');
    throw e;
  }
  const t = table;
  const byValue = new Map<string, number[]>();
  const buf = elf.buf;
  for (let i = 0, o = sec.sh_offset; i < t.count; i++, o += 24) {
    const key = keyOf(buf.readUInt32LE(o + 12), buf.readUInt32LE(o + 8));
    const list = byValue.get(key);
    if (list === undefined) byValue.set(key, [i]);
    else list.push(i);
  }
  const index: SymbolIndex = {
    byValue,
    lookup(value: bigint, open: boolean) {
      const list = byValue.get(keyOf(Number(value >> 32n), Number(value & 0xffffffffn)));
      if (list === undefined) return undefined;
      let cur = -1;
      for (const i of list) {
        const name = t.nameOrUndefined(i);
        if (name === undefined || name.length === 0) continue;
        // Mapping symbols ($d, $x, ...) of other architectures.
        if (name.length === 2 && name[0] === '$') continue;
        const type = t.type(i);
        const bind = t.bind(i);
        if (!open) {
          if (type === STT_FUNC) { cur = i; break; }
          continue;
        }
        if (type === STT_FUNC) continue;
        if (type === STT_OBJECT || type === STT_FILE) {
          cur = i;
          if (t.size(i) > 0n) break;
        } else if (bind === STB_GLOBAL) {
          if (cur < 0 || t.type(cur) !== STT_OBJECT) cur = i;
        } else if (bind === STB_LOCAL) {
          if (cur < 0) cur = i;
        }
      }
      if (cur < 0) return undefined;
      return { name: t.nameOrUndefined(cur)!, size: t.size(cur) };
    },
  };
  indices.set(ctx, index);
  return index;
}

function keyOf(hi: number, lo: number): string {
  return hi === 0 ? String(lo) : `${hi}:${lo}`;
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** The description column: the region the note applies to. */
export function buildAttributeDescription(ctx: DumpContext, type: number, desc: Buffer): string {
  const st = ctx.session.buildAttributes;
  const open = type === NT_GNU_BUILD_ATTRIBUTE_OPEN;
  let start: bigint;
  let end: bigint;
  switch (desc.length) {
    case 0: {
      const o = open ? st.globalOffset : st.funcOffset;
      const e = open ? st.globalEnd : st.funcEnd;
      return e > o ? `    Applies to region from ${altHex(o)} to ${altHex(e)}\n` : `    Applies to region from ${altHex(o)}\n`;
    }
    case 4:
      start = BigInt(desc.readUInt32LE(0));
      end = 0n;
      break;
    case 8:
      start = BigInt(desc.readUInt32LE(0));
      end = BigInt(desc.readUInt32LE(4));
      break;
    case 16:
      start = desc.readBigUInt64LE(0);
      end = desc.readBigUInt64LE(8);
      break;
    default:
      // readelf prints no newline here, and the note fails.
      ctx.session.error(`    <invalid description size: ${desc.length.toString(16)}>\n`);
      ctx.failed = true;
      return '    <invalid descsz>';
  }
  const index = symbolIndex(ctx);
  let sym = index?.lookup(start, open);
  // annobin biases file-start symbols by 2.
  if (sym === undefined && open) sym = index?.lookup(u64(start + 2n), open);
  if (end === 0n && sym !== undefined && sym.size > 0n) end = u64(start + sym.size);
  let s = `    Applies to region from ${altHex(start)}`;
  // readelf looks for gaps only within one section: notes for different sections need not be in address order.
  if (open && st.globalEnd > 0n && start > ((st.globalEnd + 15n) & ~15n) && sameSection(ctx, start, st.globalEnd)) {
    ctx.session.warn(`Gap in build notes detected from ${altHex(st.globalEnd + 1n)} to ${altHex(start - 1n)}\n`);
  }
  if (open) st.globalOffset = start;
  else st.funcOffset = start;
  if (end !== 0n) {
    s += ` to ${altHex(end)}`;
    if (open) st.globalEnd = end;
    else st.funcEnd = end;
  }
  if (sym !== undefined) s += ` (${sym.name})`;
  return s + '\n';
}

/** Whether one section's address range holds both addresses (readelf's same_section). */
function sameSection(ctx: DumpContext, a: bigint, b: bigint): boolean {
  for (const s of ctx.elf.sections) {
    const end = u64(s.sh_addr + BigInt(s.sh_size));
    if (s.sh_addr <= a && end > a && s.sh_addr <= b && end > b) return true;
  }
  return false;
}
