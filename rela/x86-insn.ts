/**
 * x86-64 instruction boundaries of a code section, decoded with iced-x86:
 * for a relocation inside code, the instruction holding it (a PC-relative
 * reference points at `S + A + (end - offset)`) and what the reference does:
 *  - 'branch': the rel32 of a direct call, jump or conditional jump, whose
 *    target needs no ENDBR under IBT;
 *  - 'address': the address itself becomes a value (an immediate, or the
 *    displacement of a LEA): a function pointer;
 *  - 'memory': the displacement of any other memory operand: the code reads
 *    or writes what is there (a variable), it takes no function's address.
 * Used by the IBT rules of `kelp diff` and `kelp check`.
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';

let icedModule: typeof Iced | null = null;
function iced(): typeof Iced {
  if (!icedModule) icedModule = createRequire(import.meta.url)('iced-x86') as typeof Iced;
  return icedModule;
}

export type ReferenceKind = 'branch' | 'address' | 'memory';

export interface CodeMap {
  /** The instruction holding byte `off`: its bounds and what a relocated field at `off` does; undefined past the code. */
  at(off: number): { start: number; end: number; kind: ReferenceKind } | undefined;
}

/** What a field at `off` (within the instruction that starts at `start`) does in `ins`, decoded there. */
function kindOf(I: typeof Iced, dec: Iced.Decoder, ins: Iced.Instruction, start: number, off: number): ReferenceKind {
  const fc = ins.flowControl;
  const branch = fc === I.FlowControl.Call || fc === I.FlowControl.UnconditionalBranch || fc === I.FlowControl.ConditionalBranch;
  if (branch && ins.opCount > 0 && (ins.op0Kind === I.OpKind.NearBranch64 || ins.op0Kind === I.OpKind.NearBranch32)) return 'branch';
  const c = dec.getConstantOffsets(ins);
  const inDisplacement = c.displacementSize > 0 && off === start + c.displacementOffset;
  c.free();
  return inDisplacement && ins.mnemonic !== I.Mnemonic.Lea ? 'memory' : 'address';
}

export function decodeCode(code: Buffer): CodeMap {
  const starts: number[] = [];
  const ends: number[] = [];
  if (code.length > 0) {
    const { Decoder, DecoderOptions, Instruction } = iced();
    const dec = new Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.length), DecoderOptions.None);
    const ins = new Instruction();
    try {
      dec.ip = 0n;
      while (dec.canDecode) {
        const start = Number(dec.ip);
        dec.decodeOut(ins);
        starts.push(start);
        ends.push(Number(ins.nextIP));
      }
    } finally {
      ins.free();
      dec.free();
    }
  }
  return {
    at(off) {
      let lo = 0;
      let hi = ends.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid] <= off) lo = mid + 1;
        else hi = mid;
      }
      if (lo >= ends.length || starts[lo] > off) return undefined;
      return { start: starts[lo], end: ends[lo], kind: referenceKind(code, starts[lo], off) };
    },
  };
}

/** What a relocated field at `off` does in the instruction that starts at `start` in `code`. */
export function referenceKind(code: Buffer, start: number, off: number): ReferenceKind {
  const I = iced();
  const bytes = code.subarray(start, Math.min(code.length, start + 15));
  const dec = new I.Decoder(64, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), I.DecoderOptions.None);
  const ins = new I.Instruction();
  try {
    dec.ip = 0n;
    dec.decodeOut(ins);
    return kindOf(I, dec, ins, 0, off - start);
  } finally {
    ins.free();
    dec.free();
  }
}
