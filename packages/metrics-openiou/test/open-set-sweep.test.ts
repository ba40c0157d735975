import { describe, expect, it } from 'vitest';
import {
  OpenIoU,
  OpenSetSweep,
  float16OrderKey,
  float16Value,
  openSetPrediction,
} from '@densehybrid/metrics-openiou';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('OpenSetSweep', () => {
  it('gives the same open-IoU state as OpenIoU on openSetPrediction at any threshold (brute force)', () => {
    const K = 4;
    const rnd = lcg(7);
    const sweep = new OpenSetSweep(K);
    const frames: { gt: Uint8Array; closed: Uint8Array; scores: Float32Array }[] = [];
    for (let f = 0; f < 3; f++) {
      const n = 300;
      const gt = new Uint8Array(n);
      const closed = new Uint8Array(n);
      const scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        gt[i] = rnd() < 0.1 ? 255 : Math.floor(rnd() * (K + 1));
        closed[i] = Math.floor(rnd() * K);
        // float16-exact scores with many ties, both signs
        scores[i] = float16Value(0x3c00 + Math.floor(rnd() * 40)) * (rnd() < 0.5 ? -1 : 1);
      }
      frames.push({ gt, closed, scores });
      sweep.add(gt, closed, scores);
    }
    const back = OpenSetSweep.fromJSON(JSON.parse(JSON.stringify(sweep.toJSON())));
    for (const t of [-Infinity, -1.01953125, 0, 1, 1.0078125, 1.0380859375, Infinity]) {
      const ref = new OpenIoU({ numClasses: K });
      for (const f of frames) ref.add(f.gt, openSetPrediction(f.closed, f.scores, t, K), f.closed);
      const want = ref.toJSON();
      for (const s of [sweep, back]) {
        const got = s.openIoUStateAt(t);
        expect(Array.from(got.confusion), `t=${t}`).toEqual(Array.from(want.confusion));
        expect(Array.from(got.closedConfusion)).toEqual(Array.from(want.closedConfusion));
        expect(OpenIoU.fromJSON(got).compute().openMIoU).toBe(ref.compute().openMIoU);
      }
    }
  });

  it('merges like adding all frames, and orders keys like the values', () => {
    const a = new OpenSetSweep(2).add([0, 1, 2], [0, 1, 1], [0.5, -1, 3]);
    const b = new OpenSetSweep(2).add([2, 2], [0, 0], [4, -4]);
    const all = new OpenSetSweep(2).add([0, 1, 2, 2, 2], [0, 1, 1, 0, 0], [0.5, -1, 3, 4, -4]);
    const merged = a.merge(b).openIoUStateAt(0);
    expect(merged.confusion).toEqual(all.openIoUStateAt(0).confusion);
    expect(merged.frames).toBe(2);
    const values = [-Infinity, -65504, -1, -1e-6, -0, 0, 1e-6, 1, 65504, Infinity];
    const keys = values.map(float16OrderKey);
    for (let i = 1; i < keys.length; i++)
      expect(keys[i]).toBeGreaterThanOrEqual(keys[i - 1] as number);
    expect(float16OrderKey(-0)).toBe(float16OrderKey(0));
    expect(() => new OpenSetSweep(2).add([3], [0], [0])).toThrow(/expected gt in 0..2 or 255/);
  });

  it('uses the histogram keys: 0x8000 ± float16 magnitude bits (−1 → 17408)', () => {
    expect(float16OrderKey(-1)).toBe(0x8000 - 0x3c00);
    expect(float16OrderKey(1)).toBe(0x8000 + 0x3c00);
    expect(float16OrderKey(-Infinity)).toBe(0x0400);
    expect(float16OrderKey(Infinity)).toBe(0xfc00);
    expect(float16OrderKey(70000)).toBe(0xfc00);
    // the sweep's bins are these keys
    const json = new OpenSetSweep(1).add([0, 0], [0, 0], [-1, 0.5]).toJSON();
    expect(json.version).toBe(2);
    expect(json.pairs).toEqual([[0, float16OrderKey(-1), 1, float16OrderKey(0.5), 1]]);
  });

  it('reads version 1 states (negative keys one lower) into the same confusion at every threshold', () => {
    const gt = [0, 1, 2, 2, 1, 0];
    const closed = [0, 1, 1, 0, 0, 1];
    const scores = [-2, -1, -0.5, 0, 0.25, 3];
    const sweep = new OpenSetSweep(2).add(gt, closed, scores);
    const v2 = sweep.toJSON();
    const v1 = {
      ...v2,
      version: 1 as const,
      pairs: v2.pairs.map((row) => row.map((v, i) => (i % 2 === 1 && v < 0x8000 ? v - 1 : v))),
    };
    const back = OpenSetSweep.fromJSON(v1);
    expect(back.toJSON()).toEqual(v2);
    for (const t of [-Infinity, -1, -0.75, 0, 0.25, 2, Infinity, NaN])
      expect(back.openIoUStateAt(t)).toEqual(sweep.openIoUStateAt(t));
  });

  it('at a NaN threshold keeps every closed prediction (score >= NaN holds nowhere)', () => {
    const sweep = new OpenSetSweep(2).add([0, 1, 2], [0, 1, 1], [1e9, -1e9, 0]);
    const want = new OpenIoU({ numClasses: 2 }).add([0, 1, 2], [0, 1, 1], [0, 1, 1]).toJSON();
    expect(sweep.openIoUStateAt(NaN).confusion).toEqual(Array.from(want.confusion));
  });
});
