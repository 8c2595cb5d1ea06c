/**
 * x86-64 relocation semantics for kernel modules: the relocation types a
 * module (and so a livepatch `.klp.rela` section) may carry, their field size,
 * whether they are PC-relative, how the kernel's x86-64 apply_relocate_add
 * computes the value it writes, and which range check it performs.
 *
 * Facts this module encodes (arch/x86/kernel/module.c, Linux 6.1):
 *  - the loader accepts R_X86_64_NONE, R_X86_64_64, R_X86_64_32, R_X86_64_32S,
 *    R_X86_64_PC32, R_X86_64_PLT32 and R_X86_64_PC64 and refuses any other type
 *    with "Unknown rela relocation";
 *  - the value is S + A for the absolute types and S + A - P for the PC-relative
 *    ones (PLT32 is treated exactly like PC32: modules have no PLT);
 *  - R_X86_64_32 fails with "overflow in relocation" unless the value fits in
 *    32 bits unsigned, R_X86_64_32S unless it fits in 32 bits signed; the
 *    PC-relative 32-bit types are written truncated with no range check, so a
 *    target more than 2 GiB away silently breaks (kelp checks it instead);
 *  - before writing, the loader requires the target bytes to be zero ("Invalid
 *    relocation target, existing value is nonzero"), so a `.klp.rela` entry
 *    must point at zeroed bytes in the module image.
 *
 * Shared by `kelp link` (post-link checks), `kelp check`, `kelp diff` (which
 * fields are PC-relative) and `kelp dump` (the names, as readelf prints them).
 * The rest of the x86-64 descriptor: insn.ts (decoding instructions around a
 * relocation), module-area.ts (where modules load).
 */
import {
  R_X86_64_32, R_X86_64_32S, R_X86_64_64, R_X86_64_GOTPC32, R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_NONE, R_X86_64_PC32,
  R_X86_64_PC64, R_X86_64_PLT32, R_X86_64_REX_GOTPCRELX,
} from '../elf/constants.js';

/** The range check the kernel's apply_relocate_add performs on a type. */
export type KernelRangeCheck = 'none' | 'unsigned32' | 'signed32';

export interface RelocationDescriptor {
  type: number;
  /** The psABI name, e.g. `R_X86_64_PC32`. */
  name: string;
  /** Bytes written at the relocation's location (0 for R_X86_64_NONE). */
  size: 0 | 4 | 8;
  /** True when the value is relative to the location (S + A - P). */
  pcRelative: boolean;
  /** How the written field is interpreted by the psABI: signed or unsigned. */
  signed: boolean;
  /** The formula as the kernel computes it. */
  formula: 'none' | 'S + A' | 'S + A - P';
  /** The range check apply_relocate_add performs before writing. */
  kernelCheck: KernelRangeCheck;
}

const DESCRIPTORS: ReadonlyMap<number, RelocationDescriptor> = new Map<number, RelocationDescriptor>([
  [R_X86_64_NONE, { type: R_X86_64_NONE, name: 'R_X86_64_NONE', size: 0, pcRelative: false, signed: false, formula: 'none', kernelCheck: 'none' }],
  [R_X86_64_64, { type: R_X86_64_64, name: 'R_X86_64_64', size: 8, pcRelative: false, signed: false, formula: 'S + A', kernelCheck: 'none' }],
  [R_X86_64_32, { type: R_X86_64_32, name: 'R_X86_64_32', size: 4, pcRelative: false, signed: false, formula: 'S + A', kernelCheck: 'unsigned32' }],
  [R_X86_64_32S, { type: R_X86_64_32S, name: 'R_X86_64_32S', size: 4, pcRelative: false, signed: true, formula: 'S + A', kernelCheck: 'signed32' }],
  [R_X86_64_PC32, { type: R_X86_64_PC32, name: 'R_X86_64_PC32', size: 4, pcRelative: true, signed: true, formula: 'S + A - P', kernelCheck: 'none' }],
  [R_X86_64_PLT32, { type: R_X86_64_PLT32, name: 'R_X86_64_PLT32', size: 4, pcRelative: true, signed: true, formula: 'S + A - P', kernelCheck: 'none' }],
  [R_X86_64_PC64, { type: R_X86_64_PC64, name: 'R_X86_64_PC64', size: 8, pcRelative: true, signed: true, formula: 'S + A - P', kernelCheck: 'none' }],
]);

/** Every type the kernel's module loader accepts, in type order. */
export function supportedRelocations(): RelocationDescriptor[] {
  return [...DESCRIPTORS.values()].sort((a, b) => a.type - b.type);
}

/** The descriptor of a type, or undefined when the kernel's module loader refuses it. */
export function describeRelocation(type: number): RelocationDescriptor | undefined {
  return DESCRIPTORS.get(type);
}

/** True when the module loader accepts the type. */
export function isSupportedRelocation(type: number): boolean {
  return DESCRIPTORS.has(type);
}

/** The psABI names of the x86-64 relocation types 0..42, as GNU readelf prints them. */
const NAMES: readonly string[] = [
  'R_X86_64_NONE', 'R_X86_64_64', 'R_X86_64_PC32', 'R_X86_64_GOT32', 'R_X86_64_PLT32', 'R_X86_64_COPY',
  'R_X86_64_GLOB_DAT', 'R_X86_64_JUMP_SLOT', 'R_X86_64_RELATIVE', 'R_X86_64_GOTPCREL', 'R_X86_64_32',
  'R_X86_64_32S', 'R_X86_64_16', 'R_X86_64_PC16', 'R_X86_64_8', 'R_X86_64_PC8', 'R_X86_64_DTPMOD64',
  'R_X86_64_DTPOFF64', 'R_X86_64_TPOFF64', 'R_X86_64_TLSGD', 'R_X86_64_TLSLD', 'R_X86_64_DTPOFF32',
  'R_X86_64_GOTTPOFF', 'R_X86_64_TPOFF32', 'R_X86_64_PC64', 'R_X86_64_GOTOFF64', 'R_X86_64_GOTPC32',
  'R_X86_64_GOT64', 'R_X86_64_GOTPCREL64', 'R_X86_64_GOTPC64', 'R_X86_64_GOTPLT64', 'R_X86_64_PLTOFF64',
  'R_X86_64_SIZE32', 'R_X86_64_SIZE64', 'R_X86_64_GOTPC32_TLSDESC', 'R_X86_64_TLSDESC_CALL', 'R_X86_64_TLSDESC',
  'R_X86_64_IRELATIVE', 'R_X86_64_RELATIVE64', 'R_X86_64_PC32_BND', 'R_X86_64_PLT32_BND', 'R_X86_64_GOTPCRELX',
  'R_X86_64_REX_GOTPCRELX',
];

/** The psABI name of an x86-64 relocation type, or undefined for a type readelf does not name. */
export function knownRelocationName(type: number): string | undefined {
  if (type < NAMES.length) return NAMES[type];
  if (type === 250) return 'R_X86_64_GNU_VTINHERIT';
  if (type === 251) return 'R_X86_64_GNU_VTENTRY';
  return undefined;
}

/** The psABI name of any x86-64 relocation type (supported or not); `R_X86_64_<n>` for an unknown one. */
export function relocationName(type: number): string {
  return knownRelocationName(type) ?? `R_X86_64_<${type}>`;
}

/**
 * True when the relocated field holds an address relative to the CPU's
 * reference point, the end of the instruction (RIP-relative operands, calls
 * and jumps): S + A - P, with A compensating for the bytes between the field
 * and the instruction's end. Covers the GOT-relative forms gcc may emit too.
 */
export function isPcRelative(type: number): boolean {
  return type === R_X86_64_PC32 || type === R_X86_64_PLT32 || type === R_X86_64_GOTPCREL
    || type === R_X86_64_GOTPCRELX || type === R_X86_64_REX_GOTPCRELX || type === R_X86_64_GOTPC32;
}

export interface ComputedRelocation {
  /** The value as the kernel computes it, before truncation to the field (64-bit wrapping arithmetic). */
  value: bigint;
  /** The bytes written (little-endian, `size` long; empty for R_X86_64_NONE). */
  bytes: Buffer;
  /** True when the value does not fit the field as the psABI defines it. */
  overflow: boolean;
  /** True when the kernel's own range check would refuse it ("overflow in relocation"). */
  kernelRefuses: boolean;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const fitsSigned32 = (v: bigint): boolean => BigInt.asIntN(64, v) >= -0x80000000n && BigInt.asIntN(64, v) <= 0x7fffffffn;
const fitsUnsigned32 = (v: bigint): boolean => U64(v) <= 0xffffffffn;

/**
 * Computes a relocation as the kernel does. S is the symbol's address, A the
 * addend, P the address of the relocated field (all 64-bit; negative addends
 * are fine). Throws RangeError for a type the kernel refuses.
 */
export function computeRelocation(type: number, S: bigint, A: bigint, P: bigint): ComputedRelocation {
  const d = DESCRIPTORS.get(type);
  if (!d) throw new RangeError(`${relocationName(type)} is not a relocation type the kernel's module loader applies`);
  if (d.formula === 'none') return { value: 0n, bytes: Buffer.alloc(0), overflow: false, kernelRefuses: false };
  const value = U64(d.formula === 'S + A' ? S + A : S + A - P);
  let overflow = false;
  if (d.size === 4) overflow = d.signed ? !fitsSigned32(value) : !fitsUnsigned32(value);
  let kernelRefuses = false;
  if (d.kernelCheck === 'unsigned32') kernelRefuses = !fitsUnsigned32(value);
  else if (d.kernelCheck === 'signed32') kernelRefuses = !fitsSigned32(value);
  const bytes = Buffer.alloc(d.size);
  if (d.size === 8) bytes.writeBigUInt64LE(value);
  else bytes.writeUInt32LE(Number(value & 0xffffffffn));
  return { value, bytes, overflow, kernelRefuses };
}
