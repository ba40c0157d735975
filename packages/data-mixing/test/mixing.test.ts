import { describe, expect, it } from 'vitest';
import {
  DEEPLAB_PASTE_NEGATIVES_OPTIONS,
  createRng,
  jitterFlipCrop,
  pasteNegatives,
  type DatasetSample,
  type NegativeSource,
} from '@densehybrid/data-mixing';

function inlier(
  width: number,
  height: number,
  seed: number,
): DatasetSample & { label: { data: Uint8Array; width: number; height: number } } {
  const r = createRng(seed);
  return {
    id: `inlier-${seed}`,
    image: {
      data: Uint8Array.from({ length: width * height * 3 }, () => r.int(256)),
      width,
      height,
    },
    label: {
      data: Uint8Array.from({ length: width * height }, (_, i) => (i % 7 === 0 ? 255 : i % 5)),
      width,
      height,
    },
  };
}

/** A negative whose pixels carry their own coordinates, so we can check what went where. */
function negative(width: number, height: number): NegativeSource {
  const data = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      data.set([x % 256, y % 256, 200], 3 * i);
      label[i] = x < width / 3 ? 0 : x < (2 * width) / 3 ? 11 : 42;
    }
  return { image: { data, width, height }, label: { data: label, width, height } };
}

describe('jitterFlipCrop', () => {
  it('crops to the requested size, pads with mean colour and ignore', () => {
    const s = inlier(40, 20, 1);
    let sawPadding = false;
    let bad = 0;
    for (let seed = 0; seed < 20; seed++) {
      const { sample, scale, window } = jitterFlipCrop(
        s,
        { cropSize: 32, meanColor: [84, 88, 95] },
        createRng(seed),
      );
      expect(scale).toBeGreaterThanOrEqual(0.5);
      expect(scale).toBeLessThan(2);
      expect([sample.image.width, sample.image.height, sample.label!.width]).toEqual([32, 32, 32]);
      expect(window.scaledHeight).toBe(Math.round(20 * scale));
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          const X = window.x + x;
          const Y = window.y + y;
          const outside = X < 0 || Y < 0 || X >= window.scaledWidth || Y >= window.scaledHeight;
          const i = y * 32 + x;
          const l = sample.label!.data[i]!;
          const d = sample.image.data;
          if (outside) {
            sawPadding = true;
            if (l !== 255 || d[3 * i] !== 84 || d[3 * i + 1] !== 88 || d[3 * i + 2] !== 95) bad++;
          } else if (l > 4 && l !== 255) bad++;
        }
    }
    expect(bad).toBe(0);
    expect(sawPadding).toBe(true);
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const s = inlier(30, 18, 2);
    const a = jitterFlipCrop(s, { cropSize: 16 }, createRng(5)).sample;
    const b = jitterFlipCrop(s, { cropSize: 16 }, createRng(5)).sample;
    const c = jitterFlipCrop(s, { cropSize: 16 }, createRng(6)).sample;
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    expect(Buffer.from(a.image.data).equals(Buffer.from(c.image.data))).toBe(false);
  });

  it('flip with scale 1 mirrors exactly', () => {
    const s = inlier(16, 16, 3);
    const { sample } = jitterFlipCrop(
      s,
      { cropSize: 16, scaleRange: [1, 1], flipProbability: 1 },
      createRng(0),
    );
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++)
        expect(sample.label!.data[y * 16 + x]).toBe(s.label.data[y * 16 + 15 - x]);
  });

  it('rejects bad options and mismatched labels', () => {
    const s = inlier(8, 8, 4);
    expect(() => jitterFlipCrop(s, { cropSize: 0 }, createRng(0))).toThrow(/cropSize/);
    expect(() => jitterFlipCrop(s, { scaleRange: [2, 1] }, createRng(0))).toThrow(/scaleRange/);
    const bad = { ...s, label: { data: new Uint8Array(12), width: 4, height: 3 } };
    expect(() => jitterFlipCrop(bad, {}, createRng(0))).toThrow(/inlier-4/);
  });
});

describe('pasteNegatives', () => {
  it('puts the outlier label exactly under the pasted pixels and the negative content there', () => {
    for (let seed = 0; seed < 30; seed++) {
      const target = inlier(64, 48, seed);
      const neg = negative(50, 40);
      const { sample, pasteMask, pastes } = pasteNegatives(
        target,
        neg,
        { outlierLabel: 12, negativeShorterSide: null, negativeCropSize: null },
        createRng(seed),
      );
      let pasted = 0;
      let wrong = 0;
      for (let i = 0; i < 64 * 48; i++) {
        if (pasteMask[i] === 1) {
          pasted++;
          // outlier label, and the negative's blue channel (200) as content
          if (sample.label.data[i] !== 12 || sample.image.data[3 * i + 2] !== 200) wrong++;
        } else if (
          sample.label.data[i] !== target.label.data[i] ||
          sample.image.data[3 * i] !== target.image.data[3 * i]
        ) {
          wrong++;
        }
      }
      expect(wrong).toBe(0);
      const p = pastes[0]!;
      expect(pasted).toBe(p.pixels);
      expect(pasted).toBeGreaterThan(0);
      if (p.mask === 'rectangle') {
        expect(p.width % 8).toBe(0);
        expect(p.width).toBeGreaterThanOrEqual(16);
        expect(p.width).toBeLessThan(50);
        expect(pasted).toBe(p.width * p.height);
      } else {
        // a union of classes drawn from those present (0 = unlabeled excluded)
        for (const id of p.ids) expect([11, 42]).toContain(id);
      }
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.x + p.width).toBeLessThanOrEqual(64);
    }
  });

  it('uses rectangles and class unions about half the time each, and instances when given', () => {
    const kinds = { rectangle: 0, classes: 0, instances: 0 };
    for (let seed = 0; seed < 200; seed++) {
      const r = pasteNegatives(
        inlier(32, 32, 1),
        negative(40, 40),
        { outlierLabel: 3, negativeShorterSide: 24, negativeCropSize: 24 },
        createRng(seed),
      );
      kinds[r.pastes[0]!.mask]++;
    }
    expect(kinds.rectangle).toBeGreaterThan(70);
    expect(kinds.classes).toBeGreaterThan(70);
    const inst = negative(20, 20);
    const withInstances = {
      ...inst,
      instances: { data: new Uint8Array(400).fill(5), width: 20, height: 20 },
    };
    const r = pasteNegatives(
      inlier(32, 32, 1),
      withInstances,
      { outlierLabel: 3, negativeShorterSide: null, rectangleProbability: 0 },
      createRng(1),
    );
    expect(r.pastes[0]!.mask).toBe('instances');
    expect(r.pastes[0]!.pixels).toBe(400);
  });

  it('overrides ignore, clips oversized negatives, is reproducible, and has a DLv3+ preset', () => {
    const target = inlier(20, 20, 9);
    target.label.data.fill(255);
    const big = negative(300, 200);
    const opts = { ...DEEPLAB_PASTE_NEGATIVES_OPTIONS, outlierLabel: 19, rectangleProbability: 0 };
    const a = pasteNegatives(target, big, opts, createRng(4));
    const b = pasteNegatives(target, big, opts, createRng(4));
    expect(Buffer.from(a.sample.image.data).equals(Buffer.from(b.sample.image.data))).toBe(true);
    const n = a.pasteMask.reduce((s, v) => s + v, 0);
    expect(a.sample.label.data.filter((v) => v === 19).length).toBe(n);
    expect(n).toBeGreaterThan(0);
    expect(target.label.data.every((v) => v === 255)).toBe(true);
    expect(() => pasteNegatives(target, big, { outlierLabel: 256 }, createRng(0))).toThrow(
      /outlierLabel/,
    );
    expect(() =>
      pasteNegatives({ id: 'x', image: target.image }, big, { outlierLabel: 1 }, createRng(0)),
    ).toThrow(/target\.label/);
  });
});
