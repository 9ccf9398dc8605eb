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
  testTimeout: 60000,
  // Integration tests each start their own sshd; two workers suit a 2-core runner.
  maxWorkers: 2
}
