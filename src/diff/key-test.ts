/**
 * Jump labels keyed in a module, tested at run time.
 *
 * The kernel reads a module's `__jump_table` while loading it
 * (jump_label_add_module, MODULE_STATE_COMING), and applies a livepatch's
 * relocations to another module only later, when the livepatch core patches
 * that module (klp_apply_object_relocs): an entry of the livepatch whose key
 * lives in the target module would be read with its key unresolved. So such
 * a site is left out of the livepatch's `__jump_table`, where no one would
 * ever rewrite it, and it becomes a test of the key instead:
 *
 *  - the site (a 2- or 5-byte NOP or jmp) becomes a jmp to a key test kelp
 *    appends to the end of the function's own section copy;
 *  - the test reads the key's `enabled` count through an ordinary livepatch
 *    relocation to the module's key (a `.klp.rela` one: applied before the
 *    function is patched in, so before the code can run), jumps to the
 *    entry's target when enabled XOR the entry's branch bit (what the kernel
 *    would have made of the site), and jumps back to the byte after the site
 *    otherwise (the encoding and the kernel facts: rela/key-test.ts);
 *  - the function's symbol grows to cover its tests, so the livepatch
 *    consistency model sees a task stopped in a test as inside the function
 *    (klp_check_stack_func checks a function's own kallsyms range), and
 *    objtool's run on the linked module (Linux 6.12, IBT) sees the tests as
 *    the function's code, reached by direct jumps (no ENDBR needed);
 *  - where the object carries ORC tables that the link keeps (Linux 6.1),
 *    each test gets the ORC entry in effect at its site (it moves no stack
 *    and uses no register but the flags, which the site's asm clobbers),
 *    and a copy of the section's terminator marks the new end.
 *
 * A site that cannot be rewritten this way keeps its refusal, with the
 * reason: a function that does not end its section (not built with
 * -ffunction-sections), bytes that are no site form, a jump target outside
 * the patched code, or a 2-byte site too far from the function's end for a
 * short jmp to its test.
 */
import { R_X86_64_PC32, R_X86_64_PC64, R_X86_64_PLT32 } from '../../elf/constants.js';
import {
  BRANCH_BIT, KEY_FIELD, KEY_FIELD_ADJUST, KEY_FLAG_BITS, KEY_TEST_HEAD, KEY_TEST_SIZE, SHORT_REACH, TARGET_FIELD, TARGET_FIELD_ADJUST,
  keyTestBytes, siteForm, siteJump, siteLength,
} from '../../rela/key-test.js';
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import type { Inclusion } from './include.js';
import type { Kelf } from './model.js';
import type { RefusalCategory } from './refusal-kinds.js';
import { C_ORC_IP } from './sections.js';
import { findWindow } from './site-window.js';

export interface KeyTest {
  /** The site: its section in the patched object, its offset there, its length. */
  sec: number;
  site: number;
  length: 2 | 5;
  /** The entry's branch bit: the site jumps when the key is disabled. */
  branch: boolean;
  /** The `__jump_table` relocations of the entry's code, target and key fields. */
  codeRel: number;
  targetRel: number;
  keyRel: number;
  where: string;
  /** The key's name and the module that defines it (for the warning), and what the key belongs to. */
  key: string;
  module: string;
  category: RefusalCategory;
}

/** A test placed: at `at`, for the window [from, to) of the site's section (the site, or the site and the instructions moved into the test). */
export interface PlacedTest extends KeyTest {
  at: number;
  from: number;
  to: number;
  /** The starts of the moved instructions (window offsets), in order. */
  moved: number[];
  /** The moved rel32 branches, re-aimed from their new place. */
  branches: Array<{ off: number; end: number; target: number }>;
}

/** The key tests of one section: where each goes, and the section's new size. */
export interface SectionTests {
  sec: number;
  /** The function that ends the section and grows to cover the tests. */
  owner: number;
  tests: PlacedTest[];
  end: number;
  /** ORC entries to add: the entry index (patched object's tables) whose state holds at `at`. */
  orc: Array<{ at: number; index: number }>;
}

const PC32 = new Set<number>([R_X86_64_PC32, R_X86_64_PLT32]);

/**
 * Plans the key test of the `__jump_table` entry at `start` of `table`, whose
 * key `key` is defined in `module`. Returns false after refusing it.
 */
export function planKeyTest(ctx: DiffContext, inc: Inclusion, table: number, start: number, size: number, keyAt: number, where: string, key: string, module: string, category: RefusalCategory = 'jump-label-key-in-module'): boolean {
  const k = ctx.patched;
  const no = (why: string): false => {
    refuse(ctx, where, `jump label uses key ${key}, which is defined in module ${module}; the kernel applies a livepatch's relocations to a module too late for jump labels, and ${why}`, category);
    return false;
  };
  const field = (off: number): number => {
    const [a, b] = k.relRange(table, start + off, start + off + 1);
    return b > a && k.relOff[a] === start + off ? a : -1;
  };
  const code = field(0);
  const target = field(4);
  const keyRel = field(keyAt);
  if (code < 0 || target < 0 || keyRel < 0 || !PC32.has(k.relType[code]) || !PC32.has(k.relType[target]) || k.relType[keyRel] !== R_X86_64_PC64 || size < keyAt + 8) {
    return no('its entry is not a 16-byte struct jump_entry that kelp can read');
  }
  const t = k.relSym[code];
  const sec = t ? k.symSec[t] : 0;
  if (!sec || k.isNobits(sec)) return no('its site is not in code');
  const site = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[code];
  const key0 = `${sec}:${site}`;
  if (inc.keyTests.has(key0)) return true;
  const owner = k.symbolAt(sec, site);
  if (!inc.whole.has(sec) || !owner || !k.isFunc(owner) || k.value(owner) + k.size(owner) !== k.secSize(sec)) {
    return no('its function does not end a section of its own, where kelp would put a run-time test of the key (build with -ffunction-sections)');
  }
  const form = siteForm(k.secData(sec), site);
  if (form === null) return no(`the bytes at the site are no jump label site (a 2- or 5-byte NOP or jmp)`);
  if (!inc.isIncludedCode(target)) return no('its jump target is outside the patched code');
  inc.keyTests.set(key0, {
    sec, site, length: siteLength(form), branch: (k.addendExact(keyRel) & BRANCH_BIT) !== 0n, codeRel: code, targetRel: target, keyRel, where, key, module, category,
  });
  return true;
}

/** The bytes of a site left off: objtool's NOP of its length (rela/key-test.ts). */
export function offSiteBytes(length: 2 | 5): Buffer {
  return Buffer.from(length === 2 ? [0x66, 0x90] : [0x0f, 0x1f, 0x44, 0x00, 0x00]);
}

/** The addend the key test's relocation uses instead of the entry's (the flag bits dropped). */
export function keyAddend(k: Kelf, keyRel: number): bigint {
  return k.addendExact(keyRel) & ~KEY_FLAG_BITS;
}

/**
 * Lays out the tests of every section, in section order: 2-byte sites first,
 * nearest deadline first, each with a short jmp to its test when the test
 * can start within reach, else with a window of instructions moved into the
 * test to make room for a 5-byte jmp (site-window.ts); then the 5-byte sites
 * and windows in site order. Refuses a 2-byte site that has neither.
 */
export function layoutKeyTests(ctx: DiffContext, inc: Inclusion): Map<number, SectionTests> {
  const k = ctx.patched;
  const bySec = new Map<number, KeyTest[]>();
  for (const t of inc.keyTests.values()) {
    let list = bySec.get(t.sec);
    if (!list) bySec.set(t.sec, (list = []));
    list.push(t);
  }
  const orcIp = tableOf(k, C_ORC_IP);
  const out = new Map<number, SectionTests>();
  for (const sec of [...bySec.keys()].sort((a, b) => a - b)) {
    const tests = bySec.get(sec)!.sort((a, b) => (a.length - b.length) || (a.site - b.site));
    let at = k.secSize(sec);
    const placed: SectionTests = { sec, owner: k.symbolAt(sec, tests[0].site), tests: [], end: 0, orc: [] };
    const long: Array<Omit<PlacedTest, 'at'>> = [];
    for (const t of tests) {
      if (t.length === 5) {
        long.push({ ...t, from: t.site, to: t.site + 5, moved: [], branches: [] });
      } else if (at - (t.site + 2) <= SHORT_REACH) {
        placed.tests.push({ ...t, at, from: t.site, to: t.site + 2, moved: [], branches: [] });
        at += KEY_TEST_SIZE;
      } else {
        const w = findWindow(k, sec, t.site, new Set([t.codeRel]));
        if (typeof w === 'string') {
          const why = `this 2-byte site lies ${at - t.site - 2} bytes before the end of its function, beyond a short jmp's reach of ${SHORT_REACH} to a run-time test of the key, with ${w}`;
          if (t.category === 'tracepoint' && !t.branch) {
            // A tracepoint's site is off when it does not jump (static_branch_unlikely): the NOP
            // objtool would have made of it, as kpatch leaves such a site.
            let list = inc.offSites.get(sec);
            if (!list) inc.offSites.set(sec, (list = []));
            list.push({ at: t.site, length: t.length });
            ctx.warnings.push(`${t.where}: tracepoint site of module ${t.module} (key ${t.key}) stays off in the patched code: the livepatch cannot use the module's key, and ${why}`);
            continue;
          }
          refuse(ctx, t.where, `jump label uses a key defined in a module; the kernel applies a livepatch's relocations to a module too late for jump labels, and ${why}`, t.category);
          continue;
        }
        long.push({ ...t, ...w });
      }
    }
    for (const t of long.sort((a, b) => a.site - b.site)) {
      placed.tests.push({ ...t, at });
      at += KEY_TEST_SIZE + (t.to - t.from) - t.length;
    }
    for (const t of [...placed.tests].sort((a, b) => a.site - b.site)) {
      const moved = t.moved.length > 0 ? ` (${t.moved.length} instruction(s) next to the site move into the test to make room for a jmp)` : '';
      ctx.warnings.push(`${t.where}: jump label of module ${t.module} (key ${t.key}) left out of the livepatch's table: the patched code tests the key at run time${moved}`);
    }
    placed.end = at;
    if (orcIp) {
      // The state of every instruction of a test: that of the instruction it copies or stands for.
      for (const t of placed.tests) {
        for (const [stub, orig] of statePoints(t)) {
          const index = orcInEffect(k, orcIp, sec, orig, false);
          if (index >= 0) placed.orc.push({ at: stub, index });
        }
      }
      const term = orcInEffect(k, orcIp, sec, k.secSize(sec), true);
      if (term >= 0 && placed.orc.length > 0) placed.orc.push({ at, index: term });
    }
    if (placed.tests.length > 0) out.set(sec, placed);
  }
  return out;
}

/** Where a test's instructions are, paired with the original offset whose stack state each has. */
function statePoints(t: PlacedTest): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const m of t.moved) out.push([newOffset(t, m), m]);
  out.push([t.at + (t.site - t.from), t.site]);
  out.push([t.at + (t.site - t.from) + KEY_TEST_SIZE - 5 + (t.to - t.site - t.length), t.to]);
  return out.sort((a, b) => a[0] - b[0]);
}

/** Where byte `off` of a moved instruction of `t`'s window goes. */
function newOffset(t: PlacedTest, off: number): number {
  return off < t.site ? t.at + (off - t.from) : t.at + (t.site - t.from) + KEY_TEST_HEAD + (off - t.site - t.length);
}

/** The first non-relocation section of a class (0: none). */
export function tableOf(k: Kelf, cls: number): number {
  for (let s = 1; s < k.nsec; s++) if ((k.secClass[s] & cls) !== 0 && !k.isRelocation(s) && !k.secIgnored[s]) return s;
  return 0;
}

/**
 * The index of the `.orc_unwind_ip` entry in effect at `off` of `sec` (the
 * last one at or before it), or the one exactly at `off` when `exact`
 * (objtool's section terminator at the section's end); -1 when none.
 */
function orcInEffect(k: Kelf, orcIp: number, sec: number, off: number, exact: boolean): number {
  let best = -1;
  let bestAt = -1;
  for (let j = k.relStart[orcIp]; j < k.relStart[orcIp + 1]; j++) {
    const t = k.relSym[j];
    if (!t || k.symSec[t] !== sec || (k.relOff[j] & 3) !== 0) continue;
    const ip = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[j];
    if (exact ? ip === off : ip <= off && ip >= bestAt) {
      best = k.relOff[j] / 4;
      bestAt = ip;
    }
  }
  return best;
}

/** The section's bytes with its sites rewritten and its tests appended. */
export function withKeyTests(data: Buffer, st: SectionTests): Buffer {
  const parts: Buffer[] = [Buffer.from(data)];
  for (const t of st.tests) {
    parts.push(keyTestBytes(t.at, data.subarray(t.from, t.site), data.subarray(t.site + t.length, t.to), t.to, t.branch));
  }
  const out = Buffer.concat(parts);
  for (const t of st.tests) {
    siteJump(t.from, t.to - t.from, t.at)!.copy(out, t.from);
    for (const b of t.branches) {
      const at = newOffset(t, b.off);
      out.writeInt32LE(b.target - (at + (b.end - b.off)), at + (b.end - b.off) - 4);
    }
  }
  return out;
}

/** Where the relocation at `off` of the section goes: the same place, a moved instruction's new place, or nowhere (null: in a site). */
export function relocationPlace(st: SectionTests, off: number): number | null {
  for (const t of st.tests) {
    if (off < t.from || off >= t.to) continue;
    if (off >= t.site && off < t.site + t.length) return null;
    return newOffset(t, off);
  }
  return off;
}

/** The relocations of the tests: the key (a patched-object relocation reused, another type and addend) and the target. */
export function keyTestRelocations(k: Kelf, st: SectionTests): Array<{ offset: number; type: number; from: number; addend: bigint }> {
  const out: Array<{ offset: number; type: number; from: number; addend: bigint }> = [];
  for (const t of st.tests) {
    const head = t.at + (t.site - t.from);
    out.push({ offset: head + KEY_FIELD, type: R_X86_64_PC32, from: t.keyRel, addend: keyAddend(k, t.keyRel) + KEY_FIELD_ADJUST });
    out.push({ offset: head + TARGET_FIELD, type: R_X86_64_PC32, from: t.targetRel, addend: k.addendExact(t.targetRel) + TARGET_FIELD_ADJUST });
  }
  return out;
}
