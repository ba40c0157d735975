import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('tf.layers training on wasm', () => {
  it('a model with dilated, strided and depthwise convs trains with model.fit, loss decreases, no leaks', async () => {
    const before = tf.memory().numTensors;
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({
          inputShape: [12, 10, 3],
          filters: 8,
          kernelSize: 3,
          padding: 'same',
          dilationRate: 2,
          activation: 'relu',
        }),
        tfl.layers.batchNormalization(),
        tfl.layers.depthwiseConv2d({
          kernelSize: 3,
          depthMultiplier: 2,
          padding: 'same',
          dilationRate: 2,
        }),
        // linear activation: tf.fused.conv2d's customGrad path, dilated
        tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', dilationRate: 2 }),
        tfl.layers.conv2d({
          filters: 8,
          kernelSize: 3,
          strides: 2,
          padding: 'valid',
          activation: 'relu',
        }),
        tfl.layers.depthwiseConv2d({
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
        }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 2 }),
      ],
    });
    const optimizer = tf.train.adam(0.01);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const x = tf.tensor4d(values(16 * 12 * 10 * 3, 31), [16, 12, 10, 3]);
    const y = tf.tidy(() => tf.stack([tf.mean(x, [1, 2, 3]), tf.mean(tf.abs(x), [1, 2, 3])], 1));
    const history = await model.fit(x, y, { epochs: 15, batchSize: 8, verbose: 0, shuffle: false });
    const loss = history.history['loss'] as number[];
    expect(tf.getBackend()).toBe('wasm');
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(loss.at(-1)).toBeLessThan((loss[0] as number) * 0.5);
    model.dispose();
    optimizer.dispose(); // Adam's moment slots: not owned by the model
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
