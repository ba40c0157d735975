import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError, deeplabV3Plus, type DeepLabV3Plus } from '@densehybrid/backbones';
import * as ref from './reference.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** Plain-JS DeepLabV3+ (inference mode), written from torchvision's ResNet and the authors' head. */
function referenceDeepLab(
  model: DeepLabV3Plus,
  input: ref.Img,
  counter: ref.Counter,
): { preLogits: ref.Img; logits: ref.Img } {
  const cfg = model.config;
  const P = ref.weightReader(model);
  const outC = (n: string): number => model.variables.get(`${n}.weight`)!.shape[3]!;
  const k = (n: string): number => model.variables.get(`${n}.weight`)!.shape[0]!;
  const conv = (x: ref.Img, n: string, stride = 1, dilation = 1): ref.Img =>
    ref.conv(
      x,
      P(`${n}.weight`),
      k(n),
      outC(n),
      stride,
      Math.floor(k(n) / 2) * dilation,
      undefined,
      counter,
      dilation,
    );
  const bn = (x: ref.Img, n: string): ref.Img =>
    ref.batchNorm(
      x,
      P(`${n}.weight`),
      P(`${n}.bias`),
      P(`${n}.running_mean`),
      P(`${n}.running_var`),
      cfg.batchNormEpsilon,
    );
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  let x: ref.Img = { ...input, data: input.data.map((v, i) => (v - mean[i % 3]!) / std[i % 3]!) };
  x = ref.maxPool(ref.relu(bn(conv(x, 'conv1', 2), 'bn1')), 3, 2, 1);
  const bottleneck = cfg.encoder === 'resnet50';
  const depths = bottleneck ? [3, 4, 6, 3] : [2, 2, 2, 2];
  // Stride / dilation per layer as torchvision with replace_stride_with_dilation.
  const plan =
    cfg.outputStride === 8
      ? [
          { s: 1, d0: 1, d: 1 },
          { s: 2, d0: 1, d: 1 },
          { s: 1, d0: 1, d: 2 },
          { s: 1, d0: 2, d: 4 },
        ]
      : [
          { s: 1, d0: 1, d: 1 },
          { s: 2, d0: 1, d: 1 },
          { s: 2, d0: 1, d: 1 },
          { s: 1, d0: 1, d: 2 },
        ];
  let low: ref.Img | undefined;
  depths.forEach((depth, li) => {
    for (let b = 0; b < depth; b++) {
      const p = `layer${li + 1}.${b}`;
      const s = b === 0 ? plan[li]!.s : 1;
      const d = b === 0 ? plan[li]!.d0 : plan[li]!.d;
      let y: ref.Img;
      if (bottleneck) {
        y = ref.relu(bn(conv(x, `${p}.conv1`), `${p}.bn1`));
        y = ref.relu(bn(conv(y, `${p}.conv2`, s, d), `${p}.bn2`));
        y = bn(conv(y, `${p}.conv3`), `${p}.bn3`);
      } else {
        y = ref.relu(bn(conv(x, `${p}.conv1`, s, d), `${p}.bn1`));
        y = bn(conv(y, `${p}.conv2`, 1, plan[li]!.d), `${p}.bn2`);
      }
      const identity = model.variables.has(`${p}.downsample.0.weight`)
        ? bn(conv(x, `${p}.downsample.0`, s), `${p}.downsample.1`)
        : x;
      x = ref.relu(ref.add(y, identity));
    }
    low ??= x;
  });
  const rates = cfg.outputStride === 8 ? [12, 24, 36] : [6, 12, 18];
  const pooled = ref.relu(
    bn(conv(ref.adaptiveAvgPool(x, 1, 1), 'aspp.img_conv.0'), 'aspp.img_conv.1'),
  );
  const branches = [
    ref.resizeAlignCorners(pooled, x.h, x.w),
    ref.relu(bn(conv(x, 'aspp.features.0.0'), 'aspp.features.0.1')),
  ];
  rates.forEach((r, i) =>
    branches.push(
      ref.relu(bn(conv(x, `aspp.features.${i + 1}.0`, 1, r), `aspp.features.${i + 1}.1`)),
    ),
  );
  const up = conv(ref.concat(branches), 'bot_aspp');
  const preLogits = ref.concat([
    conv(low!, 'bot_fine'),
    ref.resizeAlignCorners(up, low!.h, low!.w),
  ]);
  let y = ref.relu(bn(conv(preLogits, 'final.0'), 'final.1'));
  y = ref.relu(bn(conv(y, 'final.3'), 'final.4'));
  return { preLogits, logits: conv(y, 'final.6') };
}

function randomise(model: DeepLabV3Plus, seed: number): void {
  let i = seed;
  for (const [name, v] of model.variables) {
    i += 1;
    const value =
      name.endsWith('running_var') || (name.endsWith('.weight') && v.rank === 1)
        ? tf.randomUniform(v.shape, 0.5, 1.5, 'float32', i)
        : tf.randomNormal(
            v.shape,
            0,
            v.rank === 4 ? Math.sqrt(1 / (v.size / v.shape[3]!)) : 0.2,
            'float32',
            i,
          );
    v.assign(value);
    value.dispose();
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('deeplabV3Plus', () => {
  it.each([
    ['resnet18', 8],
    ['resnet50', 16],
  ] as const)(
    '%s OS%i matches a plain-JS reference forward pass (narrow widths, odd input)',
    (encoder, outputStride) => {
      const model = deeplabV3Plus({
        encoder,
        outputStride,
        numClasses: 3,
        baseWidth: 4,
        asppChannels: 6,
        lowLevelChannels: 3,
        decoderChannels: 5,
      });
      randomise(model, 7);
      const [h, w] = [35, 29];
      const images = tf.randomUniform([1, h, w, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const counter = new ref.Counter();
      const expected = referenceDeepLab(model, ref.img(h, w, 3, images.dataSync()), counter);
      const out = model.apply(images);
      expect(out.preLogits.shape).toEqual([1, expected.preLogits.h, expected.preLogits.w, 9]);
      expect(out.logits.shape).toEqual([1, 9, 8, 3]);
      const scale = Math.max(...expected.logits.data.map(Math.abs));
      expect(maxAbsDiff(out.logits.dataSync(), expected.logits.data) / scale).toBeLessThan(1e-4);
      expect(maxAbsDiff(out.preLogits.dataSync(), expected.preLogits.data)).toBeLessThan(1e-3);
      expect(model.flops(h, w)).toBe(2 * counter.macs);
      tf.dispose([images, out.preLogits, out.logits]);
      model.dispose();
    },
  );

  it('resnet18 at output strides 16 and 8: torchvision parameter count, shapes at 97×131, no leaks', () => {
    for (const outputStride of [16, 8] as const) {
      // Full width at OS16 (torchvision sizes); narrower at OS8 to keep the test fast.
      const baseWidth = outputStride === 16 ? 64 : 16;
      const model = deeplabV3Plus({ encoder: 'resnet18', outputStride, numClasses: 5, baseWidth });
      let encoder = 0;
      for (const [name, v] of model.variables)
        if (/^(conv1|bn1|layer)/.test(name) && !name.includes('running')) encoder += v.size;
      if (baseWidth === 64) expect(encoder).toBe(11_689_512 - 513_000); // torchvision resnet18 minus fc
      expect(model.preLogitChannels).toBe(304);
      expect(model.preLogitStride).toBe(4);
      expect(model.outputStride).toBe(4);
      expect(model.variables.get('aspp.features.1.0.weight')!.shape).toEqual([
        3,
        3,
        8 * baseWidth,
        256,
      ]);
      expect(model.variables.get('bot_aspp.weight')!.shape).toEqual([1, 1, 1280, 256]);
      const images = tf.zeros([1, 97, 131, 3]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const out = model.apply(images);
      // stem /2 (ceil) and max-pool 3×3/2 pad 1: 97 → 49 → 25, 131 → 66 → 33.
      expect(out.preLogits.shape).toEqual([1, 25, 33, 304]);
      expect(out.logits.shape).toEqual([1, 25, 33, 5]);
      tf.dispose([out.preLogits, out.logits]);
      expect(tf.memory().numTensors).toBe(before);
      images.dispose();
      model.dispose();
    }
  });

  it('resnet50: torchvision parameter count; shapes at 97×131 for output strides 16 and 8', () => {
    const model = deeplabV3Plus({ encoder: 'resnet50', outputStride: 16, numClasses: 19 });
    let encoder = 0;
    for (const [name, v] of model.variables)
      if (/^(conv1|bn1|layer)/.test(name) && !name.includes('running')) encoder += v.size;
    expect(encoder).toBe(25_557_032 - 2_049_000); // torchvision resnet50 minus fc
    expect(model.variables.get('layer4.0.downsample.0.weight')!.shape).toEqual([1, 1, 1024, 2048]);
    expect(model.variables.get('bot_fine.weight')!.shape).toEqual([1, 1, 256, 48]);
    expect(model.preLogitChannels).toBe(304);
    model.dispose();
    // The forward passes run at a quarter of the width (same strides and shapes), to stay fast.
    for (const outputStride of [16, 8] as const) {
      const narrow = deeplabV3Plus({
        encoder: 'resnet50',
        outputStride,
        numClasses: 19,
        baseWidth: 16,
      });
      const images = tf.zeros([1, 97, 131, 3]) as tf.Tensor4D;
      const out = narrow.apply(images);
      expect(out.preLogits.shape).toEqual([1, 25, 33, 304]);
      expect(out.logits.shape).toEqual([1, 25, 33, 19]);
      tf.dispose([images, out.preLogits, out.logits]);
      narrow.dispose();
    }
  });

  it('rejects bad options', () => {
    expect(() => deeplabV3Plus({ encoder: 'vgg' as never })).toThrow(
      /encoder to be one of 'resnet18', 'resnet50', got "vgg"/,
    );
    expect(() => deeplabV3Plus({ outputStride: 32 as never })).toThrow(
      /outputStride to be 8 or 16, got 32/,
    );
    try {
      deeplabV3Plus({ numClasses: 1.5 });
    } catch (e) {
      expect(DenseHybridError.is(e) && e.code).toBe('INVALID_OPTION');
    }
  });
});
