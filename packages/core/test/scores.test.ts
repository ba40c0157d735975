import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  createSmlAccumulator,
  discriminativeScore,
  entropyScore,
  fitSmlStatistics,
  generativeScore,
  hybridScore,
  maxLogitScore,
  maxSoftmaxScore,
  odinScore,
  standardizedMaxLogit,
} from '@densehybrid/core';
import {
  BACKENDS,
  useBackend,
  bilinearRef,
  expectClose,
  lse,
  pixel,
  randomArray,
  sigmoid,
  softmax,
  type Arr4,
} from './reference.js';

const K = 5;
const [N, h, w] = [2, 3, 4];
const SIZE = [5, 7] as const;
const S: Arr4 = { data: randomArray(N * h * w * K, 101, -4, 4), shape: [N, h, w, K] };
const G: Arr4 = { data: randomArray(N * h * w, 102, -4, 4), shape: [N, h, w, 1] };
const t4 = (a: Arr4): tf.Tensor4D => tf.tensor4d(Float32Array.from(a.data), [...a.shape]);

/** Per-pixel reference over the upsampled arrays. */
function perPixel(s: Arr4, f: (v: number[], p: number) => number): number[] {
  const [n, hh, ww] = s.shape;
  return Array.from({ length: n * hh * ww }, (_, p) => f(pixel(s, p), p));
}

const SML_STATS = {
  mean: [1, 2, 0.5, -1, 3],
  std: [0.5, 1, 2, 1.5, 0.25],
};

for (const backend of BACKENDS) {
  describe(`anomaly scores on ${backend}`, () => {
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(true);
    });

    const sUp = bilinearRef(S, SIZE[0], SIZE[1]);
    const gUp = bilinearRef(G, SIZE[0], SIZE[1]);
    const cases: [string, (s: tf.Tensor4D, g: tf.Tensor4D) => tf.Tensor3D, number[]][] = [
      [
        'hybridScore = ln σ(g) − logsumexp(s)',
        (s, g) => hybridScore(s, g, { size: SIZE }),
        perPixel(sUp, (v, p) => Math.log(sigmoid(gUp.data[p] as number)) - lse(v)),
      ],
      [
        'generativeScore = −logsumexp(s)',
        (s) => generativeScore(s, { size: SIZE }),
        perPixel(sUp, (v) => -lse(v)),
      ],
      [
        'discriminativeScore = σ(g)',
        (_s, g) => discriminativeScore(g, { size: SIZE }),
        perPixel(sUp, (_v, p) => sigmoid(gUp.data[p] as number)),
      ],
      [
        'discriminativeScore log = ln σ(g)',
        (_s, g) => discriminativeScore(g, { size: SIZE, log: true }),
        perPixel(sUp, (_v, p) => Math.log(sigmoid(gUp.data[p] as number))),
      ],
      [
        'maxSoftmaxScore = 1 − max softmax',
        (s) => maxSoftmaxScore(s, { size: SIZE }),
        perPixel(sUp, (v) => 1 - Math.max(...softmax(v))),
      ],
      [
        'maxLogitScore = −max s',
        (s) => maxLogitScore(s, { size: SIZE }),
        perPixel(sUp, (v) => -Math.max(...v)),
      ],
      [
        'entropyScore = −Σ p ln p',
        (s) => entropyScore(s, { size: SIZE }),
        perPixel(sUp, (v) => -softmax(v).reduce((a, p) => a + p * Math.log(p), 0)),
      ],
      [
        'standardizedMaxLogit = −(max s − μ_ĉ)/σ_ĉ',
        (s) => standardizedMaxLogit(s, SML_STATS, { size: SIZE }),
        perPixel(sUp, (v) => {
          const c = v.indexOf(Math.max(...v));
          return -(Math.max(...v) - (SML_STATS.mean[c] as number)) / (SML_STATS.std[c] as number);
        }),
      ],
    ];

    for (const [name, f, want] of cases) {
      it(`${name}: matches float64 after bilinear upsampling; returns one tensor the caller owns`, async () => {
        const s = t4(S);
        const g = t4(G);
        const before = tf.memory().numTensors;
        const score = f(s, g);
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(score.shape).toEqual([N, SIZE[0], SIZE[1]]);
        expect(score.dtype).toBe('float32');
        expectClose(await score.data(), want, 2e-5, 2e-5);
        score.dispose();
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([s, g]);
      });
    }

    it('without size, scores keep the logits resolution; hybridScore resizes g to the logits', async () => {
      const s = t4(S);
      const gLow: Arr4 = { data: randomArray(N * 2 * 2, 5), shape: [N, 2, 2, 1] };
      const g = t4(gLow);
      const score = hybridScore(s, g);
      expect(score.shape).toEqual([N, h, w]);
      const gRef = bilinearRef(gLow, h, w);
      expectClose(
        await score.data(),
        perPixel(S, (v, p) => Math.log(sigmoid(gRef.data[p] as number)) - lse(v)),
        2e-5,
        2e-5,
      );
      const ml = maxLogitScore(s);
      expect(ml.shape).toEqual([N, h, w]);
      tf.dispose([s, g, score, ml]);
    });

    it('hybridScore is stable for extreme logits', async () => {
      const s = tf.tensor4d([1000, 999, -1000, 0, 0, 0, 0, 0, 0, 0], [1, 1, 2, K]);
      const g = tf.tensor4d([-500, 500], [1, 1, 2, 1]);
      const v = await hybridScore(s, g).data();
      expect(v[0]).toBeCloseTo(-500 - (1000 + Math.log1p(Math.exp(-1))), 2);
      expect(v[1]).toBeCloseTo(-Math.log(K), 5);
      const m = await maxSoftmaxScore(s).data();
      expect(m[1]).toBeCloseTo(1 - 1 / K, 6);
      tf.dispose([s, g]);
    });

    it('SML statistics: accumulator matches brute-force per-class mean/std over two batches', async () => {
      const a: Arr4 = { data: randomArray(1 * 4 * 4 * 3, 7), shape: [1, 4, 4, 3] };
      const b: Arr4 = { data: randomArray(2 * 3 * 3 * 3, 8), shape: [2, 3, 3, 3] };
      // class 2 is never predicted: make its logit very low everywhere
      for (const arr of [a, b]) for (let i = 2; i < arr.data.length; i += 3) arr.data[i] = -50;
      const ta = t4(a);
      const tb = t4(b);
      const before = tf.memory().numTensors;
      const stats = await fitSmlStatistics([ta, tb]);
      expect(tf.memory().numTensors).toBe(before);
      const perClass: number[][] = [[], [], []];
      const all: number[] = [];
      for (const arr of [a, b]) {
        const n = arr.data.length / 3;
        for (let p = 0; p < n; p++) {
          const v = pixel(arr, p);
          const m = Math.max(...v);
          perClass[v.indexOf(m)]!.push(m);
          all.push(m);
        }
      }
      const mu = (x: number[]): number => x.reduce((p, q) => p + q, 0) / x.length;
      const sd = (x: number[]): number => Math.sqrt(mu(x.map((v) => (v - mu(x)) ** 2)));
      expectClose(stats.mean, [mu(perClass[0]!), mu(perClass[1]!), mu(all)], 1e-5, 1e-5);
      expectClose(stats.std, [sd(perClass[0]!), sd(perClass[1]!), sd(all)], 1e-5, 1e-5);
      expect(stats.count).toEqual([perClass[0]!.length, perClass[1]!.length, 0]);
      const acc = createSmlAccumulator(3);
      expect(() => acc.result()).toThrow(/expected at least one pixel/);
      await expect(acc.update(t4(S))).rejects.toThrow(
        /expected logits with K=3 classes, got \[2,3,4,5\]/,
      );
      tf.dispose([ta, tb]);
    });

    it('odinScore perturbs against the gradient of the tempered max-softmax loss', async () => {
      // model: per-pixel linear map of 2 input channels to K logits, so the reference is exact
      const Wm = randomArray(2 * K, 11, -2, 2);
      const bias = randomArray(K, 12, -1, 1);
      const x: Arr4 = { data: randomArray(1 * 2 * 3 * 2, 13, 0, 1), shape: [1, 2, 3, 2] };
      const Wt = tf.tensor2d(Float32Array.from(Wm), [2, K]);
      const bt = tf.tensor1d(Float32Array.from(bias));
      const model = (img: tf.Tensor4D): tf.Tensor4D =>
        tf.reshape(tf.add(tf.matMul(tf.reshape(img, [-1, 2]), Wt), bt), [
          img.shape[0],
          img.shape[1],
          img.shape[2],
          K,
        ]);
      const logitsOf = (px: number[]): number[] =>
        Array.from(
          { length: K },
          (_, k) =>
            (bias[k] as number) +
            (px[0] as number) * (Wm[k] as number) +
            (px[1] as number) * (Wm[K + k] as number),
        );
      for (const [T, eps] of [
        [1000, 0.0014],
        [2, 0.05],
      ] as const) {
        const want: number[] = [];
        for (let p = 0; p < 6; p++) {
          const px = [x.data[2 * p] as number, x.data[2 * p + 1] as number];
          const s = logitsOf(px).map((v) => v / T);
          const q = softmax(s);
          const top = s.indexOf(Math.max(...s));
          // d/ds_k [lse(s/T) − max(s/T)] = (q_k − [k = top])/T; chain through the linear map
          const ds = q.map((qk, k) => (qk - (k === top ? 1 : 0)) / T);
          const dx = [0, 1].map((c) =>
            ds.reduce((a, d, k) => a + d * (Wm[c * K + k] as number), 0),
          );
          const xt = px.map((v, c) => v - eps * Math.sign(dx[c] as number));
          want.push(1 - Math.max(...softmax(logitsOf(xt).map((v) => v / T))));
        }
        const images = t4(x);
        const before = tf.memory().numTensors;
        const score = odinScore(model, images, { temperature: T, epsilon: eps });
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(score.shape).toEqual([1, 2, 3]);
        expectClose(await score.data(), want, 1e-6, 1e-4);
        // the perturbation lowers the score (more confident) compared with ε = 0
        const plain = odinScore(model, images, { temperature: T, epsilon: 0 });
        const diff = tf.sub(plain, score);
        expect((await tf.min(diff).data())[0]).toBeGreaterThanOrEqual(-1e-7);
        tf.dispose([score, plain, diff, images]);
      }
      tf.dispose([Wt, bt]);
    });

    it('rejects bad inputs and options with DenseHybridError', () => {
      const s = t4(S);
      const g = t4(G);
      const msg = (f: () => unknown): string => {
        try {
          f();
        } catch (e) {
          return DenseHybridError.is(e)
            ? `${e.code}: ${e.message}`
            : `not a DenseHybridError: ${String(e)}`;
        }
        return 'no error';
      };
      const bad = tf.zeros([2, 3, 4]);
      expect(msg(() => generativeScore(bad as never))).toBe(
        'INVALID_INPUT: generativeScore: expected logits to be a float32 tensor [N,h,w,K], got Tensor[2,3,4] float32',
      );
      expect(msg(() => hybridScore(s, s))).toBe(
        'SHAPE_MISMATCH: hybridScore: expected posteriorLogits to be [2,h,w,1], got [2,3,4,5]',
      );
      expect(msg(() => entropyScore(s, { size: [0, 3] as never }))).toBe(
        'INVALID_OPTION: entropyScore: expected options.size to be [H, W] with positive integers, got [0,3]',
      );
      expect(msg(() => standardizedMaxLogit(s, { mean: [1, 2], std: [1, 1] }))).toMatch(
        /^INVALID_INPUT: standardizedMaxLogit: expected statistics\.mean \(finite\) and statistics\.std \(> 0\) of length K=5/,
      );
      expect(
        msg(() => standardizedMaxLogit(s, { mean: [0, 0, 0, 0, 0], std: [1, 1, 0, 1, 1] })),
      ).toMatch(/std \(> 0\)/);
      expect(msg(() => odinScore((x) => x, g, { temperature: 0 }))).toBe(
        'INVALID_OPTION: odinScore: expected options.temperature to be a finite number > 0, got 0',
      );
      expect(msg(() => odinScore('model' as never, g))).toMatch(
        /^INVALID_INPUT: odinScore: expected model to be a function/,
      );
      expect(msg(() => discriminativeScore(g, { log: 'yes' as never }))).toMatch(
        /options\.log to be a boolean/,
      );
      expect(msg(() => createSmlAccumulator(0))).toMatch(
        /numClasses to be a positive integer, got 0/,
      );
      tf.dispose([s, g, bad]);
    });
  });
}
