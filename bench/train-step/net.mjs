// The benchmark network of issue 5, in TensorFlow.js ops (its PyTorch twin: torch_step.py).
// A 5-conv encoder-decoder with batch norm, bilinear upsampling and a skip; CE over K classes
// plus BCE on one extra logit (DenseHybrid's dataset-posterior head); Adam.
//   conv1 3→32 3×3 s2, BN, ReLU           (S/2)  ─┐ skip
//   conv2 32→64 3×3 s2, BN, ReLU          (S/4)   │
//   conv3 64→64 3×3 dilation 2, BN, ReLU  (S/4)   │
//   bilinear ×2, concat ──────────────────(S/2) ◄─┘
//   conv4 96→32 3×3, BN, ReLU             (S/2)
//   conv5 32→K+1 1×1, bilinear ×2         (S)
import * as tf from '@tensorflow/tfjs-core';

const K = 8;
const LAYERS = [
  { name: 'conv1', k: 3, cin: 3, cout: 32, stride: 2, dilation: 1, bn: true },
  { name: 'conv2', k: 3, cin: 32, cout: 64, stride: 2, dilation: 1, bn: true },
  { name: 'conv3', k: 3, cin: 64, cout: 64, stride: 1, dilation: 2, bn: true },
  { name: 'conv4', k: 3, cin: 96, cout: 32, stride: 1, dilation: 1, bn: true },
  { name: 'conv5', k: 1, cin: 32, cout: K + 1, stride: 1, dilation: 1, bn: false },
];

/** Deterministic He-initialised parameters. */
export function createParams(seed = 1) {
  const variable = (init) => {
    const v = tf.variable(init);
    init.dispose();
    return v;
  };
  const p = {};
  for (const l of LAYERS) {
    const std = Math.sqrt(2 / (l.k * l.k * l.cin));
    p[l.name] = {
      w: variable(tf.randomNormal([l.k, l.k, l.cin, l.cout], 0, std, 'float32', seed++)),
      ...(l.bn
        ? { gamma: variable(tf.ones([l.cout])), beta: variable(tf.zeros([l.cout])) }
        : { b: variable(tf.zeros([l.cout])) }),
    };
  }
  return p;
}

/** Training-mode batch norm over N, H, W (biased variance, eps 1e-5 as PyTorch). */
function batchNormTrain(x, gamma, beta, batchNorm) {
  if (batchNorm) return batchNorm(x, gamma, beta, 1e-5);
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gamma, 1e-5);
}

function block(x, l, p, batchNorm) {
  const y = tf.conv2d(x, p.w, l.stride, 'same', 'NHWC', l.dilation);
  return tf.relu(batchNormTrain(y, p.gamma, p.beta, batchNorm));
}

/** The loss of one batch: CE over the first K logits + BCE on the last one. */
export function loss(params, images, labels, outlier, batchNorm) {
  const [n, s] = images.shape;
  const f1 = block(images, LAYERS[0], params.conv1, batchNorm);
  const f2 = block(f1, LAYERS[1], params.conv2, batchNorm);
  const f3 = block(f2, LAYERS[2], params.conv3, batchNorm);
  const up = tf.image.resizeBilinear(f3, [s / 2, s / 2], false, true);
  const f4 = block(tf.concat([up, f1], 3), LAYERS[3], params.conv4, batchNorm);
  const logits5 = tf.add(tf.conv2d(f4, params.conv5.w, 1, 'same'), params.conv5.b);
  const logits = tf.image.resizeBilinear(logits5, [s, s], false, true);
  const flat = tf.reshape(logits, [n * s * s, K + 1]);
  const [cls, bin] = tf.split(flat, [K, 1], 1);
  const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, K), cls);
  const bce = tf.losses.sigmoidCrossEntropy(tf.reshape(outlier, [n * s * s, 1]), bin);
  return tf.add(ce, bce);
}

/** A deterministic batch: images in [0,1], labels in 0..K-1, a binary outlier map. */
export function createBatch(n, s) {
  return tf.tidy(() => {
    const images = tf.randomUniform([n, s, s, 3], 0, 1, 'float32', 7);
    const labels = tf.cast(tf.floor(tf.randomUniform([n * s * s], 0, K, 'float32', 8)), 'int32');
    const outlier = tf.cast(
      tf.greater(tf.randomUniform([n, s, s], 0, 1, 'float32', 9), 0.9),
      'float32',
    );
    return { images, labels, outlier };
  });
}
