/**
 * x86-64 instructions around relocations, decoded with iced-x86: where each
 * instruction of a code section ends (a PC-relative field's reference point
 * is the end of its instruction, so the field points at `S + A + (end -
 * offset)`), what a relocated field does in its instruction (a direct
 * branch, an address made a value, or a memory operand: the IBT rules of
 * `kelp diff` and `kelp check`), and the decoder itself for the diff's
 * instruction-level comparisons.
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';

// iced-x86 (WebAssembly, ~30 MiB of memory once instantiated) loads on the
// first decode: most diffs never need one, and `kelp build`/`kelp --help`
// import this module without decoding anything.
let icedModule: typeof Iced | null = null;

/** The iced-x86 module, loaded on first use. */
export function iced(): typeof Iced {
  if (!icedModule) icedModule = createRequire(import.meta.url)('iced-x86') as typeof Iced;
  return icedModule;
}

/** The end offset of every instruction of a code section, in order. */
export function instructionEnds(code: Buffer): Uint32Array {
  const ends: number[] = [];
  if (code.length > 0) {
    const { Decoder, DecoderOptions, Instruction } = iced();
    const dec = new Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.length), DecoderOptions.None);
    const ins = new Instruction();
    try {
      dec.ip = 0n;
      while (dec.canDecode) {
        dec.decodeOut(ins);
        ends.push(Number(ins.nextIP));
      }
    } finally {
      ins.free();
      dec.free();
    }
  }
  return Uint32Array.from(ends);
}

/**
 * True when the 4-byte field at `off` of `code` follows a call or jump opcode
 * (e8/e9 rel32): the instruction ends with the field, no decoding needed. (A
 * RIP-relative operand's field follows a ModRM byte, never e8/e9.)
 */
export function endsWithRel32(code: Buffer, at: number, off: number, size: number): boolean {
  if (off < 1 || off + 4 > size) return false;
  const op = code[at - 1];
  return op === 0xe8 || op === 0xe9;
}

/**
 * True when the 4-byte field at `off` of `code` is the rel32 of a jump: e9
 * (jmp) or 0f 80..8f (jcc). Only for a PC-relative relocation's field: a
 * RIP-relative operand follows a ModRM byte of the form 00 reg 101, never
 * e9 or 0f 8x.
 */
export function isJumpRel32(code: Buffer, off: number): boolean {
  if (off < 1 || off + 4 > code.length) return false;
  const op = code[off - 1];
  return op === 0xe9 || (off >= 2 && code[off - 2] === 0x0f && (op & 0xf0) === 0x80);
}

/**
 * How far past the relocated 4-byte field at `off` the instruction holding
 * it ends, from the instruction ends of its section (4 for a call, 5 or 8
 * with a trailing immediate); 4 past the last instruction.
 */
export function fieldToInstructionEnd(ends: Uint32Array, off: number): number {
  const i = instructionAt(ends, off);
  return i < 0 ? 4 : ends[i] - off;
}

/**
 * What a relocated field does in its instruction:
 *  - 'branch': the rel32 of a direct call, jump or conditional jump, whose
 *    target needs no ENDBR under IBT;
 *  - 'address': the address itself becomes a value (an immediate, or the
 *    displacement of a LEA): a function pointer;
 *  - 'memory': the displacement of any other memory operand: the code reads
 *    or writes what is there, it takes no function's address.
 */
export type ReferenceKind = 'branch' | 'address' | 'memory';

/** The index of the instruction holding byte `off`, from a section's instruction ends; -1 past the last. */
export function instructionAt(ends: Uint32Array, off: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid] <= off) lo = mid + 1;
    else hi = mid;
  }
  return lo < ends.length ? lo : -1;
}

/** What the field at `off` does in the instruction that starts at `start` in `code`. */
export function referenceKind(code: Buffer, start: number, off: number): ReferenceKind {
  const I = iced();
  const bytes = code.subarray(start, Math.min(code.length, start + 15));
  const dec = new I.Decoder(64, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), I.DecoderOptions.None);
  const ins = new I.Instruction();
  try {
    dec.ip = 0n;
    dec.decodeOut(ins);
    const fc = ins.flowControl;
    const branch = fc === I.FlowControl.Call || fc === I.FlowControl.UnconditionalBranch || fc === I.FlowControl.ConditionalBranch;
    if (branch && ins.opCount > 0 && (ins.op0Kind === I.OpKind.NearBranch64 || ins.op0Kind === I.OpKind.NearBranch32)) return 'branch';
    const c = dec.getConstantOffsets(ins);
    const inDisplacement = c.displacementSize > 0 && off - start === c.displacementOffset;
    c.free();
    return inDisplacement && ins.mnemonic !== I.Mnemonic.Lea ? 'memory' : 'address';
  } finally {
    ins.free();
    dec.free();
  }
}

/** One decoded instruction's place and how control and addresses leave it. */
export interface InstructionFlow {
  off: number;
  end: number;
  /** Control goes on to the next instruction only (no branch, call, return, trap). */
  straight: boolean;
  /** The section offset a direct branch or call goes to, or a RIP-relative operand reaches (as encoded, before relocation); -1: none. */
  reaches: number;
  /** The instruction has a RIP-relative memory operand. */
  ipRelative: boolean;
}

/** Every instruction of a code section, in order, with its flow (offsets relative to the section). */
export function instructionFlows(code: Buffer): InstructionFlow[] {
  const out: InstructionFlow[] = [];
  if (code.length === 0) return out;
  const I = iced();
  const dec = new I.Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.length), I.DecoderOptions.None);
  const ins = new I.Instruction();
  try {
    dec.ip = 0n;
    while (dec.canDecode) {
      dec.decodeOut(ins);
      const off = Number(ins.ip);
      const end = Number(ins.nextIP);
      const fc = ins.flowControl;
      const near = ins.opCount > 0 && (ins.op0Kind === I.OpKind.NearBranch64 || ins.op0Kind === I.OpKind.NearBranch32 || ins.op0Kind === I.OpKind.NearBranch16);
      const ipRelative = ins.isIpRelMemoryOperand;
      const reaches = near ? Number(ins.nearBranchTarget) : ipRelative ? Number(ins.ipRelMemoryAddress) : -1;
      out.push({ off, end, straight: fc === I.FlowControl.Next && !ins.isInvalid, reaches, ipRelative });
    }
  } finally {
    ins.free();
    dec.free();
  }
  return out;
}
