/**
 * A jest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`,
 * the closing line CI reads to know how many tests ran. It is printed when the process exits,
 * after jest's own summary, on stderr (where jest writes) and stdout.
 */
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    const line = `tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`;
    process.once('exit', () => {
      process.stderr.write(line);
      process.stdout.write(line);
    });
  }
}
