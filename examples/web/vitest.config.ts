import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the tests' paths are relative to this folder, also when run from the repository root
  root: import.meta.dirname,
  test: {
    name: 'web',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // run alone (`vitest run --config examples/web/vitest.config.ts`, as .ci/run does): the
    // closing `tests: N passed, …` line that .ci/run adds up
    reporters: ['default', '../../scripts/vitest-summary-reporter.ts'],
  },
});
