import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import {
  WASM_HEAP_MAX_BYTES,
  checkStepMemory,
  estimateStepMemory,
  guardWasmMemory,
  isOutOfMemory,
  initBackend,
  microBatchSizes,
} from '@densehybrid/tfjs-wasm-training';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return DenseHybridError.is(e) ? e.code : 'other';
  }
  return undefined;
}

describe('wasm heap guard', () => {
  const model = { fixedBytes: 100e6, bytesPerPixel: 4000 };

  it('passes a step that fits and reports the headroom', () => {
    const r = checkStepMemory(model, { batchSize: 2, height: 256, width: 256 });
    expect(r.predictedBytes).toBe(100e6 + 4000 * 2 * 256 * 256);
    expect(r.limitBytes).toBeCloseTo(0.8 * WASM_HEAP_MAX_BYTES);
    expect(r.maxBatchSize).toBe(Math.floor((0.8 * WASM_HEAP_MAX_BYTES - 100e6) / (4000 * 65536)));
  });

  it('fails with OUT_OF_MEMORY naming a batch and a crop that fit', () => {
    const step = { batchSize: 8, height: 512, width: 1024 };
    let message = '';
    try {
      checkStepMemory(model, step);
    } catch (e) {
      expect(DenseHybridError.is(e) && e.code).toBe('OUT_OF_MEMORY');
      message = (e as Error).message;
    }
    const budget = 0.8 * WASM_HEAP_MAX_BYTES - 100e6;
    const batch = Math.floor(budget / (4000 * 512 * 1024));
    expect(message).toContain(`batch ${batch} at 512×1024`);
    const [, h, w] = /batch 8 at (\d+)×(\d+) fits/.exec(message) ?? [];
    // the named crop fits, and one pixel row/column more per side would not (within rounding)
    expect(
      checkStepMemory(model, { batchSize: 8, height: Number(h), width: Number(w) }).predictedBytes,
    ).toBeLessThanOrEqual(0.8 * WASM_HEAP_MAX_BYTES);
    expect(100e6 + 4000 * 8 * (Number(h) + 2) * (Number(w) + 2)).toBeGreaterThan(
      0.8 * WASM_HEAP_MAX_BYTES,
    );
  });

  it('rejects bad geometry with INVALID_INPUT', () => {
    expect(codeOf(() => checkStepMemory(model, { batchSize: 0, height: 8, width: 8 }))).toBe(
      'INVALID_INPUT',
    );
    expect(codeOf(() => checkStepMemory(model, { batchSize: 1, height: 8.5, width: 8 }))).toBe(
      'INVALID_INPUT',
    );
  });

  it('estimateStepMemory recovers the per-pixel and fixed bytes of a step', async () => {
    const fixed = tf.zeros([1000]); // 4000 bytes that do not scale
    const model2 = await estimateStepMemory(
      ({ batchSize, height, width }) => {
        tf.tidy(() => tf.sum(tf.add(tf.ones([batchSize, height, width, 25]), 1)).dataSync());
      },
      { probeCrops: [8, 16] },
    );
    // peak: ones + add output = 2 · 25 floats per pixel = 200 bytes per pixel
    expect(model2.bytesPerPixel).toBeCloseTo(200, 0);
    expect(model2.fixedBytes).toBeGreaterThanOrEqual(4000);
    fixed.dispose();
  });

  it('guardWasmMemory turns a raw heap failure into OUT_OF_MEMORY and passes other errors', async () => {
    const step = { batchSize: 8, height: 512, width: 1024 };
    await expect(
      guardWasmMemory(
        () => {
          throw new RangeError('memory access out of bounds');
        },
        step,
        model,
      ),
    ).rejects.toMatchObject({
      code: 'OUT_OF_MEMORY',
      message: expect.stringMatching(/batch \d+ at 512×1024/),
    });
    await expect(guardWasmMemory(() => Promise.reject(new TypeError('boom')))).rejects.toThrow(
      TypeError,
    );
    await expect(guardWasmMemory(() => 42)).resolves.toBe(42);
  });

  it('microBatchSizes splits as evenly as possible', () => {
    expect(microBatchSizes(10, 4)).toEqual([4, 3, 3]);
    expect(microBatchSizes(8, 8)).toEqual([8]);
    expect(microBatchSizes(5, 1)).toEqual([1, 1, 1, 1, 1]);
    expect(codeOf(() => microBatchSizes(4, 0))).toBe('INVALID_INPUT');
  });

  it('isOutOfMemory recognises the wasm heap failures seen in practice, and nothing else', () => {
    // Seen on tfjs-backend-wasm 4.22 when a step overflows the 4 GiB heap: a raw trap while
    // registering an output, or emscripten's abort() from a failed malloc (no assertions build).
    expect(isOutOfMemory(new Error('memory access out of bounds'))).toBe(true);
    expect(isOutOfMemory(new Error('Aborted(). Build with -sASSERTIONS for more info.'))).toBe(
      true,
    );
    expect(isOutOfMemory(new Error('Aborted(OOM)'))).toBe(true);
    expect(isOutOfMemory(new Error('Aborted(assertion failed)'))).toBe(false);
    expect(isOutOfMemory(new TypeError('x is not a function'))).toBe(false);
    expect(isOutOfMemory('memory access out of bounds')).toBe(false);
  });
});
