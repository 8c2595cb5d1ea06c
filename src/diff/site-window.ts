/**
 * Room for a jmp at a 2-byte jump label site: a window of whole instructions
 * around the site, at least 5 bytes long, whose other instructions can run
 * elsewhere (key-test.ts moves them into the site's key test, before and
 * after the test, and puts a 5-byte jmp to the test at the window's start).
 *
 * Moving an instruction is safe when nothing but the control flow through
 * the window's start depends on where it is:
 *  - no call, return, trap or indirect branch among the moved instructions
 *    (no return address in the copy), no jmp (the test's own jmp back would
 *    follow dead); a jcc only in its rel32 form to a place of the same
 *    section (no relocation): the copy is aimed at the same place with a
 *    new displacement of the same size;
 *  - a RIP-relative operand only through a relocation, which moves with its
 *    field (S + A - P keeps its meaning when the field and its instruction's
 *    end move together); an unrelocated one would point elsewhere;
 *  - no branch or reference into the window but at its start, so every path
 *    enters at the jmp; the window's start itself may be a branch target.
 *    A function's start counts as entered without any relocation (callers
 *    elsewhere, ftrace, the livepatch core's redirection), and an ENDBR
 *    never moves (an indirect branch lands on it);
 *  - no table entry (exception table, bug table, alternatives, static call,
 *    retpoline or return site, ftrace's call sites, ...) naming a moved
 *    instruction: a fault or a patch would be looked for at the old place.
 *    ORC entries are the exception: the test repeats the state of each
 *    moved instruction (key-test.ts).
 */
import { instructionFlows, type InstructionFlow } from '../../rela/insn.js';
import type { Kelf } from './model.js';
import { C_ORC_IP } from './sections.js';
import { pcAdjust } from './x86.js';

export interface Window {
  /** [from, to): whole instructions, the site among them. */
  from: number;
  to: number;
  /** The starts of the instructions moved (all but the site's). */
  moved: number[];
  /** The moved rel32 branches within the section: start, end and the section offset they go to. */
  branches: Array<{ off: number; end: number; target: number }>;
}

/** The most instructions moved on either side of the site. */
const MAX_MOVED = 3;

/**
 * The smallest window of at least 5 bytes around the 2-byte site at `site`
 * of `sec`, or why there is none. `own`: relocations that name the site and
 * go away with it (its jump entry's).
 */
export function findWindow(k: Kelf, sec: number, site: number, own: ReadonlySet<number>): Window | string {
  const flows = instructionFlows(k.secData(sec));
  const at = flows.findIndex((f) => f.off === site);
  if (at < 0 || flows[at].end !== site + 2) return 'its bytes are not one instruction';
  const { entered, named } = references(k, sec, flows, own);
  let best: Window | null = null;
  for (let before = 0; before <= MAX_MOVED && at - before >= 0; before++) {
    for (let after = 0; after <= MAX_MOVED && at + after < flows.length; after++) {
      const from = flows[at - before].off;
      const to = flows[at + after].end;
      if (to - from < 5) continue;
      // More instructions after cannot make a window that failed movable.
      const window = flows.slice(at - before, at + after + 1);
      if (movable(k, sec, window, site, entered, named, from) && (!best || to - from < best.to - best.from)) {
        const moved = window.filter((f) => f.off !== site);
        best = { from, to, moved: moved.map((f) => f.off), branches: moved.filter((f) => !f.straight).map((f) => ({ off: f.off, end: f.end, target: f.reaches })) };
      }
      break;
    }
  }
  return best ?? `no instructions next to it that kelp can move out of the way (a branch target, a call or branch, a table entry or an unrelocated RIP-relative operand within ${MAX_MOVED} instructions on either side)`;
}

/** True when every instruction of `window` but the site can run elsewhere and only `from` is entered. */
function movable(k: Kelf, sec: number, window: InstructionFlow[], site: number, entered: Set<number>, named: Set<number>, from: number): boolean {
  for (const f of window) {
    if (f.off !== from && entered.has(f.off)) return false;
    if (f.off === site) continue;
    if (named.has(f.off) || isEndbr(k, sec, f) || (!f.straight && !isBranch32(k, sec, f))) return false;
    if (f.ipRelative) {
      const [a, b] = k.relRange(sec, f.off, f.end);
      if (b <= a) return false;
    }
  }
  return true;
}

/** endbr64 (f3 0f 1e fa) or endbr32. */
function isEndbr(k: Kelf, sec: number, f: InstructionFlow): boolean {
  const c = k.secData(sec);
  return f.end - f.off === 4 && c[f.off] === 0xf3 && c[f.off + 1] === 0x0f && c[f.off + 2] === 0x1e && (c[f.off + 3] === 0xfa || c[f.off + 3] === 0xfb);
}

/** A jcc (0f 8x) with a rel32 to the section itself (no relocation). */
function isBranch32(k: Kelf, sec: number, f: InstructionFlow): boolean {
  const code = k.secData(sec);
  const [a, b] = k.relRange(sec, f.off, f.end);
  if (b > a || f.reaches < 0 || f.reaches > code.length) return false;
  return f.end - f.off === 6 && code[f.off] === 0x0f && (code[f.off + 1] & 0xf0) === 0x80;
}

/**
 * The offsets of `sec` that something branches to or refers to (`entered`),
 * and those a table outside code names (`named`), from every relocation of
 * the object and the section's own unrelocated branches. ORC entries, and
 * the relocations in `own`, do not count.
 */
function references(k: Kelf, sec: number, flows: InstructionFlow[], own: ReadonlySet<number>): { entered: Set<number>; named: Set<number> } {
  const entered = new Set<number>();
  const named = new Set<number>();
  for (const s of k.symsOf(sec)) if (k.isFunc(s)) entered.add(k.value(s));
  for (const f of flows) {
    if (f.reaches < 0) continue;
    const [a, b] = k.relRange(sec, f.off, f.end);
    if (b <= a) entered.add(f.reaches);
  }
  for (let from = 1; from < k.nsec; from++) {
    if (!k.isRelocation(from) && (k.secClass[from] & C_ORC_IP) === 0 && !k.secIgnored[from]) {
      const code = k.isText(from);
      for (let j = k.relStart[from]; j < k.relStart[from + 1]; j++) {
        const t = k.relSym[j];
        if (!t || k.symSec[t] !== sec || own.has(j)) continue;
        const off = (k.isSection(t) ? 0 : k.value(t)) + k.relAdd[j] + (code ? pcAdjust(k, from, j) : 0);
        entered.add(off);
        if (!code) named.add(off);
      }
    }
  }
  return { entered, named };
}
