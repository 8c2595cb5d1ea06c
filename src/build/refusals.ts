/**
 * `kelp build` refusals: every problem kelp diff found in any object, each
 * with its object, place, reason, category and advice, so that `--json`
 * can report them to an engineer deciding how to rewrite the fix.
 */
import { ExitCode, KelpError } from '../errors.js';
import type { Refusal } from '../diff/context.js';

export interface BuildRefusal extends Refusal {
  /** The object (relative to the tree) the problem is in. */
  object: string;
}

/** Exit 2: the patches cannot be live-patched; `refusals` says why, one entry per problem. */
export class RefusalError extends KelpError {
  constructor(readonly refusals: BuildRefusal[], patch: string) {
    super(`cannot be live-patched (${refusals.length} problem(s)): ${refusals.map((r) => `${r.object}: ${r.where}: ${r.reason} [${r.category}]`).join('; ')}`, patch, ExitCode.Refused);
  }

  /** The JSON form `kelp build --json` prints on stdout. */
  toJSON(): { result: 'refused'; refusals: BuildRefusal[] } {
    return { result: 'refused', refusals: this.refusals };
  }
}
