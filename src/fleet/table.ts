/** The fleet build's table: one row per release, for the terminal. */
import { OUTCOME_LABEL, type Outcome } from './outcome.js';

/** One release's row (the parts the table shows). */
export interface TableRow {
  release: string;
  outcome: Outcome;
  functions: number;
  seconds: number;
  /** Why: the refusal, the hunk that does not apply, the failure. */
  reason?: string;
}

/** The table as text (ends in a newline): RELEASE, RESULT, FUNCTIONS, SECONDS, then the reason. */
export function formatTable(rows: readonly TableRow[]): string {
  const cells = [['RELEASE', 'RESULT', 'FUNCTIONS', 'SECONDS', 'DETAIL'],
    ...rows.map((r) => [r.release, OUTCOME_LABEL[r.outcome], String(r.functions), r.seconds.toFixed(1), r.reason ?? ''])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : i === 2 || i === 3 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
