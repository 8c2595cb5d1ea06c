/**
 * A jest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`,
 * the closing line CI reads to know how many tests ran.
 */
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    const line = `tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`;
    // After jest's own summary on stderr, and on stdout for readers of that stream alone.
    process.stderr.write(line);
    process.stdout.write(line);
  }
}
