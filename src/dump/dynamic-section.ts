/**
 * readelf -d: the entries of the dynamic section, each with its tag, the
 * tag's name and its value as readelf shows it (library names, byte sizes,
 * counts, flag words, addresses).
 */
import type { DumpContext } from './context.js';
import { dynamicInfo } from './dynamic.js';
import { dynamicStrings } from './dynamic-strings.js';
import { dynamicTagName, DT } from './dynamic-tags.js';
import { DumpUnsupportedError } from './names.js';
import { hex, spaces } from './format.js';

const PT_INTERP = 3;
const DT_SYMINFO = 0x6ffffeffn;
/** Machines whose other tags readelf prints its own way (AArch64, MIPS, PA-RISC, IA-64). */
const VALUE_PRINTERS = new Set([183, 8, 10, 15, 50]);

/** Flag names of DT_FLAGS_1, lowest bit first. */
const FLAGS_1 = [
  'NOW', 'GLOBAL', 'GROUP', 'NODELETE', 'LOADFLTR', 'INITFIRST', 'NOOPEN', 'ORIGIN', 'DIRECT', 'TRANS', 'INTERPOSE',
  'NODEFLIB', 'NODUMP', 'CONFALT', 'ENDFILTEE', 'DISPRELDNE', 'DISPRELPND', 'NODIRECT', 'IGNMULDEF', 'NOKSYMS', 'NOHDR',
  'EDITED', 'NORELOC', 'SYMINTPOSE', 'GLOBAUDIT', 'SINGLETON', 'STUB', 'PIE', 'KMOD', 'WEAKFILTER', 'NOCOMMON',
];
const FLAGS = ['ORIGIN', 'SYMBOLIC', 'TEXTREL', 'BIND_NOW', 'STATIC_TLS'];

/** `Flags: A B` for the named low bits, the rest in hex, or ` None`. */
function flagWord(val: bigint, names: readonly string[]): string {
  if (val === 0n) return 'Flags: None';
  let s = 'Flags:';
  let rest = val;
  for (let i = 0; i < names.length; i++) {
    const bit = 1n << BigInt(i);
    if (rest & bit) {
      s += ` ${names[i]}`;
      rest ^= bit;
    }
  }
  if (rest !== 0n) s += ` ${rest.toString(16)}`;
  return s;
}

/** readelf's print_dynamic_flags (DT_FLAGS): each set bit, lowest first. */
function dtFlags(val: bigint): string {
  const parts: string[] = [];
  for (let i = 0; val !== 0n; i++, val >>= 1n) {
    if (val & 1n) parts.push(i < FLAGS.length ? FLAGS[i] : 'unknown');
  }
  return parts.join(' ');
}

/** The program interpreter named by PT_INTERP (for the ` program interpreter` mark). */
function interpreter(ctx: DumpContext): string | undefined {
  let name: string | undefined;
  const { buf } = ctx.elf;
  for (const p of ctx.elf.segments) {
    if (p.p_type !== PT_INTERP) continue;
    const len = BigInt(buf.length);
    if (p.p_offset >= len || p.p_filesz > len - p.p_offset || p.p_filesz === 0n) throw new DumpUnsupportedError(ctx.file, 'a PT_INTERP segment outside the file');
    const off = Number(p.p_offset);
    ctx.need(off, p.p_filesz);
    const end = off + Number(p.p_filesz);
    let nul = buf.indexOf(0, off);
    if (nul < 0 || nul > end) nul = end;
    name = buf.toString('latin1', off, nul);
  }
  return name;
}

/** An ISO date of a DT_GNU_PRELINKED time stamp, as gmtime gives it. */
function prelinkTime(val: bigint, file: string): string {
  const secs = BigInt.asIntN(64, val);
  if (secs > 8_000_000_000_000n || secs < -8_000_000_000_000n) throw new DumpUnsupportedError(file, 'a DT_GNU_PRELINKED time outside the calendar');
  const d = new Date(Number(secs) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

export function printDynamicSection(ctx: DumpContext): void {
  const { out, elf, file } = ctx;
  const d = dynamicInfo(ctx);
  if (!d) {
    out.w('\nThere is no dynamic section in this file.\n');
    return;
  }
  const strings = dynamicStrings(ctx);
  const buf = elf.buf;
  if (d.offset !== 0) out.w(`\nDynamic section at offset 0x${d.offset.toString(16)} contains ${d.count} ${d.count === 1 ? 'entry' : 'entries'}:\n`);
  out.w('  Tag        Type                         Name/Value\n');
  let interp: string | null | undefined = null;
  for (let i = 0; i < d.count; i++) {
    const tag = buf.readBigUInt64LE(d.offset + i * 16);
    const val = buf.readBigUInt64LE(d.offset + i * 16 + 8);
    if (tag === DT_SYMINFO) throw new DumpUnsupportedError(file, 'a DT_SYMINFO dynamic entry');
    const type = dynamicTagName(ctx, tag);
    let line = ` 0x${hex(tag, 16)} (${type})${spaces(Math.max(1, 19 - type.length))}`;
    const name = (): string | undefined => (strings && strings.valid(val) ? strings.get(val) : undefined);
    switch (tag) {
      case DT.FLAGS: line += dtFlags(val); break;
      case DT.AUXILIARY: case DT.FILTER: case DT.CONFIG: case DT.DEPAUDIT: case DT.AUDIT: {
        const what = tag === DT.AUXILIARY ? 'Auxiliary library' : tag === DT.FILTER ? 'Filter library'
          : tag === DT.CONFIG ? 'Configuration file' : tag === DT.DEPAUDIT ? 'Dependency audit library' : 'Audit library';
        const n = name();
        line += n !== undefined ? `${what}: [${n}]` : `${what}: 0x${val.toString(16)}`;
        break;
      }
      case DT.FEATURE: line += flagWord(val, ['PARINIT', 'CONFEXP']); break;
      case DT.POSFLAG_1: line += flagWord(val, ['LAZYLOAD', 'GROUPPERM']); break;
      case DT.FLAGS_1: line += flagWord(val, FLAGS_1); break;
      case DT.GNU_FLAGS_1: line += flagWord(val, ['UNIQUE']); break;
      case DT.PLTREL: line += dynamicTagName(ctx, val); break;
      case DT.NEEDED: case DT.SONAME: case DT.RPATH: case DT.RUNPATH: {
        const n = name();
        if (n === undefined) line += `0x${val.toString(16)}`;
        else if (tag === DT.NEEDED) {
          if (interp === null) interp = interpreter(ctx);
          line += `Shared library: [${n}]${interp !== undefined && n === interp ? ' program interpreter' : ''}`;
        } else line += `${tag === DT.SONAME ? 'Library soname' : tag === DT.RPATH ? 'Library rpath' : 'Library runpath'}: [${n}]`;
        break;
      }
      case DT.PLTRELSZ: case DT.RELASZ: case DT.STRSZ: case DT.RELSZ: case DT.RELAENT: case DT.RELRENT: case DT.RELRSZ:
      case DT.SYMENT: case DT.RELENT: case DT.PLTPADSZ: case DT.MOVEENT: case DT.MOVESZ: case DT.PREINIT_ARRAYSZ:
      case DT.INIT_ARRAYSZ: case DT.FINI_ARRAYSZ: case DT.GNU_CONFLICTSZ: case DT.GNU_LIBLISTSZ:
        line += `${val} (bytes)`;
        break;
      case DT.VERDEFNUM: case DT.VERNEEDNUM: case DT.RELACOUNT: case DT.RELCOUNT:
        line += String(val);
        break;
      case DT.USED: {
        const n = name();
        line += n ? `Not needed object: [${n}]` : `0x${val.toString(16)}`;
        break;
      }
      case DT.BIND_NOW: break;
      case DT.GNU_PRELINKED: line += prelinkTime(val, file); break;
      default:
        if (VALUE_PRINTERS.has(ctx.machine)) throw new DumpUnsupportedError(file, `dynamic tag 0x${tag.toString(16)} of machine ${ctx.machine}`);
        line += `0x${val.toString(16)}`;
    }
    out.w(line + '\n');
  }
}
