import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError, openSetSegmentation } from '@densehybrid/core';
import { runReadmeExample } from '../../../test-support/readme-example.js';
import { BACKENDS, useBackend, bilinearRef, pixel, randomArray, type Arr4 } from './reference.js';

const K = 4;

function argmax(v: number[]): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
}

for (const backend of BACKENDS) {
  describe(`openSetSegmentation on ${backend}`, () => {
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(true);
    });

    it('closed-set argmax of the upsampled logits, K where score >= threshold', async () => {
      const s: Arr4 = { data: randomArray(2 * 2 * 3 * K, 200), shape: [2, 2, 3, K] };
      const [H, W] = [4, 5];
      const scoreValues = randomArray(2 * H * W, 201, 0, 1);
      const threshold = scoreValues[7] as number; // one pixel exactly at the threshold
      const logits = tf.tensor4d(Float32Array.from(s.data), [2, 2, 3, K]);
      const score = tf.tensor3d(Float32Array.from(scoreValues), [2, H, W]);
      const before = tf.memory().numTensors;
      const map = openSetSegmentation(logits, score, threshold);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(map.dtype).toBe('int32');
      expect(map.shape).toEqual([2, H, W]);
      const up = bilinearRef(s, H, W);
      const want = Array.from(scoreValues, (v, p) => (v >= threshold ? K : argmax(pixel(up, p))));
      const got = Array.from(await map.data());
      expect(got).toEqual(want);
      expect(got[7]).toBe(K);
      expect(got.filter((v) => v === K).length).toBeGreaterThan(0);
      expect(got.filter((v) => v < K).length).toBeGreaterThan(0);
      // +Infinity-like threshold: purely closed-set
      const closed = openSetSegmentation(logits, score, 2);
      expect(Array.from(await closed.data())).toEqual(
        Array.from({ length: 2 * H * W }, (_, p) => argmax(pixel(up, p))),
      );
      tf.dispose([logits, score, map, closed]);
      expect(tf.memory().numTensors).toBe(before - 2);
    });

    it('rejects bad inputs', () => {
      const logits = tf.zeros([1, 2, 2, K]) as tf.Tensor4D;
      const score = tf.zeros([2, 2, 2]) as tf.Tensor3D;
      const msg = (f: () => unknown): string => {
        try {
          f();
        } catch (e) {
          return DenseHybridError.is(e) ? `${e.code}: ${e.message}` : String(e);
        }
        return 'no error';
      };
      expect(msg(() => openSetSegmentation(logits, score, 0.5))).toBe(
        'SHAPE_MISMATCH: openSetSegmentation: expected score to be [1,H,W] to match logits [1,2,2,4], got [2,2,2]',
      );
      const score1 = tf.zeros([1, 2, 2]) as tf.Tensor3D;
      expect(msg(() => openSetSegmentation(logits, score1, NaN))).toBe(
        'INVALID_OPTION: openSetSegmentation: expected threshold to be a finite number, got NaN',
      );
      expect(msg(() => openSetSegmentation(logits, logits as never, 0))).toMatch(
        /^INVALID_INPUT: openSetSegmentation: expected score to be a float32 tensor \[N,H,W\], got Tensor\[1,2,2,4\]/,
      );
      tf.dispose([logits, score, score1]);
    });
  });
}

describe('README example (Scores and the hybrid head)', () => {
  it('runs as written and prints the shape, dtype and the >= rule check', () => {
    const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
    const run = runReadmeExample(pkg, { heading: 'Scores and the hybrid head' });
    expect(run.lines).toBeLessThanOrEqual(16);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('1x16x32 int32 1');
  });
});
