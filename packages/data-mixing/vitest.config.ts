import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'data-mixing',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
