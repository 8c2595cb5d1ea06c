/**
 * The outcome of one release in a fleet build, how it is read from a child
 * `kelp build --json` run, and the order that makes the fleet's exit status
 * the worst outcome:
 *
 *   failed > verification failed > refused > does not apply > no change > built/verified
 *
 * Exit codes (ExitCode in src/errors.ts): failed 1, verification failed 4,
 * refused 2, does not apply 1, no change 3, built or verified 0.
 */
import { ExitCode } from '../errors.js';

export type Outcome = 'verified' | 'built' | 'no-change' | 'does-not-apply' | 'refused' | 'verify-failed' | 'failed';

/** Best first: the index is the severity. */
export const OUTCOME_ORDER: readonly Outcome[] = ['verified', 'built', 'no-change', 'does-not-apply', 'refused', 'verify-failed', 'failed'];

/** What the table shows. */
export const OUTCOME_LABEL: Record<Outcome, string> = {
  verified: 'verified',
  built: 'built',
  'no-change': 'no change',
  'does-not-apply': 'patch does not apply',
  refused: 'refused',
  'verify-failed': 'verification failed',
  failed: 'failed',
};

/** The exit code of a run whose worst outcome is `o`. */
export function exitCodeOf(o: Outcome): number {
  switch (o) {
    case 'verified': case 'built': return ExitCode.Ok;
    case 'no-change': return ExitCode.NoChange;
    case 'does-not-apply': return ExitCode.BadInput;
    case 'refused': return ExitCode.Refused;
    case 'verify-failed': return ExitCode.VerifyFailed;
    case 'failed': return ExitCode.BadInput;
  }
}

/** The worst of the outcomes ('built' for none). */
export function worstOutcome(list: readonly Outcome[]): Outcome {
  if (list.length === 0) return 'built';
  let worst: Outcome = 'verified';
  for (const o of list) if (OUTCOME_ORDER.indexOf(o) > OUTCOME_ORDER.indexOf(worst)) worst = o;
  return worst;
}

/** A hunk that does not apply, as src/build/patch.ts names it. */
const NO_APPLY_RE = /: hunk #\d+ \(@@ [^)]*@@\) does not apply(?: with --fuzz \d+: it needs fuzz \d+ \(at line \d+\))?$|: no such file in the tree$/;

/**
 * The outcome of a child `kelp build` from its exit status, whether it
 * verified, and its error line (the `kelp: ...` line, without the prefix).
 */
export function classify(status: number | null, verified: boolean, error: string | undefined): Outcome {
  if (status === ExitCode.Ok) return verified ? 'verified' : 'built';
  if (status === ExitCode.NoChange) return 'no-change';
  if (status === ExitCode.Refused) return 'refused';
  if (status === ExitCode.VerifyFailed) return 'verify-failed';
  if (status === ExitCode.BadInput && error !== undefined && NO_APPLY_RE.test(error)) return 'does-not-apply';
  return 'failed';
}

/** The error line of a child's stderr: its last `kelp: ` line that is not progress. */
export function errorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => l.startsWith('kelp: ') && !l.startsWith('kelp: waiting'));
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : last.slice('kelp: '.length);
}
