/**
 * The dynamic section as readelf locates it (the PT_DYNAMIC segment, or the
 * `.dynamic` section inside it when there are section headers), and the
 * virtual-address-to-file-offset mapping through PT_LOAD segments. Used for
 * the PIE file type, symbol versions and the "no static relocations" note.
 */
import type { DumpContext } from './context.js';
import { DumpUnsupportedError } from './names.js';
import { dynamicSection } from './segment-checks.js';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const SHT_NOBITS = 8;
export const DT_NULL = 0n;
export const DT_FLAGS_1 = 0x6ffffffbn;
export const DT_VERSYM = 0x6ffffff0n;
export const DT_VERDEF = 0x6ffffffcn;
export const DT_VERNEED = 0x6ffffffen;
export const DT_RELSZ = 18n;
export const DT_RELASZ = 8n;
export const DT_RELRSZ = 35n;
export const DT_PLTRELSZ = 2n;
const DF_1_PIE = 0x08000000n;
const M64 = (1n << 64n) - 1n;

export interface DynamicInfo {
  /** File offset and entry count (up to and including DT_NULL). */
  readonly offset: number;
  readonly count: number;
  /** First value of each tag seen. */
  readonly first: Map<bigint, bigint>;
  /** Last value of each tag seen (readelf's dynamic_info[] keeps the last). */
  readonly last: Map<bigint, bigint>;
}

const cache = new WeakMap<DumpContext, DynamicInfo | null>();

/** The dynamic entries, or undefined when the file has none. */
export function dynamicInfo(ctx: DumpContext): DynamicInfo | undefined {
  const hit = cache.get(ctx);
  if (hit !== undefined) return hit ?? undefined;
  const d = locate(ctx);
  cache.set(ctx, d ?? null);
  return d;
}

function locate(ctx: DumpContext): DynamicInfo | undefined {
  const { elf } = ctx;
  // readelf takes the last PT_DYNAMIC (checkProgramHeaders reports the problems met here).
  let seg;
  for (const p of elf.segments) if (p.p_type === PT_DYNAMIC) seg = p;
  if (!seg) return undefined;
  let addr = seg.p_offset;
  let size = seg.p_filesz;
  const len = BigInt(elf.buf.length);
  const sec = elf.sections.length > 0 ? dynamicSection(ctx) : undefined;
  if (sec !== undefined && sec.sh_size !== 0) {
    if (sec.sh_type === SHT_NOBITS) return undefined;
    addr = BigInt(sec.sh_offset);
    size = BigInt(sec.sh_size);
  }
  if (elf.sections.length === 0 || (sec !== undefined && sec.sh_size !== 0)) {
    // readelf forgets a dynamic section past the end of the file.
    if (addr > len || size > len - addr) return undefined;
  } else if (addr > len || size > len - addr) {
    // No .dynamic section: readelf reads the segment where it says, unchecked.
    throw new DumpUnsupportedError(ctx.file, 'a dynamic segment past the end of the file');
  }
  const offset = Number(addr);
  ctx.need(offset, size);
  const max = Math.floor(Number(size) / 16);
  const first = new Map<bigint, bigint>();
  const last = new Map<bigint, bigint>();
  let count = 0;
  for (let i = 0; i < max; i++) {
    const tag = elf.buf.readBigUInt64LE(offset + i * 16);
    const val = elf.buf.readBigUInt64LE(offset + i * 16 + 8);
    count++;
    if (!first.has(tag)) first.set(tag, val);
    last.set(tag, val);
    if (tag === DT_NULL) break;
  }
  return { offset, count, first, last };
}

/**
 * readelf's is_pie: the first DT_FLAGS_1 has DF_1_PIE. When readelf prints the
 * file type it reads the dynamic entries where the PT_DYNAMIC segment says
 * (its p_offset and p_filesz), not through the .dynamic section.
 */
export function isPie(ctx: DumpContext): boolean {
  const { elf } = ctx;
  if (elf.header.e_type !== 3) return false;
  let seg;
  for (const p of elf.segments) if (p.p_type === PT_DYNAMIC) seg = p;
  if (!seg) return false;
  const len = BigInt(elf.buf.length);
  if (seg.p_offset > len || seg.p_filesz > len - seg.p_offset) return false;
  const offset = Number(seg.p_offset);
  const max = Math.floor(Number(seg.p_filesz) / 16);
  ctx.need(offset, BigInt(max * 16));
  for (let i = 0; i < max; i++) {
    const tag = elf.buf.readBigUInt64LE(offset + i * 16);
    if (tag === DT_FLAGS_1) return (elf.buf.readBigUInt64LE(offset + i * 16 + 8) & DF_1_PIE) !== 0n;
    if (tag === DT_NULL) return false;
  }
  return false;
}

/** readelf's offset_from_vma; undefined where readelf would warn. */
export function offsetFromVma(ctx: DumpContext, vma: bigint, size: bigint): bigint | undefined {
  for (const seg of ctx.elf.segments) {
    if (seg.p_type !== PT_LOAD) continue;
    const base = seg.p_vaddr & ((-seg.p_align) & M64);
    if (vma >= base && ((vma + size) & M64) <= ((seg.p_vaddr + seg.p_filesz) & M64)) {
      return (vma - seg.p_vaddr + seg.p_offset) & M64;
    }
  }
  return undefined;
}
