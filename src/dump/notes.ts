/**
 * readelf -n: notes in SHT_NOTE sections (or PT_NOTE segments when there are
 * none): GNU build-id, ABI tag, gold version, hwcaps and properties (x86
 * features and ISA levels), SystemTap probes, and the generic hex layout for
 * other owners (Linux notes in .ko files, Go build ids).
 */
import type { DumpContext } from './context.js';
import { programHeadersUnreadable } from './segment-checks.js';
import { DumpUnsupportedError } from './names.js';
import { fmtSymbol, hex } from './format.js';
import { buildAttributeDescription, buildAttributeName, isBuildAttributeNote } from './build-attributes.js';

const SHT_NOTE = 7;
const PT_NOTE = 4;
const ET_CORE = 4;

export function printNotes(ctx: DumpContext): void {
  const { elf, file } = ctx;
  if (elf.header.e_type === ET_CORE) throw new DumpUnsupportedError(file, 'notes of core files');
  let n = 0;
  for (const s of elf.sections) {
    if (s.sh_type !== SHT_NOTE) continue;
    n++;
    // readelf shows nothing of an empty note section, and fails it (exit status 1).
    if (s.sh_size === 0) {
      ctx.failed = true;
      continue;
    }
    notesAt(ctx, s.sh_offset, s.sh_size, s.sh_addralign, ctx.sectionName(s), s.index);
  }
  if (n > 0) return;
  // No note sections: readelf looks in the PT_NOTE segments (and says so when it cannot read the program headers).
  if (programHeadersUnreadable(ctx)) return;
  for (const p of elf.segments) {
    if (p.p_type !== PT_NOTE) continue;
    if (p.p_filesz === 0n) {
      ctx.failed = true;
      continue;
    }
    const len = BigInt(elf.buf.length);
    if (p.p_offset > len || p.p_filesz > len - p.p_offset) throw new DumpUnsupportedError(file, `note segment ${p.index} past the end of the file`);
    notesAt(ctx, Number(p.p_offset), Number(p.p_filesz), p.p_align > 8n ? 16 : Number(p.p_align), undefined, -1);
  }
}

function notesAt(ctx: DumpContext, offset: number, length: number, align: number, section: string | undefined, secIndex: number): void {
  const { elf, out, file, wide } = ctx;
  if (offset > elf.buf.length || length > elf.buf.length - offset) throw new DumpUnsupportedError(file, 'a note section past the end of the file');
  if (secIndex >= 0 && elf.header.e_type === 1 && hasRelocations(ctx, secIndex)) {
    throw new DumpUnsupportedError(file, 'relocated notes in a relocatable file');
  }
  if (align < 4) align = 4;
  else if (align !== 4 && align !== 8) throw new DumpUnsupportedError(file, `note alignment ${align}`);
  ctx.need(offset, length);
  const data = elf.buf.subarray(offset, offset + length);
  const lines: string[] = [];
  if (section !== undefined) lines.push(`\nDisplaying notes found in: ${section}\n`);
  else lines.push(`\nDisplaying notes found at file offset 0x${hex(offset, 8)} with length 0x${hex(length, 8)}:\n`);
  lines.push('  Owner                Data size \tDescription\n');
  // In whole numbers: sizes near 2^32 must not wrap as 32-bit bit operations would.
  const pad = (v: number): number => Math.ceil(v / align) * align;
  let o = 0;
  while (o < data.length) {
    const remaining = data.length - o;
    if (remaining < 12) {
      ctx.session.warn(`Corrupt note: only ${remaining} byte${remaining === 1 ? ' remains' : 's remain'}, not enough for a full note\n`);
      break;
    }
    const namesz = data.readUInt32LE(o);
    const descsz = data.readUInt32LE(o + 4);
    const type = data.readUInt32LE(o + 8);
    const nameAt = o + 12;
    // The descriptor and the next note start at the alignment after the name and after the descriptor.
    const descOff = pad(12 + namesz);
    const next = pad(descOff + descsz);
    if (descOff - 12 < namesz || descOff - 12 > remaining - 12 || next - descOff < descsz || next - descOff > remaining - 12 - (descOff - 12)) {
      // readelf stops reading the section's notes there (without failing).
      const x = (v: number): string => (v === 0 ? '0' : `0x${v.toString(16)}`);
      ctx.session.warn(`note with invalid namesz and/or descsz found at offset ${x(o)}\n`);
      ctx.session.warn(` type: ${x(type)}, namesize: ${x(namesz)}, descsize: ${x(descsz)}, alignment: ${align}\n`);
      break;
    }
    let nameEnd = nameAt;
    while (nameEnd < nameAt + namesz && data[nameEnd] !== 0) nameEnd++;
    const name = data.toString('latin1', nameAt, nameEnd);
    const desc = data.subarray(o + descOff, o + descOff + descsz);
    o += next;
    // readelf tests an empty name field's first bytes all the same: those after the note header.
    const peek = namesz === 0 ? data.subarray(nameAt, Math.min(nameAt + 3, data.length)) : undefined;
    const owner = namesz === 0 ? ghostOwner(ctx, data, nameAt) : name;
    lines.push(noteText(ctx, namesz === 0 ? '(NONE)' : name, owner, data.subarray(nameAt, nameAt + namesz), type, desc, wide, peek));
  }
  out.w(lines.join(''));
}

const FDO_PACKAGING_METADATA = 0xcafe1a7e;
const OWNERS = ['AMDGPU', 'FreeBSD', 'NetBSD', 'OpenBSD', 'PaX', 'SPU/', 'IPF/VMS', 'CORE', 'FDO'];

/**
 * The owner readelf's description printers see for a note with an empty name:
 * the string after the note header. Refused when the section ends before the
 * string shows whether it starts with an owner readelf decodes.
 */
function ghostOwner(ctx: DumpContext, data: Buffer, at: number): string {
  let end = at;
  while (end < data.length && data[end] !== 0) end++;
  const s = data.toString('latin1', at, end);
  if (end === data.length) {
    for (const p of ['GNU', 'stapsdt', ...OWNERS]) {
      if (s.length < p.length && p.startsWith(s)) throw new DumpUnsupportedError(ctx.file, 'a note without a name at the end of its section');
    }
  }
  return s;
}

function hasRelocations(ctx: DumpContext, index: number): boolean {
  const shnum = ctx.elf.sections.length;
  return ctx.elf.sections.some((r) => (r.sh_type === 4 || r.sh_type === 9) && r.sh_info === index && r.sh_size !== 0 && r.sh_link < shnum);
}

function noteText(ctx: DumpContext, name: string, owner: string, rawName: Buffer, type: number, desc: Buffer, wide: boolean, peek?: Buffer): string {
  const { file } = ctx;
  const namesz = rawName.length;
  if ((type === 0x100 || type === 0x101) && peek !== undefined && (peek.length === 0 || (peek[0] === 0x47 && peek.length < 3))) {
    throw new DumpUnsupportedError(file, 'a GNU build attribute note without a name at the end of its section');
  }
  if (isBuildAttributeNote(peek ?? rawName, type)) {
    return `  ${buildAttributeName(ctx, rawName)} 0x${hex(desc.length, 8)}\t${defaultNoteType(type)}${wide ? '\t' : '\n'}`
      + buildAttributeDescription(ctx, type, desc);
  }
  if (owner.startsWith('FDO') && type === FDO_PACKAGING_METADATA && desc.length > 0 && namesz !== 0) {
    // readelf's print_fdo_note: the metadata (JSON) up to its first NUL.
    let end = desc.indexOf(0);
    if (end < 0) end = desc.length;
    return `  ${fmtSymbol(-20, name, wide, ctx.utf8, ctx.symStyle)} 0x${hex(desc.length, 8)}\t${defaultNoteType(type)}${wide ? '\t' : '\n'}`
      + `    Packaging Metadata: ${desc.toString('latin1', 0, end)}\n`;
  }
  for (const p of OWNERS) {
    if (owner.startsWith(p)) throw new DumpUnsupportedError(file, `notes of owner ${p}`);
  }
  // The type is named from the name field; the description from the owner string (see ghostOwner).
  let nt: string;
  const gnu = owner.startsWith('GNU');
  const stap = owner.startsWith('stapsdt');
  if (namesz === 0) nt = defaultNoteType(type);
  else if (gnu) nt = gnuNoteType(type);
  else if (stap) nt = type === 3 ? 'NT_STAPSDT (SystemTap probe descriptors)' : unknownType(type);
  else nt = defaultNoteType(type);
  let s = `  ${fmtSymbol(-20, name, wide, ctx.utf8, ctx.symStyle)} 0x${hex(desc.length, 8)}\t${nt}${wide ? '\t' : '\n'}`;
  if (gnu) return s + gnuNote(ctx, type, desc);
  if (stap) return s + stapsdtNote(ctx, desc);
  if (desc.length > 0) {
    s += '   description data: ';
    for (let i = 0; i < desc.length; i++) s += hex(desc[i], 2) + ' ';
    if (!wide) s += '\n';
  }
  if (wide) s += '\n';
  return s;
}

function unknownType(type: number): string {
  return `Unknown note type: (0x${hex(type, 8)})`;
}

function defaultNoteType(type: number): string {
  switch (type) {
    case 1: return 'NT_VERSION (version)';
    case 2: return 'NT_ARCH (architecture)';
    case 0x100: return 'OPEN';
    case 0x101: return 'func';
    case 4: return 'GO BUILDID';
    case 0xcafe1a7e: return 'FDO_PACKAGING_METADATA';
    default: return unknownType(type);
  }
}

function gnuNoteType(type: number): string {
  switch (type) {
    case 1: return 'NT_GNU_ABI_TAG (ABI version tag)';
    case 2: return 'NT_GNU_HWCAP (DSO-supplied software HWCAP info)';
    case 3: return 'NT_GNU_BUILD_ID (unique build ID bitstring)';
    case 4: return 'NT_GNU_GOLD_VERSION (gold version)';
    case 5: return 'NT_GNU_PROPERTY_TYPE_0';
    case 0x100: return 'NT_GNU_BUILD_ATTRIBUTE_OPEN';
    case 0x101: return 'NT_GNU_BUILD_ATTRIBUTE_FUNC';
    default: return unknownType(type);
  }
}

const ABI_OS = ['Linux', 'Hurd', 'Solaris', 'FreeBSD', 'NetBSD', 'Syllable', 'NaCl'];

function gnuNote(ctx: DumpContext, type: number, desc: Buffer): string {
  switch (type) {
    case 3: {
      let s = '    Build ID: ';
      for (let i = 0; i < desc.length; i++) s += hex(desc[i], 2);
      return s + '\n';
    }
    case 1: {
      if (desc.length < 16) return '    <corrupt GNU_ABI_TAG>\n';
      const os = desc.readUInt32LE(0);
      // readelf prints the version numbers as signed 32-bit values.
      return `    OS: ${ABI_OS[os] ?? 'Unknown'}, ABI: ${desc.readInt32LE(4)}.${desc.readInt32LE(8)}.${desc.readInt32LE(12)}\n`;
    }
    case 4: {
      let s = '    Version: ';
      for (let i = 0; i < desc.length && desc[i] !== 0; i++) s += String.fromCharCode(desc[i]);
      return s + '\n';
    }
    case 2: {
      if (desc.length < 8) throw new DumpUnsupportedError(ctx.file, 'a corrupt GNU_HWCAP note');
      return `      Hardware Capabilities: num entries: ${desc.readUInt32LE(0)}, enabled mask: ${desc.readUInt32LE(4).toString(16)}\n`;
    }
    case 5:
      return propertyNote(ctx, desc);
    default: {
      let s = '    Description data: ';
      for (let i = 0; i < desc.length; i++) s += hex(desc[i], 2) + ' ';
      return s + '\n';
    }
  }
}

const X86_ISA = ['x86-64-baseline', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4'];
const X86_FEATURE_1 = ['IBT', 'SHSTK', 'LAM_U48', 'LAM_U57'];
const X86_FEATURE_2 = ['x86', 'x87', 'MMX', 'XMM', 'YMM', 'ZMM', 'FXSR', 'XSAVE', 'XSAVEOPT', 'XSAVEC', 'TMM', 'MASK'];
const NEEDED_1 = ['indirect external access'];

function bits(mask: number, names: readonly string[], none = '<None>'): string {
  if (mask === 0) return none;
  const parts: string[] = [];
  let m = mask >>> 0;
  while (m !== 0) {
    const bit = (m & -m) >>> 0;
    m = (m & ~bit) >>> 0;
    const k = 31 - Math.clz32(bit);
    parts.push(names[k] ?? `<unknown: ${bit.toString(16)}>`);
  }
  return parts.join(', ');
}

function corruptLength(n: number): string {
  return `<corrupt length: ${n === 0 ? '0' : '0x' + n.toString(16)}> `;
}

function propertyNote(ctx: DumpContext, desc: Buffer): string {
  let s = '      Properties: ';
  if (desc.length < 8 || desc.length % 8 !== 0) {
    return s + `<corrupt GNU_PROPERTY_TYPE, size = ${desc.length === 0 ? '0' : '0x' + desc.length.toString(16)}>\n`;
  }
  let p = 0;
  const end = desc.length;
  while (p < end) {
    if (end - p < 8) {
      s += `<corrupt descsz: 0x${end.toString(16)}>\n`;
      return s + '\n';
    }
    const type = desc.readUInt32LE(p);
    const datasz = desc.readUInt32LE(p + 4);
    p += 8;
    if (datasz > end - p) {
      s += `<corrupt type (0x${type.toString(16)}) datasz: ${datasz === 0 ? '0' : '0x' + datasz.toString(16)}>\n`;
      return s + '\n';
    }
    const word = datasz === 4 ? desc.readUInt32LE(p) : 0;
    let done = true;
    if (type >= 0xc0000000 && type <= 0xdfffffff) {
      if (!ctx.isX86 && ctx.machine !== 3 && ctx.machine !== 6) throw new DumpUnsupportedError(ctx.file, `GNU properties of machine ${ctx.machine}`);
      switch (type) {
        case 0xc0010002: s += datasz !== 4 ? `x86 ISA used: ${corruptLength(datasz)}` : `x86 ISA used: ${bits(word, X86_ISA, '')}`; break;
        case 0xc0008002: s += datasz !== 4 ? `x86 ISA needed: ${corruptLength(datasz)}` : `x86 ISA needed: ${bits(word, X86_ISA, '')}`; break;
        case 0xc0000002: s += datasz !== 4 ? `x86 feature: ${corruptLength(datasz)}` : `x86 feature: ${bits(word, X86_FEATURE_1)}`; break;
        case 0xc0010001: s += datasz !== 4 ? `x86 feature used: ${corruptLength(datasz)}` : `x86 feature used: ${bits(word, X86_FEATURE_2)}`; break;
        case 0xc0008001: s += datasz !== 4 ? `x86 feature needed: ${corruptLength(datasz)}` : `x86 feature needed: ${bits(word, X86_FEATURE_2)}`; break;
        case 0xc0000000: case 0xc0000001: case 0xc0008000: case 0xc0010000:
          throw new DumpUnsupportedError(ctx.file, 'x86 compat ISA properties');
        default: done = false;
      }
    } else if (type === 1) {
      s += 'stack size: ' + (datasz !== 8 ? corruptLength(datasz) : altHexBig(desc.readBigUInt64LE(p)));
    } else if (type === 2) {
      s += 'no copy on protected ' + (datasz ? corruptLength(datasz) : '');
    } else if (type >= 0xb0000000 && type <= 0xb000ffff) {
      if (type === 0xb0008000) s += datasz !== 4 ? `1_needed: ${corruptLength(datasz)}` : `1_needed: ${bits(word, NEEDED_1, '')}`;
      else {
        s += type <= 0xb0007fff ? `UINT32_AND (0x${type.toString(16)}): ` : `UINT32_OR (0x${type.toString(16)}): `;
        s += datasz !== 4 ? corruptLength(datasz) : (word === 0 ? '0' : '0x' + word.toString(16));
      }
    } else done = false;
    if (!done) {
      if (type < 0xc0000000) s += `<unknown type 0x${type.toString(16)} data: `;
      else if (type < 0xe0000000) s += `<processor-specific type 0x${type.toString(16)} data: `;
      else s += `<application-specific type 0x${type.toString(16)} data: `;
      for (let j = 0; j < datasz; j++) s += hex(desc[p + j], 2) + ' ';
      s += '>';
    }
    p += (datasz + 7) & ~7;
    if (p === end) break;
    s += ctx.wide ? ', ' : '\n\t';
  }
  return s + '\n';
}

function altHexBig(v: bigint): string {
  return v === 0n ? '0' : '0x' + v.toString(16);
}

function stapsdtNote(ctx: DumpContext, desc: Buffer): string {
  const tooSmall = (): never => { throw new DumpUnsupportedError(ctx.file, 'a corrupt stapsdt note'); };
  if (desc.length < 24) tooSmall();
  const pc = desc.readBigUInt64LE(0);
  const base = desc.readBigUInt64LE(8);
  const sem = desc.readBigUInt64LE(16);
  let p = 24;
  const str = (): string => {
    if (p >= desc.length) tooSmall();
    const z = desc.indexOf(0, p);
    if (z < 0) tooSmall();
    const v = desc.toString('latin1', p, z);
    p = z + 1;
    return v;
  };
  const provider = str();
  const probe = str();
  const args = str();
  if (p !== desc.length) throw new DumpUnsupportedError(ctx.file, 'a stapsdt note with trailing bytes');
  return `    Provider: ${provider}\n    Name: ${probe}\n    Location: 0x${hex(pc, 16)}, Base: 0x${hex(base, 16)}, Semaphore: 0x${hex(sem, 16)}\n    Arguments: ${args}\n`;
}
