import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

/**
 * The webgpu suite of this package: `initBackend` / `loadWebGpu` on tfjs' WebGPU backend (Dawn),
 * on whatever adapter the machine has (in CI a software one: Mesa llvmpipe through Dawn's OpenGL
 * ES backend). Run it with `bash scripts/ci-webgpu.sh`, or directly from the repository root:
 * `npx vitest run --config packages/tfjs-wasm-training/vitest.webgpu.config.ts`.
 * Its files are named `*.webgpu.ts` so the normal project (test/**\/*.test.ts) skips them.
 */
export default defineProject({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    name: 'webgpu (tfjs-wasm-training)',
    include: ['test/webgpu/**/*.webgpu.ts'],
    reporters: ['default', '../../scripts/vitest-summary-reporter.ts'],
    env: {
      DENSEHYBRID_BACKEND: 'webgpu',
      EGL_PLATFORM: process.env['EGL_PLATFORM'] ?? 'surfaceless',
    },
    // One Dawn instance at a time: software adapters use every core already.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
