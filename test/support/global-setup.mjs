/**
 * Jest global setup: installs (as root) the Debian packages whose programs the
 * tests run themselves (src/target/packages.ts TEST_PACKAGES), once per run,
 * so that no test depends on what happens to be installed on the machine.
 * Under CI a package that cannot be installed fails the run; otherwise the
 * tests that need it skip. It loads the compiled prereq.ts from dist/ (`npm
 * test` runs tsc before jest).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default async function globalSetup() {
  const compiled = fileURLToPath(new URL('../../dist/test/support/prereq.js', import.meta.url));
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run tsc -p tsconfig.json first (npm test does)`);
  const { ensureDebianPackages, testPackages } = await import(compiled);
  await ensureDebianPackages(testPackages());
}
