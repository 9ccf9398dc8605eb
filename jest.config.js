/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true }],
    // The host scripts (src/host), imported as text as the bundler does.
    '^.+\\.(sh|awk|py)$': '<rootDir>/scripts/jest-text.cjs'
  },
  testMatch: ['**/__tests__/**/*.test.ts'],
  // End-to-end deploys on a loaded 2-core machine (pip builds, several deploys a test) can take a
  // minute; the limit stays well above what any test needs, so only a hang reaches it.
  testTimeout: 180000,
  // Integration tests each start their own sshd; two workers suit a 2-core runner.
  maxWorkers: 2
}
