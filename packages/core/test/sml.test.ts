import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SML_SCORE_OPTIONS,
  DenseHybridError,
  dilatedSmoothing,
  smlScore,
  standardizedMaxLogit,
  suppressBoundaries,
} from '@densehybrid/core';
import {
  BACKENDS,
  useBackend,
  bilinearRef,
  expectClose,
  pixel,
  randomArray,
  type Arr4,
} from './reference.js';

/*
 * Brute-force references of SML's post-processing (Jung et al., ICCV 2021), written from the
 * formulas of the authors' `BoundarySuppressionWithSmoothing` with explicit neighbourhoods and
 * clamped indices (replicate padding), in float64. No code shared with the library.
 */

type Map2 = { data: Float64Array; n: number; h: number; w: number };
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** 1 where max over the in-image 3×3 cross ≠ min over the in-image 3×3 square. */
function boundaryRef(pred: Map2): Uint8Array {
  const { n, h, w, data } = pred;
  const out = new Uint8Array(n * h * w);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let mx = -Infinity;
        let mn = Infinity;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const v = data[(b * h + yy) * w + xx] as number;
            mn = Math.min(mn, v);
            if (Math.abs(dy) + Math.abs(dx) <= 1) mx = Math.max(mx, v);
          }
        out[(b * h + y) * w + x] = mx !== mn ? 1 : 0;
      }
  return out;
}

/** Boundary pixels expanded by the L1 ball of radius r (in-image). */
function expandRef(band: Uint8Array, n: number, h: number, w: number, r: number): Uint8Array {
  const out = new Uint8Array(band.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let hit = 0;
        for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r) && !hit; yy++)
          for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++)
            if (Math.abs(yy - y) + Math.abs(xx - x) <= r && band[(b * h + yy) * w + xx]) {
              hit = 1;
              break;
            }
        out[(b * h + y) * w + x] = hit;
      }
  return out;
}

function suppressRef(score: Map2, pred: Map2, width: number, iterations: number): Map2 {
  const { n, h, w } = score;
  const boundary = boundaryRef(pred);
  let out = Float64Array.from(score.data);
  const diff = iterations > 0 ? width / iterations : 0;
  for (let i = 0; i < iterations; i++) {
    const r = width === 0 || i === iterations - 1 ? 0 : width - diff * i - 1;
    const band = expandRef(boundary, n, h, w, r);
    const next = Float64Array.from(out);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const p = (b * h + y) * w + x;
          if (!band[p]) continue;
          let total = 0;
          let count = 0;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const q = (b * h + clamp(y + dy, 0, h - 1)) * w + clamp(x + dx, 0, w - 1);
              if (band[q]) continue;
              total += out[q] as number;
              count++;
            }
          if (count > 0) next[p] = total / count;
        }
    out = next;
  }
  return { ...score, data: out };
}

function smoothRef(score: Map2, k: number, sigma: number, d: number): Map2 {
  const { n, h, w, data } = score;
  const c = (k - 1) / 2;
  const g: number[] = [];
  for (let a = 0; a < k; a++)
    for (let bb = 0; bb < k; bb++)
      g.push(Math.exp(-((a - c) ** 2 + (bb - c) ** 2) / (2 * sigma ** 2)));
  const sum = g.reduce((s, v) => s + v, 0);
  const out = new Float64Array(data.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let a = 0; a < k; a++)
          for (let bb = 0; bb < k; bb++) {
            const yy = clamp(y + d * (a - c), 0, h - 1);
            const xx = clamp(x + d * (bb - c), 0, w - 1);
            acc += ((g[a * k + bb] as number) / sum) * (data[(b * h + yy) * w + xx] as number);
          }
        out[(b * h + y) * w + x] = acc;
      }
  return { ...score, data: out };
}

const K = 3;
const [N, h, w] = [2, 5, 6];
const SIZE = [9, 11] as const;
const S: Arr4 = { data: randomArray(N * h * w * K, 7, -3, 3), shape: [N, h, w, K] };
const STATS = { mean: [0.5, 1, -0.5], std: [1.5, 0.7, 1.1] };

/** Standardised max-logit anomaly score and class map of the upsampled logits (float64). */
function smlRef(): { score: Map2; pred: Map2 } {
  const up = bilinearRef(S, SIZE[0], SIZE[1]);
  const n = N * SIZE[0] * SIZE[1];
  const score = new Float64Array(n);
  const pred = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    const v = pixel(up, p);
    let c = 0;
    for (let j = 1; j < K; j++) if ((v[j] as number) > (v[c] as number)) c = j;
    pred[p] = c;
    score[p] = -((v[c] as number) - (STATS.mean[c] as number)) / (STATS.std[c] as number);
  }
  const shape = { n: N, h: SIZE[0], w: SIZE[1] };
  return { score: { ...shape, data: score }, pred: { ...shape, data: pred } };
}

describe('brute-force SML references', () => {
  it('mark a boundary where the cross-dilation and square-erosion of the class map differ', () => {
    // 3×3 map: class 2 everywhere, class 5 at the top-left corner (a diagonal neighbour of the
    // centre): the cross max at the centre is 2 and the square min is 2 → not a boundary; the
    // corner's right neighbour sees 5 in its cross → boundary
    const pred = { n: 1, h: 3, w: 3, data: Float64Array.from([5, 2, 2, 2, 2, 2, 2, 2, 2]) };
    expect([...boundaryRef(pred)]).toEqual([1, 1, 0, 1, 0, 0, 0, 0, 0]);
    // class 1 at the corner instead: the square min at the centre is 1 → boundary
    pred.data[0] = 1;
    expect([...boundaryRef(pred)]).toEqual([1, 1, 0, 1, 1, 0, 0, 0, 0]);
  });
});

for (const backend of BACKENDS) {
  describe(`full SML on ${backend}`, () => {
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(true);
    });
    const t4 = (): tf.Tensor4D => tf.tensor4d(Float32Array.from(S.data), [...S.shape]);

    it('smlScore with the authors defaults equals standardise → suppress (width 4, 4 iterations) → smooth (7×7, σ 1, dilation 6)', () => {
      expect(DEFAULT_SML_SCORE_OPTIONS).toEqual({
        boundarySuppression: { boundaryWidth: 4, iterations: 4 },
        dilatedSmoothing: { kernelSize: 7, sigma: 1, dilation: 6 },
      });
      const { score, pred } = smlRef();
      const boundary = boundaryRef(pred);
      expect(boundary.some((v) => v === 1) && boundary.some((v) => v === 0)).toBe(true);
      const suppressed = suppressRef(score, pred, 4, 4);
      // the suppression changes scores (only) on the band, and the smoothing everywhere
      let changed = 0;
      for (let i = 0; i < score.data.length; i++)
        if (Math.abs((suppressed.data[i] as number) - (score.data[i] as number)) > 1e-6) changed++;
      expect(changed).toBeGreaterThan(5);
      const expected = smoothRef(suppressed, 7, 1, 6);
      const logits = t4();
      const before = tf.memory().numTensors;
      const out = smlScore(logits, STATS, { size: SIZE });
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(out.shape).toEqual([N, ...SIZE]);
      expectClose(out.dataSync(), expected.data, 1e-5, 1e-4);
      tf.dispose([out, logits]);
    });

    it('other widths, iterations and kernels; each step alone; both off = standardizedMaxLogit', () => {
      const { score, pred } = smlRef();
      const logits = t4();
      const run = (o: Parameters<typeof smlScore>[2]): Float32Array => {
        const t = smlScore(logits, STATS, { size: SIZE, ...o });
        const v = t.dataSync() as Float32Array;
        t.dispose();
        return v;
      };
      const smooth = { kernelSize: 5, sigma: 1.3, dilation: 2 };
      expectClose(
        run({ boundarySuppression: { boundaryWidth: 6, iterations: 3 }, dilatedSmoothing: smooth }),
        smoothRef(suppressRef(score, pred, 6, 3), 5, 1.3, 2).data,
      );
      expectClose(
        run({ boundarySuppression: { boundaryWidth: 2, iterations: 2 }, dilatedSmoothing: false }),
        suppressRef(score, pred, 2, 2).data,
      );
      expectClose(
        run({ boundarySuppression: false, dilatedSmoothing: smooth }),
        smoothRef(score, 5, 1.3, 2).data,
      );
      const plain = standardizedMaxLogit(logits, STATS, { size: SIZE });
      expectClose(run({ boundarySuppression: false, dilatedSmoothing: false }), plain.dataSync());
      // the building blocks on their own
      const s3 = tf.tensor3d(Float32Array.from(score.data), [N, ...SIZE]);
      const p3 = tf.tensor3d(Int32Array.from(pred.data), [N, ...SIZE], 'int32');
      const before = tf.memory().numTensors;
      const a = suppressBoundaries(s3, p3, { boundaryWidth: 4, iterations: 2 });
      const b = dilatedSmoothing(s3, smooth);
      expect(tf.memory().numTensors).toBe(before + 2);
      expectClose(a.dataSync(), suppressRef(score, pred, 4, 2).data);
      expectClose(b.dataSync(), smoothRef(score, 5, 1.3, 2).data);
      tf.dispose([a, b, s3, p3, plain, logits]);
    });

    it('rejects bad options and inputs with a message naming them', () => {
      const logits = t4();
      const bad = (o: unknown): unknown =>
        smlScore(logits, STATS, o as Parameters<typeof smlScore>[2]);
      expect(() => bad({ boundarySuppression: { boundaryWidth: 4, iterations: 3 } })).toThrow(
        /smlScore: expected options.boundarySuppression.iterations to be a divisor of boundaryWidth \(4\), got 3/,
      );
      expect(() => bad({ dilatedSmoothing: { kernelSize: 4 } })).toThrow(
        /options.dilatedSmoothing.kernelSize to be an odd integer/,
      );
      expect(() => bad({ dilatedSmoothing: { sigma: 0 } })).toThrow(DenseHybridError);
      expect(() => bad({ boundarySuppression: 'yes' })).toThrow(/an object or false/);
      expect(() =>
        suppressBoundaries(
          tf.zeros([1, 3, 3]) as tf.Tensor3D,
          tf.zeros([1, 3, 4], 'int32') as tf.Tensor3D,
        ),
      ).toThrow(/suppressBoundaries: expected prediction of the score's shape \[1,3,3\]/);
      tf.dispose(logits);
    });
  });
}
