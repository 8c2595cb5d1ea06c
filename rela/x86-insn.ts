/**
 * x86-64 instruction boundaries of a code section, decoded with iced-x86:
 * for a relocation inside code, the instruction holding it (a PC-relative
 * reference points at `S + A + (end - offset)`) and whether that instruction
 * is a direct call, jump or conditional jump (rel32), whose target needs no
 * ENDBR under IBT. Used by `kelp check`'s IBT rule.
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';

let icedModule: typeof Iced | null = null;
function iced(): typeof Iced {
  if (!icedModule) icedModule = createRequire(import.meta.url)('iced-x86') as typeof Iced;
  return icedModule;
}

export interface CodeMap {
  /** The instruction holding byte `off`: its end and whether it is a direct near call/jump/jcc; undefined past the code. */
  at(off: number): { start: number; end: number; directBranch: boolean } | undefined;
}

export function decodeCode(code: Buffer): CodeMap {
  const starts: number[] = [];
  const ends: number[] = [];
  const direct: boolean[] = [];
  if (code.length > 0) {
    const { Decoder, DecoderOptions, Instruction, FlowControl, OpKind } = iced();
    const dec = new Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.length), DecoderOptions.None);
    const ins = new Instruction();
    try {
      dec.ip = 0n;
      while (dec.canDecode) {
        const start = Number(dec.ip);
        dec.decodeOut(ins);
        starts.push(start);
        ends.push(Number(ins.nextIP));
        const fc = ins.flowControl;
        const branch = fc === FlowControl.Call || fc === FlowControl.UnconditionalBranch || fc === FlowControl.ConditionalBranch;
        direct.push(branch && ins.opCount > 0 && (ins.op0Kind === OpKind.NearBranch64 || ins.op0Kind === OpKind.NearBranch32));
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
      return { start: starts[lo], end: ends[lo], directBranch: direct[lo] };
    },
  };
}
