import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError, ladderDenseNet, type LadderDenseNet } from '@densehybrid/backbones';
import * as ref from './reference.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** Plain-JS LDN forward (inference mode) reading the model's variables by name. */
function referenceLdn(
  model: LadderDenseNet,
  input: ref.Img,
  counter: ref.Counter,
): { preLogits: ref.Img; logits: ref.Img } {
  const cfg = model.config;
  const P = ref.weightReader(model);
  const eps = cfg.batchNormEpsilon;
  const bn = (x: ref.Img, n: string): ref.Img =>
    ref.batchNorm(
      x,
      P(`${n}.weight`),
      P(`${n}.bias`),
      P(`${n}.running_mean`),
      P(`${n}.running_var`),
      eps,
    );
  const outC = (n: string): number => model.variables.get(`${n}.weight`)?.shape[3] as number;
  const brc = (x: ref.Img, n: string, k: number, bias = false): ref.Img =>
    ref.conv(
      ref.relu(bn(x, `${n}.norm`)),
      P(`${n}.conv.weight`),
      k,
      outC(`${n}.conv`),
      1,
      Math.floor(k / 2),
      bias ? P(`${n}.conv.bias`) : undefined,
      counter,
    );
  const f = 'backbone.features';
  let x = ref.conv(input, P(`${f}.conv0.weight`), 7, cfg.numInitFeatures, 2, 3, undefined, counter);
  x = ref.maxPool(ref.relu(bn(x, `${f}.norm0`)), 2, 2, 0);
  const skips: ref.Img[] = [];
  cfg.blockConfig.forEach((layers, b) => {
    const feats = [x];
    for (let l = 1; l <= layers; l++) {
      const p = `${f}.denseblock${b + 1}.denselayer${l}`;
      let y = ref.concat(feats);
      y = ref.conv(
        ref.relu(bn(y, `${p}.norm1`)),
        P(`${p}.conv1.weight`),
        1,
        cfg.bnSize * cfg.growthRate,
        1,
        0,
        undefined,
        counter,
      );
      y = ref.conv(
        ref.relu(bn(y, `${p}.norm2`)),
        P(`${p}.conv2.weight`),
        3,
        cfg.growthRate,
        1,
        1,
        undefined,
        counter,
      );
      feats.push(y);
    }
    x = ref.concat(feats);
    if (b < cfg.blockConfig.length - 1) {
      skips.push(x);
      x = ref.avgPoolExcludePad(brc(x, `${f}.transition${b + 1}`, 1), 3, 2, 1);
    }
  });
  const s = 'spp.spp.spp';
  const bottleneck = brc(x, `${s}.spp_bn`, 1);
  const levels = [bottleneck];
  const ar = x.w / x.h;
  cfg.sppGrids.forEach((g, i) => {
    // Python round() is half-to-even; no test grid hits an exact .5 unless chosen to.
    const gw = Math.max(1, Math.round(ar * g));
    const pooled = ref.adaptiveAvgPool(bottleneck, g, gw);
    levels.push(ref.resizeBilinear(brc(pooled, `${s}.spp${i}`, 1), x.h, x.w));
  });
  x = brc(ref.concat(levels), `${s}.spp_fuse`, 1);
  cfg.upSizes.forEach((_, i) => {
    const p = `upsample.upsample_layers.upsample_${i}`;
    const skip = brc(skips[skips.length - 1 - i] as ref.Img, `${p}.bottleneck`, 1);
    x = brc(ref.add(ref.resizeBilinear(x, skip.h, skip.w), skip), `${p}.blend_conv`, 3);
  });
  return { preLogits: x, logits: brc(x, 'logits', 1, true) };
}

/** Gives every variable random values (running variances positive) so BN is not the identity. */
function randomise(model: LadderDenseNet, seed: number): void {
  let i = seed;
  for (const [name, v] of model.variables) {
    i += 1;
    const value = name.endsWith('running_var')
      ? tf.randomUniform(v.shape, 0.5, 1.5, 'float32', i)
      : name.endsWith('.weight') && v.rank === 1
        ? tf.randomUniform(v.shape, 0.5, 1.5, 'float32', i)
        : tf.randomNormal(
            v.shape,
            0,
            v.rank === 4 ? Math.sqrt(2 / (v.size / (v.shape[3] as number))) : 0.2,
            'float32',
            i,
          );
    v.assign(value);
    value.dispose();
  }
}

const TOY = {
  numClasses: 3,
  growthRate: 4,
  blockConfig: [2, 1, 2, 1],
  numInitFeatures: 8,
  bnSize: 2,
  sppSize: 8,
  sppGrids: [8, 4, 2, 1],
  upSizes: [6, 5, 7],
} as const;

describe('ladderDenseNet', () => {
  it('matches a plain-JS reference forward pass (odd input size, SPP grid larger than the map)', () => {
    const model = ladderDenseNet(TOY);
    randomise(model, 3);
    const [h, w] = [37, 45];
    const images = tf.randomUniform([1, h, w, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const counter = new ref.Counter();
    const expected = referenceLdn(model, ref.img(h, w, 3, images.dataSync()), counter);
    const out = model.apply(images);
    expect(out.preLogits.shape).toEqual([1, expected.preLogits.h, expected.preLogits.w, 7]);
    expect(out.logits.shape).toEqual([1, expected.logits.h, expected.logits.w, 3]);
    const got = out.logits.dataSync();
    let maxDiff = 0;
    expected.logits.data.forEach(
      (v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (got[i] as number)))),
    );
    expect(maxDiff).toBeLessThan(1e-4);
    const gotPre = out.preLogits.dataSync();
    maxDiff = 0;
    expected.preLogits.data.forEach(
      (v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (gotPre[i] as number)))),
    );
    expect(maxDiff).toBeLessThan(1e-4);
    // FLOPs = 2 × the multiply-accumulates the reference performed.
    expect(model.flops(h, w)).toBe(2 * counter.macs);
    tf.dispose([images, out.preLogits, out.logits]);
    model.dispose();
  });

  it('training mode normalises with batch statistics and updates running stats (momentum 0.1, unbiased variance)', () => {
    const model = ladderDenseNet({ ...TOY, batchNormMomentum: 0.1 });
    randomise(model, 5);
    const images = tf.randomUniform([2, 21, 19, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const mean0 = model.variables.get('backbone.features.norm0.running_mean') as tf.Variable;
    const var0 = model.variables.get('backbone.features.norm0.running_var') as tf.Variable;
    const oldMean = mean0.dataSync().slice();
    const oldVar = var0.dataSync().slice();
    // conv0 output, computed independently for both images.
    const w0 = (model.variables.get('backbone.features.conv0.weight') as tf.Variable).dataSync();
    const data = images.dataSync();
    const per = 21 * 19 * 3;
    const c0 = [0, 1].map((n) =>
      ref.conv(ref.img(21, 19, 3, data.subarray(n * per, (n + 1) * per)), w0, 7, 8, 2, 3),
    );
    const count = c0.reduce((s, x) => s + x.h * x.w, 0);
    const out = model.apply(images, { training: true });
    const newMean = mean0.dataSync();
    const newVar = var0.dataSync();
    for (let c = 0; c < 8; c++) {
      let s = 0;
      let s2 = 0;
      for (const x of c0)
        for (let p = 0; p < x.h * x.w; p++) {
          const v = x.data[p * 8 + c] as number;
          s += v;
          s2 += v * v;
        }
      const m = s / count;
      const unbiased = (s2 / count - m * m) * (count / (count - 1));
      expect(newMean[c]).toBeCloseTo(0.9 * (oldMean[c] as number) + 0.1 * m, 4);
      expect(newVar[c]).toBeCloseTo(0.9 * (oldVar[c] as number) + 0.1 * unbiased, 3);
    }
    // Inference output differs from training output (batch vs running statistics).
    const inf = model.apply(images);
    expect(tf.max(tf.abs(tf.sub(inf.logits, out.logits))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([images, out.preLogits, out.logits, inf.preLogits, inf.logits]);
    model.dispose();
  });

  it.each(['tiny', 'small'] as const)('%s preset: shapes and strides at 97×131', (preset) => {
    const model = ladderDenseNet({ preset, numClasses: 4 });
    expect(model.preLogitStride).toBe(4);
    expect(model.outputStride).toBe(4);
    expect(model.preLogitChannels).toBe(128);
    const images = tf.zeros([2, 97, 131, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const out = model.apply(images);
    // conv0 /2 (ceil), max-pool /2 (floor): 97 → 49 → 24, 131 → 66 → 33.
    expect(out.preLogits.shape).toEqual([2, 24, 33, 128]);
    expect(out.logits.shape).toEqual([2, 24, 33, 4]);
    tf.dispose([out.preLogits, out.logits]);
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
    const nVars = tf.memory().numTensors;
    model.dispose();
    expect(tf.memory().numTensors).toBe(nVars - model.variables.size);
  });

  it('densenet121 preset: torchvision DenseNet-121 sizes, one forward at 97×131', () => {
    const model = ladderDenseNet({ preset: 'densenet121', numClasses: 19 });
    // torchvision densenet121: 7,978,856 parameters − classifier (1,025,000) − norm5 (2,048).
    let encoder = 0;
    for (const [name, v] of model.variables)
      if (name.startsWith('backbone.') && !name.includes('running')) encoder += v.size;
    expect(encoder).toBe(6_951_808);
    expect(
      model.variables.get('backbone.features.denseblock3.denselayer24.conv2.weight')?.shape,
    ).toEqual([3, 3, 128, 32]);
    expect(model.variables.get('spp.spp.spp.spp_bn.conv.weight')?.shape).toEqual([1, 1, 1024, 512]);
    expect(
      model.variables.get('upsample.upsample_layers.upsample_2.bottleneck.conv.weight')?.shape,
    ).toEqual([1, 1, 256, 256]);
    const images = tf.zeros([1, 97, 131, 3]) as tf.Tensor4D;
    const out = model.apply(images);
    expect(out.preLogits.shape).toEqual([1, 24, 33, 128]);
    expect(out.logits.shape).toEqual([1, 24, 33, 19]);
    tf.dispose([images, out.preLogits, out.logits]);
    model.dispose();
  });

  it('rejects bad options and inputs with typed errors', () => {
    expect(() => ladderDenseNet({ preset: 'huge' as never })).toThrow(
      /preset to be one of 'tiny', 'small', 'densenet121', got "huge"/,
    );
    expect(() => ladderDenseNet({ numClasses: 0 })).toThrow(DenseHybridError);
    expect(() => ladderDenseNet({ sppSize: 10 })).toThrow(/sppSize divisible/);
    const model = ladderDenseNet({ ...TOY });
    const bad = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    expect(() => model.apply(bad)).toThrow(
      /expected images as a \[N, H, W, 3\].*got shape \[1,8,8,1\]/,
    );
    try {
      model.apply(bad);
    } catch (e) {
      expect(DenseHybridError.is(e) && e.code).toBe('INVALID_INPUT');
    }
    bad.dispose();
    model.dispose();
  });
});
