/**
 * What `kelp check` reports: every reason the kernel would refuse (or
 * mis-apply) the module, each named by a rule, a place in the module and a
 * message. Rules collect into a ProblemList and the command reports them all
 * at once; notes say which rules could not be checked for lack of input.
 */

/** One reason the kernel would not accept the module, or would apply it wrongly. */
export interface Problem {
  /** The rule, `family.rule` (e.g. `klp-sym.ambiguous`). */
  rule: string;
  /** Where in the module: `section+0xoff`, `section NAME`, `symbol NAME`, `.modinfo`, ... */
  place: string;
  message: string;
}

export class ProblemList {
  readonly problems: Problem[] = [];
  readonly notes: string[] = [];
  private readonly seen = new Set<string>();

  add(rule: string, place: string, message: string): void {
    const key = `${rule}\0${place}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.problems.push({ rule, place, message });
  }

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }
}

export { at } from '../kmod/image.js';

export const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;
