/**
 * x86-64 instruction facts the diff needs, decoded with iced-x86: where the
 * instruction holding a relocation ends (a PC-relative reference points at
 * `S + A + (end - offset)`), and whether two function bodies differ only in
 * `__LINE__` immediates.
 */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';
import {
  R_X86_64_GOTPC32, R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_REX_GOTPCRELX,
} from '../../elf/constants.js';
import type { DRel, DSec } from './model.js';

// iced-x86 (WebAssembly, ~30 MiB of memory once instantiated) loads on the
// first decode: most diffs never need one, and `kelp build`/`kelp --help`
// import this module without diffing anything.
let icedModule: typeof Iced | null = null;
function iced(): typeof Iced {
  if (!icedModule) icedModule = createRequire(import.meta.url)('iced-x86') as typeof Iced;
  return icedModule;
}

export function isPcRelative(type: number): boolean {
  return type === R_X86_64_PC32 || type === R_X86_64_PLT32 || type === R_X86_64_GOTPCREL
    || type === R_X86_64_GOTPCRELX || type === R_X86_64_REX_GOTPCRELX || type === R_X86_64_GOTPC32;
}

/** Decodes a text section once; returns the end offset of every instruction. */
function instructionEnds(sec: DSec): Uint32Array {
  if (sec.insnEnds) return sec.insnEnds;
  const data = sec.data;
  const ends: number[] = [];
  if (data.length > 0) {
    const { Decoder, DecoderOptions, Instruction } = iced();
    const dec = new Decoder(64, new Uint8Array(data.buffer, data.byteOffset, data.length), DecoderOptions.None);
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
  sec.insnEnds = Uint32Array.from(ends);
  return sec.insnEnds;
}

/**
 * How far past the relocated field the CPU's reference point lies: for a
 * PC-relative relocation in code, the end of the instruction minus the
 * field's offset (4 for a call, 5 or 8 with a trailing immediate); else 0.
 */
export function pcAdjust(sec: DSec, r: DRel): number {
  if (!sec.isText || !isPcRelative(r.type)) return 0;
  const ends = instructionEnds(sec);
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid] <= r.offset) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= ends.length) return 4;
  return ends[lo] - r.offset;
}

/** Functions whose arguments carry `__LINE__` (WARN, might_sleep, printk and friends). */
const LINE_CONSUMERS = /^(warn_slowpath_\w+|__warn_printk|__might_sleep|___might_sleep|__might_resched|__might_fault|_?printk|lockdep_rcu_suspicious|__btrfs_abort_transaction|btrfs_handle_fs_error|__btrfs_handle_fs_error|_btrfs_printk|btrfs_printk|__btrfs_panic|__btrfs_std_error|__xfs_printk|xfs_error_report|xfs_corruption_error|__ext4_error|__ext4_std_error|__ext4_warning|__ext4_msg|__ubsan_handle_\w+|__dynamic_pr_debug|rcu_read_lock_held)$/;

/**
 * True when `a` and `b` (same length, same relocations) differ only in
 * `mov $imm32, %reg` instructions whose value feeds a call to a line-number
 * consumer: the next relocation after the instruction (string references
 * skipped) names one of LINE_CONSUMERS.
 */
export function differsOnlyInLineNumbers(a: DSec, b: DSec, nameOf: (r: DRel) => string | null): boolean {
  const da = a.data;
  const db = b.data;
  if (da.length !== db.length || da.length === 0) return false;
  const { Decoder, DecoderOptions, Instruction, Code } = iced();
  const decA = new Decoder(64, new Uint8Array(da.buffer, da.byteOffset, da.length), DecoderOptions.None);
  const decB = new Decoder(64, new Uint8Array(db.buffer, db.byteOffset, db.length), DecoderOptions.None);
  const ia = new Instruction();
  const ib = new Instruction();
  try {
    decA.ip = 0n;
    decB.ip = 0n;
    let off = 0;
    while (decA.canDecode && decB.canDecode) {
      decA.decodeOut(ia);
      decB.decodeOut(ib);
      const len = ia.length;
      if (len !== ib.length) return false;
      if (da.compare(db, off, off + len, off, off + len) !== 0) {
        const movA = ia.code === Code.Mov_r32_imm32 || ia.code === Code.Mov_rm32_imm32;
        const movB = ib.code === Code.Mov_r32_imm32 || ib.code === Code.Mov_rm32_imm32;
        if (!movA || !movB || ia.op0Register !== ib.op0Register || ia.op0Register === 0) return false;
        let ok = false;
        for (const r of b.relocsIn(off + len, b.size)) {
          const name = nameOf(r);
          if (name === null) continue; // a string: skip
          ok = LINE_CONSUMERS.test(name);
          break;
        }
        if (!ok) return false;
      }
      off += len;
    }
    return true;
  } finally {
    ia.free();
    ib.free();
    decA.free();
    decB.free();
  }
}
