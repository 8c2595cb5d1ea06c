/**
 * x86-64 facts for testing a static key at run time instead of patching a
 * jump label site (src/diff/key-test.ts says why and when). From the kernel
 * sources, the same in Linux 6.1 and 6.12:
 *
 *  - a site (arch/x86/include/asm/jump_label.h) is `jmp l_yes` (eb rel8 or
 *    e9 rel32, the assembler's choice by distance) or, once objtool has
 *    NOPed an arch_static_branch() site (CONFIG_HAVE_JUMP_LABEL_HACK), the
 *    NOP of the same length: 66 90 or 0f 1f 44 00 00 (BYTES_NOP2,
 *    BYTES_NOP5; objtool's arch_nop_insn). Without the hack the site is a
 *    5-byte NOP from the start;
 *  - the entry's key field is `key + (2 | branch) - .` or `key + branch - .`:
 *    bit 0 is the branch bit (jump_entry_is_branch), bit 1 the init bit the
 *    kernel rewrites at load; struct static_key holds an unsigned long, so a
 *    key is 8-aligned and the two bits never belong to its address;
 *  - the site jumps to the entry's target exactly when
 *    static_key_enabled(key) XOR branch (kernel/jump_label.c,
 *    jump_label_type(); JUMP_LABEL_JMP is 1);
 *  - static_key_enabled() is static_key_count() > 0, and static_key_count()
 *    reads `atomic_t enabled`, the key's first member (offset 0 of struct
 *    static_key, and of static_key_true/_false and the _deferred kinds that
 *    embed it first), counting -1 (first enable in progress) as 1: the key
 *    is enabled exactly when that int is not 0;
 *  - an asm statement clobbers the flags on x86 (gcc always treats "cc" as
 *    clobbered), so no flag is live across a site or at its target, and
 *    the test may use cmp and jcc.
 */

/** The forms a jump label site takes in an object, by its first bytes. */
export type SiteForm = 'nop5' | 'nop2' | 'jmp32' | 'jmp8';

const NOP5 = [0x0f, 0x1f, 0x44, 0x00, 0x00];
const NOP2 = [0x66, 0x90];

/** The site form of the bytes at `at`, or null for anything else. */
export function siteForm(code: Buffer, at: number): SiteForm | null {
  const is = (bytes: number[]) => at >= 0 && at + bytes.length <= code.length && bytes.every((b, i) => code[at + i] === b);
  if (is(NOP5)) return 'nop5';
  if (is(NOP2)) return 'nop2';
  if (at >= 0 && at + 5 <= code.length && code[at] === 0xe9) return 'jmp32';
  if (at >= 0 && at + 2 <= code.length && code[at] === 0xeb) return 'jmp8';
  return null;
}

/** The length of a site of that form. */
export function siteLength(form: SiteForm): 2 | 5 {
  return form === 'nop2' || form === 'jmp8' ? 2 : 5;
}

/**
 * The key test, 18 bytes, between copies of the instructions moved out of
 * the site's way (none, unless the site needed a window: src/diff/site-window.ts):
 *   <moved instructions before the site>
 *   cmpl $0, key(%rip)     83 3d <disp32> 00
 *   jne/je target          0f 85|84 <rel32>     (je when the branch bit is set)
 *   <moved instructions after the site>
 *   jmp back               e9 <rel32>           (to the end of the window)
 */
export const KEY_TEST_SIZE = 18;
/** The bytes of the test before the moved instructions after the site. */
export const KEY_TEST_HEAD = 13;
/** The offset of the key's disp32 in the test, and what the relocation adds to the key's address: the field is followed by 4 + 1 bytes of its instruction. */
export const KEY_FIELD = 2;
export const KEY_FIELD_ADJUST = -5n;
/** The offset of the jcc's rel32, and its adjustment (the field ends its instruction). */
export const TARGET_FIELD = 9;
export const TARGET_FIELD_ADJUST = -4n;
/** The branch bit of a key field's addend and the two bits that are never the key's address. */
export const BRANCH_BIT = 1n;
export const KEY_FLAG_BITS = 3n;

/** The bytes of a key test at `at` (moved instructions `before` and `after` around it) returning to `back`; the key and target fields are left 0 for their relocations. */
export function keyTestBytes(at: number, before: Buffer, after: Buffer, back: number, branch: boolean): Buffer {
  const head = Buffer.alloc(KEY_TEST_HEAD);
  head[0] = 0x83;
  head[1] = 0x3d;
  head[6] = 0x00;
  head[7] = 0x0f;
  head[8] = branch ? 0x84 : 0x85;
  const tail = Buffer.alloc(5);
  tail[0] = 0xe9;
  const size = before.length + KEY_TEST_SIZE + after.length;
  tail.writeInt32LE(back - (at + size), 1);
  return Buffer.concat([before, head, after, tail]);
}

/**
 * The bytes that replace the window [from, from + length) (the site alone,
 * or the site and the instructions moved away): a jmp to the test at `to`,
 * then int3 up to the window's end, which nothing enters; null when a 2-byte
 * window cannot reach the test.
 */
export function siteJump(from: number, length: number, to: number): Buffer | null {
  if (length >= 5) {
    const b = Buffer.alloc(length, 0xcc);
    b[0] = 0xe9;
    b.writeInt32LE(to - (from + 5), 1);
    return b;
  }
  const rel = to - (from + 2);
  if (length !== 2 || rel < -128 || rel > 127) return null;
  return Buffer.from([0xeb, rel & 0xff]);
}

/** How far past a 2-byte site its test may start. */
export const SHORT_REACH = 127;
