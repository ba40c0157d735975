import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  denseHybridLoss,
  logSumExpLastAxis,
  upsampleBilinear,
  validateLossInputs,
  type DenseHybridLossOptions,
  type DenseHybridLossResult,
} from '@densehybrid/losses';
import {
  BACKENDS,
  bilinearRef,
  expectClose,
  lse,
  mean,
  numericGradient,
  pixel,
  randomArray,
  randomLabels,
  sigmoid,
  softmax,
  type Arr4,
} from './reference.js';

interface RefTerms {
  total: number;
  classification: number;
  likelihood: number;
  posterior: number;
}

/** eq. 15 / the authors' weighting written directly from the issue's formulas, in float64. */
function refDenseHybrid(
  s: Arr4,
  g: Arr4,
  labels: Int32Array,
  variant: 'authors' | 'paper',
  beta = 0.03,
  posteriorWeight = 10 * beta,
): RefTerms {
  const K = s.shape[3];
  const ce: number[] = [];
  const lseOut: number[] = [];
  const bceAll: number[] = [];
  const nllInIn: number[] = [];
  const nllOutOut: number[] = [];
  for (let p = 0; p < labels.length; p++) {
    const y = labels[p] as number;
    const v = pixel(s, p);
    const gp = g.data[p] as number;
    const pOut = sigmoid(gp);
    if (y >= 0 && y < K) {
      ce.push(-Math.log(softmax(v)[y] as number));
      nllInIn.push(-Math.log(1 - pOut));
      bceAll.push(-Math.log(1 - pOut));
    } else if (y === K) {
      lseOut.push(lse(v));
      nllOutOut.push(-Math.log(pOut));
      bceAll.push(-Math.log(pOut));
    } else {
      bceAll.push(-Math.log(1 - pOut)); // ignored pixels are d_in for the authors' posterior
    }
  }
  const classification = mean(ce);
  const likelihood = mean(lseOut);
  if (variant === 'authors') {
    const posterior = mean(bceAll);
    return {
      classification,
      likelihood,
      posterior,
      total: classification + beta * likelihood + posteriorWeight * posterior,
    };
  }
  // eq. 15 as printed: mean_in[−ln P(y|x) − ln P(d_in|x)] + β·mean_out[−ln P(d_out|x) + lse]
  const nIn = ce.length;
  const nOut = lseOut.length;
  const inPart = nIn ? ce.reduce((a, c, i) => a + c + (nllInIn[i] as number), 0) / nIn : 0;
  const outPart = nOut ? lseOut.reduce((a, l, i) => a + l + (nllOutOut[i] as number), 0) / nOut : 0;
  return {
    classification,
    likelihood,
    posterior: mean(nllInIn) + beta * mean(nllOutOut),
    total: inPart + beta * outPart,
  };
}

async function values(r: DenseHybridLossResult): Promise<RefTerms> {
  const [total, classification, likelihood, posterior] = await Promise.all(
    [r.total, r.classification, r.likelihood, r.posterior].map(
      async (t) => (await t.data())[0] as number,
    ),
  );
  return {
    total: total!,
    classification: classification!,
    likelihood: likelihood!,
    posterior: posterior!,
  };
}

function dispose(r: DenseHybridLossResult): void {
  tf.dispose([r.total, r.classification, r.likelihood, r.posterior]);
}

const K = 3;
const LABEL_VALUES = [0, 1, 2, K, 255];

function makeCase(
  seed: number,
  [N, h, w]: [number, number, number],
  [H, W]: [number, number],
): { s: Arr4; g: Arr4; labels: Int32Array; labelShape: [number, number, number] } {
  return {
    s: { data: randomArray(N * h * w * K, seed), shape: [N, h, w, K] },
    g: { data: randomArray(N * h * w, seed + 1), shape: [N, h, w, 1] },
    labels: randomLabels(N * H * W, seed + 2, LABEL_VALUES),
    labelShape: [N, H, W],
  };
}

const t4 = (a: Arr4): tf.Tensor4D => tf.tensor4d(Float32Array.from(a.data), [...a.shape]);

for (const backend of BACKENDS) {
  describe(`denseHybridLoss on ${backend}`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
    });

    for (const variant of ['authors', 'paper'] as const) {
      it(`${variant}: every term matches the float64 formula, at label size and upsampled`, async () => {
        for (const [seed, low, high] of [
          [10, [2, 3, 4], [3, 4]],
          [20, [1, 2, 3], [5, 7]],
        ] as const) {
          const c = makeCase(seed, [...low], [...high]);
          const s = t4(c.s);
          const g = t4(c.g);
          const labels = tf.tensor3d(c.labels, c.labelShape, 'int32');
          const options: DenseHybridLossOptions = { variant, beta: 0.2, posteriorWeight: 0.7 };
          const before = tf.memory().numTensors;
          const r = denseHybridLoss({ logits: s, posteriorLogits: g, labels }, options);
          expect(tf.memory().numTensors).toBe(before + 4); // exactly the four returned scalars
          const got = await values(r);
          dispose(r);
          expect(tf.memory().numTensors).toBe(before);
          const [, H, W] = c.labelShape;
          const want = refDenseHybrid(
            bilinearRef(c.s, H, W),
            bilinearRef(c.g, H, W),
            c.labels,
            variant,
            0.2,
            0.7,
          );
          expectClose(
            [got.total, got.classification, got.likelihood, got.posterior],
            [want.total, want.classification, want.likelihood, want.posterior],
          );
          // the returned terms recombine into total as documented
          const recombined =
            variant === 'authors'
              ? got.classification + 0.2 * got.likelihood + 0.7 * got.posterior
              : got.classification + 0.2 * got.likelihood + got.posterior;
          expect(got.total).toBeCloseTo(recombined, 5);
          tf.dispose([s, g, labels]);
        }
      });

      it(`${variant}: gradients wrt logits and posterior logits match central differences (through upsampling)`, async () => {
        const c = makeCase(31, [1, 2, 3], [4, 5]);
        const [, H, W] = c.labelShape;
        const s = t4(c.s);
        const g = t4(c.g);
        const labels = tf.tensor3d(c.labels, c.labelShape, 'int32');
        const before = tf.memory().numTensors;
        const [ds, dg] = tf.grads(
          (a: tf.Tensor, b: tf.Tensor) =>
            denseHybridLoss(
              { logits: a as tf.Tensor4D, posteriorLogits: b as tf.Tensor4D, labels },
              { variant, beta: 0.5 },
            ).total,
        )([s, g]);
        const fS = (x: Float64Array): number =>
          refDenseHybrid(
            bilinearRef({ data: x, shape: c.s.shape }, H, W),
            bilinearRef(c.g, H, W),
            c.labels,
            variant,
            0.5,
          ).total;
        const fG = (x: Float64Array): number =>
          refDenseHybrid(
            bilinearRef(c.s, H, W),
            bilinearRef({ data: x, shape: c.g.shape }, H, W),
            c.labels,
            variant,
            0.5,
          ).total;
        expectClose(await ds!.data(), numericGradient(fS, c.s.data), 2e-5, 2e-3);
        expectClose(await dg!.data(), numericGradient(fG, c.g.data), 2e-5, 2e-3);
        tf.dispose([ds!, dg!]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([s, g, labels]);
      });
    }

    it('inlier, outlier and ignored pixels get the analytic gradients', async () => {
      // one pixel of each kind, K = 3, no upsampling
      const sv = [0.3, -1.2, 2.0, 1.5, 0.1, -0.4, -2.0, 0.7, 0.9];
      const gv = [0.4, -0.8, 1.3];
      const s = tf.tensor4d(sv, [1, 1, 3, K]);
      const g = tf.tensor4d(gv, [1, 1, 3, 1]);
      const labels = tf.tensor3d([[[2, K, 255]]], [1, 1, 3], 'int32');
      const beta = 0.03;
      const [ds, dg] = tf.grads(
        (a: tf.Tensor, b: tf.Tensor) =>
          denseHybridLoss({ logits: a as tf.Tensor4D, posteriorLogits: b as tf.Tensor4D, labels })
            .total,
      )([s, g]);
      const dsv = await ds!.data();
      const dgv = await dg!.data();
      const pIn = softmax(sv.slice(0, 3));
      const pOut = softmax(sv.slice(3, 6));
      // inlier: (softmax − onehot) / N_in; outlier: β·softmax / N_out; ignored: 0
      expectClose(
        dsv.slice(0, 3),
        pIn.map((p, i) => p - (i === 2 ? 1 : 0)),
      );
      expectClose(
        dsv.slice(3, 6),
        pOut.map((p) => beta * p),
      );
      expectClose(dsv.slice(6, 9), [0, 0, 0], 1e-7, 0);
      // posterior (authors): 10β·(σ(g) − d) / N_all, ignored counts as d = 0
      const w = (10 * beta) / 3;
      expectClose(dgv, [w * sigmoid(gv[0]!), w * (sigmoid(gv[1]!) - 1), w * sigmoid(gv[2]!)]);
      // paper: the ignored pixel gets no posterior gradient either
      const [dgPaper] = tf.grads(
        (b: tf.Tensor) =>
          denseHybridLoss(
            { logits: s, posteriorLogits: b as tf.Tensor4D, labels },
            { variant: 'paper' },
          ).total,
      )([g]);
      expectClose(await dgPaper!.data(), [sigmoid(gv[0]!), beta * (sigmoid(gv[1]!) - 1), 0], 1e-6);
      tf.dispose([s, g, labels, ds!, dg!, dgPaper!]);
    });

    it('a batch without outliers gives 0 for the outlier terms, not NaN; an all-ignored batch gives 0', async () => {
      const s = tf.tensor4d(Float32Array.from(randomArray(2 * 2 * K, 5)), [1, 2, 2, K]);
      const g = tf.tensor4d(Float32Array.from(randomArray(4, 6)), [1, 2, 2, 1]);
      for (const variant of ['authors', 'paper'] as const) {
        const labels = tf.tensor3d(
          [
            [
              [0, 1],
              [255, 2],
            ],
          ],
          [1, 2, 2],
          'int32',
        );
        const r = denseHybridLoss({ logits: s, posteriorLogits: g, labels }, { variant });
        const v = await values(r);
        expect(v.likelihood).toBe(0);
        expect(Number.isFinite(v.total)).toBe(true);
        expect(Number.isFinite(v.posterior)).toBe(true);
        dispose(r);
        const ignored = tf.fill([1, 2, 2], 255, 'int32') as tf.Tensor3D;
        const r2 = denseHybridLoss({ logits: s, posteriorLogits: g, labels: ignored }, { variant });
        const v2 = await values(r2);
        expect(v2.classification).toBe(0);
        expect(v2.likelihood).toBe(0);
        if (variant === 'paper') expect(v2.total).toBe(0);
        else expect(v2.total).toBeGreaterThan(0); // ignored pixels still train g as d_in
        dispose(r2);
        tf.dispose([labels, ignored]);
      }
      tf.dispose([s, g]);
    });

    it('is numerically stable for huge logits (max subtraction, softplus)', async () => {
      const s = tf.tensor4d([1000, -1000, 0, 900, 950, -50], [1, 1, 2, K]);
      const g = tf.tensor4d([-200, 200], [1, 1, 2, 1]);
      const labels = tf.tensor3d([[[0, K]]], [1, 1, 2], 'int32');
      const r = denseHybridLoss({ logits: s, posteriorLogits: g, labels }, { variant: 'paper' });
      const v = await values(r);
      // CE of the inlier ≈ 0; lse of the outlier ≈ 950; −ln P(d_in) at g=−200 ≈ 0; −ln P(d_out) at g=200 ≈ 0
      expect(v.classification).toBeCloseTo(0, 5);
      expect(v.likelihood).toBeCloseTo(950, 2);
      expect(v.posterior).toBeCloseTo(0, 5);
      dispose(r);
      const [ds] = tf.grads(
        (a: tf.Tensor) =>
          denseHybridLoss({ logits: a as tf.Tensor4D, posteriorLogits: g, labels }).total,
      )([s]);
      expect(Array.from(await ds!.data()).every(Number.isFinite)).toBe(true);
      tf.dispose([s, g, labels, ds!]);
    });

    it('rejects bad shapes, dtypes and options with DenseHybridError naming the argument', () => {
      const s = tf.zeros([1, 2, 2, K]) as tf.Tensor4D;
      const g = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
      const labels = tf.zeros([1, 2, 2], 'int32') as tf.Tensor3D;
      const expectError = (f: () => unknown, code: string, re: RegExp): void => {
        let err: unknown;
        try {
          f();
        } catch (e) {
          err = e;
        }
        expect(DenseHybridError.is(err)).toBe(true);
        expect((err as DenseHybridError).code).toBe(code);
        expect((err as Error).message).toMatch(re);
      };
      const bad3 = tf.zeros([2, 2, K]) as unknown as tf.Tensor4D;
      expectError(
        () => denseHybridLoss({ logits: bad3, posteriorLogits: g, labels }),
        'INVALID_INPUT',
        /^denseHybridLoss: expected inputs\.logits to be a float32 tensor \[N,h,w,K\], got Tensor\[2,2,3\] float32/,
      );
      const g2 = tf.zeros([1, 2, 2, 2]) as tf.Tensor4D;
      expectError(
        () => denseHybridLoss({ logits: s, posteriorLogits: g2, labels }),
        'SHAPE_MISMATCH',
        /posteriorLogits.*got \[1,2,2,2\]/,
      );
      const floatLabels = tf.zeros([1, 2, 2]) as tf.Tensor3D;
      expectError(
        () => denseHybridLoss({ logits: s, posteriorLogits: g, labels: floatLabels }),
        'INVALID_INPUT',
        /labels to be an int32 tensor/,
      );
      const bigLabels = tf.zeros([1, 3, 3], 'int32') as tf.Tensor3D;
      expectError(
        () =>
          denseHybridLoss(
            { logits: s, posteriorLogits: g, labels: bigLabels },
            { upsample: false },
          ),
        'SHAPE_MISMATCH',
        /labels to be \[1,2,2\].*upsample is false.*got \[1,3,3\]/,
      );
      const twoImages = tf.zeros([2, 2, 2], 'int32') as tf.Tensor3D;
      expectError(
        () => denseHybridLoss({ logits: s, posteriorLogits: g, labels: twoImages }),
        'SHAPE_MISMATCH',
        /got \[2,2,2\]/,
      );
      expectError(
        () => denseHybridLoss({ logits: s, posteriorLogits: g, labels }, { beta: -1 }),
        'INVALID_OPTION',
        /options\.beta.*got -1/,
      );
      expectError(
        () => denseHybridLoss({ logits: s, posteriorLogits: g, labels }, { outlierLabel: 1 }),
        'INVALID_OPTION',
        /outlierLabel.*outside the known classes 0\.\.2, got 1/,
      );
      expectError(
        () =>
          denseHybridLoss(
            { logits: s, posteriorLogits: g, labels },
            { variant: 'other' as 'paper' },
          ),
        'INVALID_OPTION',
        /authors \| paper, got "other"/,
      );
      expectError(() => denseHybridLoss(undefined as never), 'INVALID_INPUT', /got undefined/);
      tf.dispose([s, g, labels, bad3, g2, floatLabels, bigLabels, twoImages]);
    });

    it('validateLossInputs finds labels out of range and non-finite logits', async () => {
      const s = tf.zeros([1, 2, 2, K]) as tf.Tensor4D;
      const g = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
      const good = tf.tensor3d(
        [
          [
            [0, K],
            [255, 2],
          ],
        ],
        [1, 2, 2],
        'int32',
      );
      const before = tf.memory().numTensors;
      await validateLossInputs({ logits: s, posteriorLogits: g, labels: good });
      expect(tf.memory().numTensors).toBe(before);
      const bad = tf.tensor3d(
        [
          [
            [0, 7],
            [255, 2],
          ],
        ],
        [1, 2, 2],
        'int32',
      );
      const err = await validateLossInputs({ logits: s, labels: bad }).catch((e: unknown) => e);
      expect((err as DenseHybridError).code).toBe('INVALID_INPUT');
      expect((err as Error).message).toBe(
        'validateLossInputs: expected inputs.labels values in 0..2, 3 (outlier) or 255 (ignore), got 7 at [0,0,1]',
      );
      const nan = tf.tensor4d([0, 0, NaN, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 2, K]);
      const err2 = await validateLossInputs({ logits: nan, labels: good }).catch((e: unknown) => e);
      expect((err2 as DenseHybridError).code).toBe('NON_FINITE');
      expect((err2 as Error).message).toMatch(/inputs\.logits to be finite/);
      const inf = tf.tensor4d([0, Infinity, 0, 0], [1, 2, 2, 1]);
      const err3 = await validateLossInputs({
        logits: s,
        posteriorLogits: inf,
        labels: good,
      }).catch((e: unknown) => e);
      expect((err3 as Error).message).toMatch(/posteriorLogits to be finite/);
      expect(tf.memory().numTensors).toBe(before + 3);
      tf.dispose([s, g, good, bad, nan, inf]);
    });

    it('logSumExpLastAxis: stable value and softmax gradient, matching float64', async () => {
      const v = [1000, 999.5, -1000, 3, 2.5, -4, 0.1, 0.2, 0.3];
      const x = tf.tensor2d(v, [3, 3]);
      const weights = [0.7, -1.3, 2.1];
      const before = tf.memory().numTensors;
      const y = logSumExpLastAxis(x);
      expect(tf.memory().numTensors).toBe(before + 1);
      const rows = [v.slice(0, 3), v.slice(3, 6), v.slice(6, 9)];
      expectClose(await y.data(), rows.map(lse), 1e-5, 1e-6);
      const w = tf.tensor1d(weights);
      const [dx] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(logSumExpLastAxis(a), w)))([x]);
      const f = (d: Float64Array): number =>
        [0, 1, 2].reduce(
          (acc, r) => acc + (weights[r] as number) * lse(Array.from(d.slice(3 * r, 3 * r + 3))),
          0,
        );
      expectClose(await dx!.data(), numericGradient(f, Float64Array.from(v)), 1e-5, 1e-4);
      const scalar = tf.scalar(1);
      expect(() => logSumExpLastAxis(scalar)).toThrow(/rank ≥ 1, got Tensor\[\] float32/);
      tf.dispose([x, y, w, dx!, scalar]);
    });

    it('upsampleBilinear matches PyTorch align_corners=False and returns the input at equal size', async () => {
      const a: Arr4 = { data: randomArray(2 * 3 * 2 * 2, 77), shape: [2, 3, 2, 2] };
      const x = t4(a);
      const y = upsampleBilinear(x, [7, 5]);
      expect(y.shape).toEqual([2, 7, 5, 2]);
      expectClose(await y.data(), bilinearRef(a, 7, 5).data, 1e-5, 1e-5);
      expect(upsampleBilinear(x, [3, 2])).toBe(x);
      // gradient: tfjs 4.22's own ResizeBilinearGrad ignores halfPixelCenters; ours is the adjoint
      for (const [shape, size] of [
        [
          [2, 3, 2, 2],
          [7, 5],
        ],
        [
          [1, 4, 5, 1],
          [2, 3],
        ],
      ] as const) {
        const src: Arr4 = {
          data: randomArray(
            shape.reduce((p: number, q: number) => p * q, 1),
            78,
          ),
          shape,
        };
        const [H, W] = size;
        const weights = randomArray(shape[0] * H * W * shape[3], 79);
        const xt = t4(src);
        const wt = tf.tensor4d(Float32Array.from(weights), [shape[0], H, W, shape[3]]);
        const [dx] = tf.grads((v: tf.Tensor) =>
          tf.sum(tf.mul(upsampleBilinear(v as tf.Tensor4D, [H, W]), wt)),
        )([xt]);
        const f = (d: Float64Array): number =>
          bilinearRef({ data: d, shape }, H, W).data.reduce(
            (acc, v, i) => acc + v * (weights[i] as number),
            0,
          );
        expectClose(await dx!.data(), numericGradient(f, src.data), 1e-4, 1e-4);
        tf.dispose([xt, wt, dx!]);
      }
      expect(() => upsampleBilinear(x, [0, 2])).toThrow(
        /size to be \[H, W\] with positive integers, got \[0,2\]/,
      );
      tf.dispose([x, y]);
    });
  });
}
