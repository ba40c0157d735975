import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { deeplabV3PlusWrn38, ladderDenseNet } from '@densehybrid/backbones';
import { createDenseHybridModel, datasetPosteriorHead } from '@densehybrid/core';
import { expectClose, useBackend } from './reference.js';

/**
 * Bilinear resize of `[1, h, w, C]` data written from PyTorch's two geometries:
 * `align_corners=True`: src = d·(in − 1)/(out − 1); False: src = max(0, (d + ½)·in/out − ½).
 */
function resize(
  x: Float32Array,
  [h, w, c]: readonly [number, number, number],
  H: number,
  W: number,
  alignCorners: boolean,
): Float64Array {
  const src = (d: number, inSize: number, outSize: number): [number, number, number] => {
    const s = alignCorners
      ? outSize > 1
        ? (d * (inSize - 1)) / (outSize - 1)
        : 0
      : Math.max(0, ((d + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    return [i0, Math.min(i0 + 1, inSize - 1), s - i0];
  };
  const y = new Float64Array(H * W * c);
  const at = (a: number, b: number, k: number): number => x[(a * w + b) * c + k]!;
  for (let i = 0; i < H; i++) {
    const [a0, a1, la] = src(i, h, H);
    for (let j = 0; j < W; j++) {
      const [b0, b1, lb] = src(j, w, W);
      for (let k = 0; k < c; k++)
        y[(i * W + j) * c + k] =
          (at(a0, b0, k) * (1 - lb) + at(a0, b1, k) * lb) * (1 - la) +
          (at(a1, b0, k) * (1 - lb) + at(a1, b1, k) * lb) * la;
    }
  }
  return y;
}

describe("DenseHybridModel.predict follows the backbone's upsampling geometry", () => {
  it('align_corners=True for deeplabv3plus-wrn38, half-pixel centres for the LDN', async () => {
    await useBackend('wasm');
    const [H, W] = [27, 41];
    const images = tf.randomUniform([1, H, W, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    for (const backbone of [
      deeplabV3PlusWrn38({ numClasses: 3, widthDivisor: 16 }),
      ladderDenseNet({ preset: 'tiny', numClasses: 3 }),
    ]) {
      const align = backbone.upsampleAlignCorners ?? false;
      expect(align).toBe(backbone.config.architecture === 'deeplabV3PlusWrn38');
      const model = createDenseHybridModel({
        backbone,
        head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: 1 }),
      });
      const low = model.forward(images);
      const full = model.predict(images);
      const [, h, w, k] = low.logits.shape;
      expect(full.logits.shape).toEqual([1, H, W, k]);
      expectClose(
        await full.logits.data(),
        resize(low.logits.dataSync() as Float32Array, [h, w, k], H, W, align),
        1e-5,
        1e-4,
      );
      const [, gh, gw] = low.posteriorLogits.shape;
      expectClose(
        await full.posteriorLogits.data(),
        resize(low.posteriorLogits.dataSync() as Float32Array, [gh, gw, 1], H, W, align),
        1e-5,
        1e-4,
      );
      tf.dispose([low.logits, low.posteriorLogits, full.logits, full.posteriorLogits]);
      model.dispose();
    }
    images.dispose();
  });
});
