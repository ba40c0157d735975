import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'tfjs-wasm-training',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
