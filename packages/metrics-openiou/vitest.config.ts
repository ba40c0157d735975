import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'metrics-openiou',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
