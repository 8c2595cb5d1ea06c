/**
 * The dynamic string table as readelf finds it: the SHT_STRTAB section named
 * `.dynstr` when there are section headers, else the DT_STRTAB address (mapped
 * through the PT_LOAD segments) with DT_STRSZ bytes. -d and -V print the
 * names of needed libraries, sonames, paths and versions from it.
 */
import type { DumpContext } from './context.js';
import { dynamicInfo, offsetFromVma } from './dynamic.js';
import { DumpUnsupportedError } from './names.js';

const SHT_STRTAB = 3;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;

export interface DynamicStrings {
  /** File offset and length of the table. */
  readonly offset: number;
  readonly length: number;
  /** readelf's valid_dynamic_name. */
  valid(off: bigint | number): boolean;
  /** The string at `off` (valid offsets only): up to its NUL or the table's end. */
  get(off: bigint | number): string;
}

const cache = new WeakMap<DumpContext, DynamicStrings | null>();

/** The dynamic string table, or undefined when readelf has none. */
export function dynamicStrings(ctx: DumpContext): DynamicStrings | undefined {
  const hit = cache.get(ctx);
  if (hit !== undefined) return hit ?? undefined;
  const t = locate(ctx);
  cache.set(ctx, t ?? null);
  return t;
}

function locate(ctx: DumpContext): DynamicStrings | undefined {
  const { elf } = ctx;
  const size = BigInt(elf.buf.length);
  let found: { offset: bigint; length: bigint } | undefined;
  for (const s of elf.sections) {
    if (s.sh_type !== SHT_STRTAB || !ctx.hasNames || elf.sectionNameOrUndefined(s) !== '.dynstr') continue;
    if (found) throw new DumpUnsupportedError(ctx.file, 'more than one .dynstr section');
    // An empty one reads as no table (readelf then looks at DT_STRTAB).
    if (s.sh_size === 0) continue;
    found = { offset: BigInt(s.sh_offset), length: BigInt(s.sh_size) };
    if (found.offset > size || found.length > size - found.offset) throw new DumpUnsupportedError(ctx.file, 'a .dynstr section past the end of the file');
  }
  if (!found) {
    const d = dynamicInfo(ctx);
    if (!d) return undefined;
    let strtab = 0n;
    let strsz = 0n;
    for (let i = 0; i < d.count; i++) {
      const tag = elf.buf.readBigUInt64LE(d.offset + i * 16);
      const val = elf.buf.readBigUInt64LE(d.offset + i * 16 + 8);
      if (tag === DT_STRTAB) strtab = val;
      if (tag === DT_STRSZ) strsz = val;
      if (strtab !== 0n && strsz !== 0n) {
        const off = offsetFromVma(ctx, strtab, strsz);
        if (off === undefined || off > size || strsz > size - off) throw new DumpUnsupportedError(ctx.file, 'a DT_STRTAB outside the file');
        found = { offset: off, length: strsz };
        break;
      }
    }
    if (!found) return undefined;
  }
  const offset = Number(found.offset);
  const length = Number(found.length);
  ctx.need(offset, length);
  const buf = elf.buf;
  const end = offset + length;
  return {
    offset,
    length,
    valid: (off) => off < length && off >= 0,
    get: (off) => {
      const start = offset + Number(off);
      let nul = buf.indexOf(0, start);
      if (nul < 0 || nul > end) nul = end;
      return buf.toString('latin1', start, nul);
    },
  };
}
