/** Jest runs the TypeScript tests through ts-jest as ES modules. */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testTimeout: 120000,
  // Installs the Debian packages the tests run programs from (src/target/packages.ts TEST_PACKAGES).
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.mjs'],
};
