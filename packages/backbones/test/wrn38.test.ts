import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DEEPLAB_V3_PLUS_WRN38_OPTIONS,
  DenseHybridError,
  WRN38_WASM_MAX_PIXELS,
  createBackbone,
  deeplabV3PlusWrn38,
  type DeepLabV3PlusWrn38,
} from '@densehybrid/backbones';
import * as ref from './reference.js';

/** Keys and PyTorch shapes of the authors' `DeepWV3PlusTH` (K = 19), from `scripts/authors_wrn38.py keys`. */
const FIXTURE = JSON.parse(
  readFileSync(
    join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'wrn38-keys.json'),
    'utf8',
  ),
) as { parameters: number; keys: { name: string; shape: number[] }[] };

/** HWIO (tfjs) → OIHW (PyTorch). */
const torchShape = (s: readonly number[]): number[] =>
  s.length === 4 ? [s[3]!, s[2]!, s[0]!, s[1]!] : [...s];

/** Plain-JS `DeepWV3PlusTH.features` (eval mode), written from the authors' module structure. */
function referenceWrn38(
  model: DeepLabV3PlusWrn38,
  input: ref.Img,
  counter: ref.Counter,
): { preLogits: ref.Img; logits: ref.Img } {
  const P = ref.weightReader(model);
  const shape = (n: string): number[] => model.variables.get(`${n}.weight`)!.shape;
  const conv = (x: ref.Img, n: string, stride = 1, dilation = 1): ref.Img => {
    const [k, , , out] = shape(n) as [number, number, number, number];
    const pad = Math.floor(k / 2) * dilation;
    return ref.conv(x, P(`${n}.weight`), k, out, stride, pad, undefined, counter, dilation);
  };
  const bn = (x: ref.Img, n: string): ref.Img =>
    ref.batchNorm(
      x,
      P(`${n}.weight`),
      P(`${n}.bias`),
      P(`${n}.running_mean`),
      P(`${n}.running_var`),
      1e-5,
    );
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  let x: ref.Img = { ...input, data: input.data.map((v, i) => (v - mean[i % 3]!) / std[i % 3]!) };
  x = conv(x, 'mod1.conv1');
  // [blocks, stride of block 1, dilation, bottleneck] of mod2..mod7 (WiderResNetA2-38, dilation=True)
  const stages: [number, number, number, boolean][] = [
    [3, 1, 1, false],
    [3, 1, 1, false],
    [6, 2, 1, false],
    [3, 1, 2, false],
    [1, 1, 4, true],
    [1, 1, 4, true],
  ];
  let m2: ref.Img | undefined;
  stages.forEach(([n, s0, d, bottleneck], i) => {
    if (i < 2) x = ref.maxPool(x, 3, 2, 1);
    for (let b = 0; b < n; b++) {
      const p = `mod${i + 2}.block${b + 1}`;
      const s = b === 0 ? s0 : 1;
      const a = ref.relu(bn(x, `${p}.bn1.0`));
      const shortcut = model.variables.has(`${p}.proj_conv.weight`)
        ? conv(a, `${p}.proj_conv`, s)
        : x;
      let y: ref.Img;
      if (bottleneck) {
        y = ref.relu(bn(conv(a, `${p}.convs.conv1`, s), `${p}.convs.bn2.0`));
        y = ref.relu(bn(conv(y, `${p}.convs.conv2`, 1, d), `${p}.convs.bn3.0`));
        y = conv(y, `${p}.convs.conv3`);
      } else {
        y = ref.relu(bn(conv(a, `${p}.convs.conv1`, s, d), `${p}.convs.bn2.0`));
        y = conv(y, `${p}.convs.conv2`, 1, d);
      }
      x = ref.add(y, shortcut);
    }
    if (i === 0) m2 = x;
  });
  const pooled = ref.relu(
    bn(conv(ref.adaptiveAvgPool(x, 1, 1), 'aspp.img_conv.0'), 'aspp.img_conv.1'),
  );
  const branches = [ref.resizeAlignCorners(pooled, x.h, x.w)];
  [1, 12, 24, 36].forEach((r, i) =>
    branches.push(ref.relu(bn(conv(x, `aspp.features.${i}.0`, 1, r), `aspp.features.${i}.1`))),
  );
  const up = conv(ref.concat(branches), 'bot_aspp');
  const preLogits = ref.concat([conv(m2!, 'bot_fine'), ref.resizeAlignCorners(up, m2!.h, m2!.w)]);
  let y = ref.relu(bn(conv(preLogits, 'final.0'), 'final.1'));
  y = ref.relu(bn(conv(y, 'final.3'), 'final.4'));
  return { preLogits, logits: conv(y, 'final.6') };
}

/** Random weights, BN statistics and affine parameters (seeded). */
function randomise(model: DeepLabV3PlusWrn38, seed: number): void {
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
const maxAbs = (a: ArrayLike<number>): number => maxAbsDiff(a, new Float64Array(a.length));

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('deeplabV3PlusWrn38 (full width)', () => {
  let model: DeepLabV3PlusWrn38;
  beforeAll(() => {
    // by name, as the CLI and the importer build it (one full-width build for this file: ~2 s)
    model = createBackbone({ name: 'deeplabv3plus-wrn38', numClasses: 19 }) as DeepLabV3PlusWrn38;
  });
  afterAll(() => model.dispose());

  it("has exactly the authors' state_dict keys and shapes (minus BN step counters and the OOD head)", () => {
    const want = FIXTURE.keys.filter(
      (k) => !k.name.endsWith('.num_batches_tracked') && !k.name.startsWith('logits_ood.'),
    );
    const got = [...model.variables].map(([name, v]) => ({ name, shape: torchShape(v.shape) }));
    expect(got).toEqual(want); // same order too: PyTorch's registration order
    // what is left is the dataset-posterior head: BN → ReLU → 1×1 conv, 2 outputs with bias
    expect(
      FIXTURE.keys.filter(
        (k) => k.name.startsWith('logits_ood.') && !k.name.endsWith('num_batches_tracked'),
      ),
    ).toEqual([
      { name: 'logits_ood.norm.weight', shape: [304] },
      { name: 'logits_ood.norm.bias', shape: [304] },
      { name: 'logits_ood.norm.running_mean', shape: [304] },
      { name: 'logits_ood.norm.running_var', shape: [304] },
      { name: 'logits_ood.conv.weight', shape: [2, 304, 1, 1] },
      { name: 'logits_ood.conv.bias', shape: [2] },
    ]);
  });

  it("parameter count equals the PyTorch module's (137,105,154 with the 2-way OOD head)", () => {
    const oodHead = 304 * 2 + 2 * 304 + 2; // BN weight+bias, conv weight+bias
    expect(model.parameterCount() + oodHead).toBe(FIXTURE.parameters);
    expect(FIXTURE.parameters).toBe(137_105_154);
    expect(model.preLogitChannels).toBe(304);
    expect(model.preLogitStride).toBe(2);
    expect(model.outputStride).toBe(2);
    expect(model.upsampleAlignCorners).toBe(true);
    expect(model.inputNormalization).toEqual({
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    });
  });

  it('runs a 32×48 image: dec0 and logits at stride 2, no tensors left behind', () => {
    const images = tf.randomUniform([1, 32, 48, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const { preLogits, logits } = model.apply(images);
    expect(preLogits.shape).toEqual([1, 16, 24, 304]);
    expect(logits.shape).toEqual([1, 16, 24, 19]);
    expect(Number.isFinite(tf.tidy(() => tf.sum(tf.abs(logits)).dataSync()[0]!))).toBe(true);
    tf.dispose([preLogits, logits]);
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it('is the preset by name, with the default options', () => {
    expect(model.config).toEqual({
      architecture: 'deeplabV3PlusWrn38',
      ...DEFAULT_DEEPLAB_V3_PLUS_WRN38_OPTIONS,
    });
    expect(model.variables.get('mod7.block1.convs.conv2.weight')!.shape).toEqual([
      3, 3, 1024, 2048,
    ]);
  });

  it('refuses inputs above 1024×2048 pixels per batch on wasm at once (4 GiB heap)', () => {
    expect(WRN38_WASM_MAX_PIXELS).toBe(1024 * 2048);
    const images = tf.zeros([1, 1025, 2048, 3]) as tf.Tensor4D;
    const t0 = performance.now();
    expect(() => model.apply(images)).toThrow(
      /deeplabV3PlusWrn38\.apply: expected at most 2097152 pixels per batch \(1024×2048\) on the wasm backend, whose heap is 4 GiB, got 2099200 \(1×1025×2048×3\)/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    images.dispose();
  });

  it('memory: the stage schedule peaks at 920 bytes per input pixel (1024×2048: 1.8 GiB)', () => {
    // the peak: dec0 (304 ch) and the two 256-ch decoder convs (BN and ReLU folded in) at stride 2
    const perPixel = (h: number, w: number): number => model.activationBytes!(h, w) / (h * w);
    expect(perPixel(1024, 2048)).toBeCloseTo(920, 0);
    expect(perPixel(512, 1024)).toBeCloseTo(920, 0);
    expect(model.activationBytes!(1024, 2048) / 2 ** 30).toBeLessThan(1.8);
  });
});

describe('deeplabV3PlusWrn38 (widthDivisor 16)', () => {
  it('matches a plain-JS reference forward pass at an odd size; flops = 2 × MACs', () => {
    const model = deeplabV3PlusWrn38({ numClasses: 3, widthDivisor: 16 });
    randomise(model, 11);
    const [h, w] = [29, 43];
    const images = tf.randomUniform([1, h, w, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const counter = new ref.Counter();
    const expected = referenceWrn38(model, ref.img(h, w, 3, images.dataSync()), counter);
    const out = model.apply(images);
    // pool2: 29 → 15, 43 → 22 (dec0); pool3 → 8 × 11; mod4 stride 2 → 4 × 6
    expect(out.preLogits.shape).toEqual([1, 15, 22, 19]);
    expect(out.logits.shape).toEqual([1, 15, 22, 3]);
    expect(maxAbsDiff(out.logits.dataSync(), expected.logits.data)).toBeLessThan(
      1e-4 * maxAbs(expected.logits.data),
    );
    expect(maxAbsDiff(out.preLogits.dataSync(), expected.preLogits.data)).toBeLessThan(
      1e-4 * maxAbs(expected.preLogits.data),
    );
    expect(model.flops(h, w)).toBe(2 * counter.macs);
    tf.dispose([images, out.preLogits, out.logits]);
    model.dispose();
  });

  it("activationBytes equals tfjs' measured peak; the caller's images survive (normalizeInput: false)", async () => {
    for (const normalizeInput of [true, false]) {
      const model = deeplabV3PlusWrn38({ numClasses: 2, widthDivisor: 16, normalizeInput });
      const images = tf.randomUniform([1, 37, 51, 3]) as tf.Tensor4D;
      const start = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const o = model.apply(images);
        return [o.preLogits, o.logits];
      });
      // + 24 bytes: the mean and std vectors of the normalisation
      const extra = normalizeInput ? 24 : 0;
      expect(info.peakBytes - start).toBe(model.activationBytes!(37, 51) + extra);
      expect(images.isDisposed).toBe(false);
      tf.dispose(info.result as tf.Tensor[]);
      images.dispose();
      model.dispose();
    }
  });

  it('training mode: batch statistics, running statistics updated, Dropout2d in mod6/mod7', () => {
    const model = deeplabV3PlusWrn38({ numClasses: 2, widthDivisor: 16 });
    const images = tf.randomUniform([2, 24, 24, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const rm = model.variables.get('mod7.block1.bn1.0.running_mean')!;
    const before = rm.dataSync().slice();
    const n0 = tf.memory().numTensors;
    const a = model.apply(images, { training: true });
    const b = model.apply(images, { training: true });
    expect(a.logits.shape).toEqual([2, 12, 12, 2]);
    expect(maxAbsDiff(rm.dataSync(), before)).toBeGreaterThan(0);
    // same batch, same statistics up to momentum: only the random channel dropout differs
    expect(maxAbsDiff(a.logits.dataSync(), b.logits.dataSync())).toBeGreaterThan(1e-3);
    tf.dispose([a.preLogits, a.logits, b.preLogits, b.logits]);
    expect(tf.memory().numTensors).toBe(n0);
    images.dispose();
    model.dispose();
  });

  it('rebuilds from its JSON config with the same initial weights', () => {
    const model = deeplabV3PlusWrn38({ numClasses: 4, widthDivisor: 16, seed: 7 });
    const copy = createBackbone(JSON.parse(JSON.stringify(model.config)) as typeof model.config);
    expect(copy.config).toEqual(model.config);
    expect([...copy.variables.keys()]).toEqual([...model.variables.keys()]);
    for (const [name, v] of model.variables)
      expect(Array.from(copy.variables.get(name)!.dataSync()), name).toEqual(
        Array.from(v.dataSync()),
      );
    copy.dispose();
    model.dispose();
  });

  it('rejects bad options', () => {
    expect(() => deeplabV3PlusWrn38({ widthDivisor: 3 as 2 })).toThrow(DenseHybridError);
    expect(() => deeplabV3PlusWrn38({ widthDivisor: 3 as 2 })).toThrow(
      /deeplabV3PlusWrn38: expected widthDivisor to be one of 1, 2, 4, 8, 16, got 3/,
    );
    expect(() => deeplabV3PlusWrn38({ numClasses: 0 })).toThrow(/numClasses/);
  });
});
