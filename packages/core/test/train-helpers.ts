import * as tf from '@tensorflow/tfjs-core';
import { ladderDenseNet } from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  type DenseHybridModel,
  type TrainingBatch,
} from '@densehybrid/core';

/**
 * A minimal dataset-posterior head for the training-loop tests (Conv1×1 on the pre-logits with a
 * seeded initialisation), so that these tests do not depend on the head's own implementation.
 */
function testHead(channels: number, seed = 1) {
  const w = tf.variable(tf.randomNormal([1, 1, channels, 1], 0, 0.05, 'float32', seed), true);
  const b = tf.variable(tf.zeros([1]), true);
  const variables = new Map<string, tf.Variable>([
    ['conv.weight', w],
    ['conv.bias', b],
  ]);
  return {
    variables,
    apply: (t: tf.Tensor4D) =>
      tf.tidy(() => tf.add(tf.conv2d(tf.relu(t), w as tf.Tensor4D, 1, 'same'), b) as tf.Tensor4D),
    dispose: () => {
      w.dispose();
      b.dispose();
    },
  };
}

export function tinyModel(numClasses = 3, seed = 0): DenseHybridModel {
  const backbone = ladderDenseNet({
    preset: 'tiny',
    numClasses,
    seed,
    growthRate: 4,
    blockConfig: [1, 1, 1, 1],
    numInitFeatures: 8,
    sppSize: 8,
    sppGrids: [2, 1],
    upSizes: [8, 8, 8],
  });
  return createDenseHybridModel({ backbone, head: testHead(backbone.preLogitChannels, seed + 1) });
}

/**
 * Synthetic mixed-content batches that a network can learn quickly: class = which third of the
 * image's width a pixel is in (0, 1 or 2 of 3 classes, coloured), with a bright square labelled
 * K = 3 (the pasted negative). A pure function of the step, like the real data source.
 */
export function syntheticBatch(step: number, n = 2, size = 16): TrainingBatch {
  const images = new Float32Array(n * size * size * 3);
  const labels = new Int32Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const ox = (step * 7 + b * 3) % (size - 4);
    const oy = (step * 5 + b * 11) % (size - 4);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = (b * size + y) * size + x;
        const cls = Math.min(2, Math.floor((3 * x) / size));
        const neg = x >= ox && x < ox + 4 && y >= oy && y < oy + 4;
        labels[p] = neg ? 3 : cls;
        const noise = ((step * 131 + p * 17) % 13) / 130;
        images[p * 3] = neg ? 1 : cls === 0 ? 0.8 : 0.1 + noise;
        images[p * 3 + 1] = neg ? 1 : cls === 1 ? 0.8 : 0.1;
        images[p * 3 + 2] = neg ? 0.9 : cls === 2 ? 0.8 : 0.1 + noise;
      }
    }
  }
  return { images, labels, batchSize: n, height: size, width: size };
}

export function* syntheticBatches(start: number): Generator<TrainingBatch> {
  for (let s = start; ; s++) yield syntheticBatch(s);
}

export async function snapshot(model: DenseHybridModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.variables) out.set(name, (await v.data()) as Float32Array);
  return out;
}
