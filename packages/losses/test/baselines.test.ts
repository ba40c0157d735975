import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  energyMarginLoss,
  entropyMaximizationLoss,
  outlierExposureLoss,
  type SegmentationLossInputs,
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
  softmax,
  type Arr4,
} from './reference.js';

const K = 4;

/** The three baselines' terms written from their papers' formulas, float64. */
function refBaselines(s: Arr4, labels: Int32Array) {
  const ce: number[] = [];
  const uniformCe: number[] = [];
  const energyIn: number[] = [];
  const energyOut: number[] = [];
  for (let p = 0; p < labels.length; p++) {
    const y = labels[p] as number;
    const v = pixel(s, p);
    const logp = softmax(v).map(Math.log);
    if (y >= 0 && y < K) {
      ce.push(-(logp[y] as number));
      energyIn.push(-lse(v));
    } else if (y === K) {
      uniformCe.push(-logp.reduce((a, b) => a + b, 0) / K);
      energyOut.push(-lse(v));
    }
  }
  const hinge = (x: number): number => Math.max(0, x) ** 2;
  return {
    oe: (lambda: number) => ({
      classification: mean(ce),
      outlier: mean(uniformCe),
      total: mean(ce) + lambda * mean(uniformCe),
    }),
    energy: (lambda: number, mIn: number, mOut: number) => {
      const inlierMargin = mean(energyIn.map((e) => hinge(e - mIn)));
      const outlierMargin = mean(energyOut.map((e) => hinge(mOut - e)));
      return {
        classification: mean(ce),
        inlierMargin,
        outlierMargin,
        total: mean(ce) + lambda * (inlierMargin + outlierMargin),
      };
    },
    entropy: (lambda: number) => ({
      classification: mean(ce),
      outlier: mean(uniformCe),
      total: (1 - lambda) * mean(ce) + lambda * mean(uniformCe),
    }),
  };
}

async function read(r: Record<string, tf.Tensor>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, t] of Object.entries(r)) out[k] = (await t.data())[0] as number;
  return out;
}

const ORDER = {
  oe: ['total', 'classification', 'outlier'],
  energy: ['total', 'classification', 'inlierMargin', 'outlierMargin'],
  entropy: ['total', 'classification', 'outlier'],
} as const;

// energies of random logits in [-3, 3) with K = 4 are about −2..−4: margins chosen so both hinges are active
const LOSSES = {
  oe: (i: SegmentationLossInputs) => outlierExposureLoss(i, { lambda: 0.7 }),
  energy: (i: SegmentationLossInputs) =>
    energyMarginLoss(i, { lambda: 0.3, marginIn: -4, marginOut: -1 }),
  entropy: (i: SegmentationLossInputs) => entropyMaximizationLoss(i, { lambda: 0.6 }),
} as const;

function refFor(name: keyof typeof LOSSES, s: Arr4, labels: Int32Array): Record<string, number> {
  const r = refBaselines(s, labels);
  if (name === 'oe') return r.oe(0.7);
  if (name === 'energy') return r.energy(0.3, -4, -1);
  return r.entropy(0.6);
}

for (const backend of BACKENDS) {
  describe(`baseline losses on ${backend}`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
    });

    const N = 1;
    const [h, w, H, W] = [2, 3, 4, 5];
    const s: Arr4 = { data: randomArray(N * h * w * K, 3), shape: [N, h, w, K] };
    const labelValues = randomLabels(N * H * W, 4, [0, 1, 2, 3, K, 255]);

    for (const name of Object.keys(LOSSES) as (keyof typeof LOSSES)[]) {
      it(`${name}: terms and gradient match the float64 formula (upsampled), no leaks`, async () => {
        const logits = tf.tensor4d(Float32Array.from(s.data), [N, h, w, K]);
        const labels = tf.tensor3d(labelValues, [N, H, W], 'int32');
        const before = tf.memory().numTensors;
        const r = LOSSES[name]({ logits, labels }) as unknown as Record<string, tf.Scalar>;
        expect(Object.keys(r).sort()).toEqual([...ORDER[name]].sort());
        const got = await read(r);
        tf.dispose(Object.values(r));
        expect(tf.memory().numTensors).toBe(before);
        const want = refFor(name, bilinearRef(s, H, W), labelValues);
        expectClose(
          ORDER[name].map((k) => got[k] as number),
          ORDER[name].map((k) => want[k] as number),
        );
        if (name === 'energy') {
          expect(got['inlierMargin']).toBeGreaterThan(0);
          expect(got['outlierMargin']).toBeGreaterThan(0);
        }
        const [ds] = tf.grads(
          (a: tf.Tensor) =>
            (LOSSES[name]({ logits: a as tf.Tensor4D, labels }) as { total: tf.Scalar }).total,
        )([logits]);
        const f = (x: Float64Array): number =>
          refFor(name, bilinearRef({ data: x, shape: s.shape }, H, W), labelValues)[
            'total'
          ] as number;
        expectClose(await ds!.data(), numericGradient(f, s.data), 2e-5, 2e-3);
        tf.dispose([ds!, logits, labels]);
        expect(tf.memory().numTensors).toBe(before - 2);
      });
    }

    it("defaults are the papers' settings: OE λ=0.5, energy λ=0.1 m_in=−23 m_out=−5, Meta-OoD λ=0.9", async () => {
      // one inlier pixel (class 0) and one outlier pixel, logits chosen so every hinge is active
      const logits = tf.tensor4d([2, 0, 0, 0, 10, 10, 10, 10], [1, 1, 2, K]);
      const labels = tf.tensor3d([[[0, K]]], [1, 1, 2], 'int32');
      const v = pixel(
        { data: Float64Array.from([2, 0, 0, 0, 10, 10, 10, 10]), shape: [1, 1, 2, K] },
        0,
      );
      const ceIn = lse(v) - 2;
      const uniformOut = Math.log(K); // softmax of equal logits is uniform: CE to uniform = ln K
      const eIn = -lse(v);
      const eOut = -lse([10, 10, 10, 10]); // −11.39 < m_out = −5: active; eIn ≈ −2.4 > m_in = −23: active
      const oe = await read(
        outlierExposureLoss({ logits, labels }) as unknown as Record<string, tf.Tensor>,
      );
      expect(oe['total']).toBeCloseTo(ceIn + 0.5 * uniformOut, 5);
      const en = await read(
        energyMarginLoss({ logits, labels }) as unknown as Record<string, tf.Tensor>,
      );
      expect(en['total']).toBeCloseTo(ceIn + 0.1 * ((eIn + 23) ** 2 + (-5 - eOut) ** 2), 3);
      expect(en['total']).toBeGreaterThan(40);
      const em = await read(
        entropyMaximizationLoss({ logits, labels }) as unknown as Record<string, tf.Tensor>,
      );
      expect(em['total']).toBeCloseTo(0.1 * ceIn + 0.9 * uniformOut, 5);
      tf.dispose([logits, labels]);
    });

    it('no outlier pixels: outlier terms are 0, not NaN', async () => {
      const logits = tf.tensor4d(Float32Array.from(randomArray(2 * K, 9)), [1, 1, 2, K]);
      const labels = tf.tensor3d([[[1, 255]]], [1, 1, 2], 'int32');
      const oe = await read(
        outlierExposureLoss({ logits, labels }) as unknown as Record<string, tf.Tensor>,
      );
      expect(oe['outlier']).toBe(0);
      const en = await read(
        energyMarginLoss({ logits, labels }) as unknown as Record<string, tf.Tensor>,
      );
      expect(en['outlierMargin']).toBe(0);
      expect(Number.isFinite(en['total'])).toBe(true);
      tf.dispose([logits, labels]);
    });

    it('rejects bad options and inputs', () => {
      const logits = tf.zeros([1, 1, 2, K]) as tf.Tensor4D;
      const labels = tf.zeros([1, 1, 2], 'int32') as tf.Tensor3D;
      const codeOf = (f: () => unknown): string | undefined => {
        try {
          f();
        } catch (e) {
          return DenseHybridError.is(e) ? `${e.code}: ${e.message}` : String(e);
        }
        return undefined;
      };
      expect(codeOf(() => entropyMaximizationLoss({ logits, labels }, { lambda: 1.5 }))).toBe(
        'INVALID_OPTION: entropyMaximizationLoss: expected options.lambda to be a number in [0, 1], got 1.5',
      );
      expect(codeOf(() => energyMarginLoss({ logits, labels }, { marginIn: NaN }))).toBe(
        'INVALID_OPTION: energyMarginLoss: expected options.marginIn to be a finite number, got NaN',
      );
      expect(codeOf(() => outlierExposureLoss({ logits: labels as never, labels }))).toMatch(
        /^INVALID_INPUT: outlierExposureLoss: expected inputs\.logits to be a float32 tensor \[N,h,w,K\], got Tensor\[1,1,2\] int32/,
      );
      tf.dispose([logits, labels]);
    });
  });
}
