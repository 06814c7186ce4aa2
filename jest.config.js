/** Unit, adapter and end-to-end tests; none reaches a non-loopback address. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  setupFiles: ['<rootDir>/test/helpers/env.ts'],
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  testTimeout: 30000,
  // Jest's default on a 2-core machine is one worker, but the slow suites mostly wait on moto and child processes:
  // two workers there took the whole run from 462 to 335 s.
  maxWorkers: 2,
};
