/**
 * The diff's instruction-level questions (x86-64 facts in rela/): where a
 * PC-relative relocation's reference point lies, per section of a Kelf, and
 * whether two function bodies differ only in `__LINE__` immediates.
 */
import { endsWithRel32, fieldToInstructionEnd, iced, instructionAt, instructionEnds, referenceKind, type ReferenceKind } from '../../rela/insn.js';
import { isPcRelative } from '../../rela/x86_64.js';
import type { Kelf } from './model.js';

/** The instruction ends of a text section, decoded once per section. */
function sectionInstructionEnds(k: Kelf, sec: number): Uint32Array {
  const hit = k.insnEnds.get(sec);
  if (hit) return hit;
  const out = instructionEnds(k.secData(sec));
  k.insnEnds.set(sec, out);
  return out;
}

/**
 * How far past the relocated field the CPU's reference point lies: for a
 * PC-relative relocation (index `j`) in code, the end of the instruction
 * minus the field's offset (4 for a call, 5 or 8 with a trailing immediate);
 * else 0.
 */
export function pcAdjust(k: Kelf, sec: number, j: number): number {
  if (!isPcRelative(k.relType[j]) || !k.isText(sec)) return 0;
  const off = k.relOff[j];
  // A call or jump ends with its field: no need to decode (unless the section was decoded already).
  if (endsWithRel32(k.buf, k.secOffset(sec) + off, off, k.secSize(sec)) && !k.insnEnds.has(sec)) return 4;
  return fieldToInstructionEnd(sectionInstructionEnds(k, sec), off);
}

/**
 * What relocation `j` in code does (rela/insn.ts): the rel32 of a direct
 * call or jump ('branch'), an address made a value ('address': an immediate,
 * a LEA), or a memory operand ('memory'); undefined outside decoded code.
 */
export function codeReferenceKind(k: Kelf, sec: number, j: number): ReferenceKind | undefined {
  if (!k.isText(sec)) return undefined;
  const off = k.relOff[j];
  const ends = sectionInstructionEnds(k, sec);
  const i = instructionAt(ends, off);
  return i < 0 ? undefined : referenceKind(k.secData(sec), i === 0 ? 0 : ends[i - 1], off);
}

/** Functions whose arguments carry `__LINE__` (WARN, might_sleep, printk and friends). */
const LINE_CONSUMERS = /^(warn_slowpath_\w+|__warn_printk|__might_sleep|___might_sleep|__might_resched|__might_fault|_?printk|lockdep_rcu_suspicious|__btrfs_abort_transaction|btrfs_handle_fs_error|__btrfs_handle_fs_error|_btrfs_printk|btrfs_printk|__btrfs_panic|__btrfs_std_error|__xfs_printk|xfs_error_report|xfs_corruption_error|__ext4_error|__ext4_std_error|__ext4_warning|__ext4_msg|__ubsan_handle_\w+|__dynamic_pr_debug|rcu_read_lock_held)$/;

/**
 * True when the bytes of `a` and `b` (same length) might differ only in the
 * 32-bit immediates of `mov $imm32` instructions: every differing byte has a
 * b8..bf opcode at most 4 bytes before it or a c7 at most 10 bytes before
 * it, in either. A cheap filter in front of the decoder (false means the
 * difference is certainly not a line number).
 */
function onlyMovImmediatesMayDiffer(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  const near = (d: Buffer, at: number): boolean => {
    for (let k = 1; k <= 10 && at - k >= 0; k++) {
      const op = d[at - k];
      if (op === 0xc7 || (k <= 4 && op >= 0xb8 && op <= 0xbf)) return true;
    }
    return false;
  };
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    if (!near(a, i) && !near(b, i)) return false;
  }
  return true;
}

/** A `mov $imm32` whose value feeds a line-number consumer and differs between the two objects. */
export interface LineCandidate {
  orig: number;
  patched: number;
  callee: string;
}

/**
 * How section `a` of `ka` (the original) and `b` of `kb` (the patched; same
 * length, same relocations) differ: 'no' unless every differing instruction
 * is a `mov $imm32, %reg` whose value feeds a call to a line-number consumer
 * (the next relocation of `b` after it, strings skipped, names one of
 * LINE_CONSUMERS); then 'line' when `explains` (the patch's line moves)
 * accepts every value pair, else the first pair it does not.
 */
export function lineNumberDifference(
  ka: Kelf, a: number, kb: Kelf, b: number, nameOf: (j: number) => string | null,
  explains: (orig: number, patched: number) => boolean,
): 'no' | 'line' | LineCandidate {
  const da = ka.secData(a);
  const db = kb.secData(b);
  if (da.length !== db.length || da.length === 0) return 'no';
  if (!onlyMovImmediatesMayDiffer(da, db)) return 'no';
  let unexplained: LineCandidate | null = null;
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
      if (len !== ib.length) return 'no';
      if (da.compare(db, off, off + len, off, off + len) !== 0) {
        const movA = ia.code === Code.Mov_r32_imm32 || ia.code === Code.Mov_rm32_imm32;
        const movB = ib.code === Code.Mov_r32_imm32 || ib.code === Code.Mov_rm32_imm32;
        if (!movA || !movB || ia.op0Register !== ib.op0Register || ia.op0Register === 0) return 'no';
        let callee: string | null = null;
        const end = kb.relStart[b + 1];
        for (let j = kb.relFirst(b, off + len); j < end; j++) {
          const name = nameOf(j);
          if (name === null) continue; // a string: skip
          if (LINE_CONSUMERS.test(name)) callee = name;
          break;
        }
        if (callee === null) return 'no';
        const orig = ia.immediate32;
        const patched = ib.immediate32;
        if (unexplained === null && !explains(orig, patched)) unexplained = { orig, patched, callee };
      }
      off += len;
    }
    return unexplained ?? 'line';
  } finally {
    ia.free();
    ib.free();
    decA.free();
    decB.free();
  }
}
