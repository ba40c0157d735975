import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DenseHybridError } from '@densehybrid/data-mixing';
import {
  buildDigitScenes,
  digitSceneBatch,
  digitSceneBatches,
  loadDigitScenes,
  sceneSplitDataset,
  type DigitSceneSources,
  type GlyphSet,
} from '@densehybrid/data-mixing';

const G = 8;

/**
 * Glyphs whose shape is known: a full-ink 6×6 square in an 8×8 glyph, ringed by a faint
 * (intensity 90 ≈ 0.35) border, so that drawn objects have a labelled core and an ignore rim.
 */
function glyphs(name: string, classes: readonly number[]): GlyphSet {
  const pixels = new Uint8Array(classes.length * G * G);
  classes.forEach((_, i) => {
    for (let y = 0; y < G; y++) {
      for (let x = 0; x < G; x++) {
        const edge = x === 0 || y === 0 || x === G - 1 || y === G - 1;
        pixels[i * G * G + y * G + x] = edge ? 90 : 255;
      }
    }
  });
  return {
    name,
    pixels,
    classes: Uint8Array.from(classes),
    count: classes.length,
    height: G,
    width: G,
  };
}

// digits: only class 3 among the inliers {1, 3}, held-out class 7; clothing: class 0
const sources: DigitSceneSources = {
  digits: {
    train: glyphs('d/train', [3, 3, 7]),
    val: glyphs('d/val', [3, 7]),
    test: glyphs('d/test', [3, 7, 7]),
  },
  clothing: {
    train: glyphs('c/train', [0, 1, 2]),
    val: glyphs('c/val', [0]),
    test: glyphs('c/test', [4, 5]),
  },
};
const options = {
  size: 24,
  inlierDigits: [1, 3],
  trainScenes: 12,
  valScenes: 4,
  testScenes: 6,
  objectsPerScene: [2, 2] as [number, number],
  glyphSide: [8, 8] as [number, number],
  negativeCount: 2,
  strokeDilation: 0,
};

function histogram(labels: Uint8Array): Map<number, number> {
  const h = new Map<number, number>();
  for (const l of labels) h.set(l, (h.get(l) ?? 0) + 1);
  return h;
}

describe('buildDigitScenes', () => {
  const scenes = buildDigitScenes(sources, options);

  it('labels background 0, inlier digit d as inlierDigits.indexOf(d) + 1, faint rims as ignore', () => {
    expect(scenes.numClasses).toBe(3);
    expect(scenes.anomalyLabel).toBe(3);
    expect(scenes.classNames).toEqual(['background', 'digit 1', 'digit 3']);
    // training scenes only hold the digit 3 (label 2): labels are exactly {0, 2, 255}
    expect([...histogram(scenes.train.labels).keys()].sort((a, b) => a - b)).toEqual([0, 2, 255]);
    // each object is an 8×8 glyph drawn at side 8: its 6×6 core is labelled and has the ink colour
    const px = 24 * 24;
    for (let s = 0; s < scenes.train.count; s++) {
      const label = scenes.train.labels.subarray(s * px, (s + 1) * px);
      const image = scenes.train.images.subarray(s * px * 3, (s + 1) * px * 3);
      const core = label.filter((l) => l === 2).length;
      // two overlapping or separate 6×6 cores
      expect(core).toBeGreaterThanOrEqual(36);
      expect(core).toBeLessThanOrEqual(72);
      for (let p = 0; p < px; p++) {
        if (label[p] === 2) {
          // full ink: one channel is bright (≥ 200) because every ink colour has one
          expect(
            Math.max(image[p * 3]!, image[p * 3 + 1]!, image[p * 3 + 2]!),
          ).toBeGreaterThanOrEqual(200);
        }
      }
    }
  });

  it('puts one anomaly per val/test scene: held-out digits (near) and clothing (far), labelled K', () => {
    for (const split of [scenes.val.near, scenes.val.far, scenes.test.near, scenes.test.far]) {
      expect(split.labelKind).toBe('open-set');
      const px = split.size * split.size;
      for (let s = 0; s < split.count; s++) {
        const h = histogram(split.labels.subarray(s * px, (s + 1) * px));
        expect(h.get(3) ?? 0, `${split.name}/${s}`).toBeGreaterThan(0);
        expect([...h.keys()].every((l) => [0, 2, 3, 255].includes(l))).toBe(true);
      }
    }
    expect(scenes.train.labelKind).toBe('semantic');
    expect(histogram(scenes.train.labels).has(3)).toBe(false);
  });

  it('thickens digit strokes with strokeDilation (the faint rim becomes full ink), not clothing', () => {
    const thick = buildDigitScenes(sources, { ...options, strokeDilation: 1 });
    // a dilated glyph is full ink everywhere: no ignore rim around training digits
    expect(histogram(thick.train.labels).has(255)).toBe(false);
    const px = 24 * 24;
    for (let s = 0; s < thick.train.count; s++) {
      const core = thick.train.labels.subarray(s * px, (s + 1) * px).filter((l) => l === 2).length;
      expect(core).toBeGreaterThanOrEqual(64);
      expect(core).toBeLessThanOrEqual(128);
    }
    // clothing is not dilated: the negatives keep their faint (90) rim
    expect(thick.negatives.pixels).toEqual(buildDigitScenes(sources, options).negatives.pixels);
    expect(thick.negatives.pixels.includes(90)).toBe(true);
  });

  it('is deterministic from the seed and changes with it', () => {
    const again = buildDigitScenes(sources, options);
    expect(Buffer.from(again.test.far.images).equals(Buffer.from(scenes.test.far.images))).toBe(
      true,
    );
    expect(Buffer.from(again.train.labels).equals(Buffer.from(scenes.train.labels))).toBe(true);
    const other = buildDigitScenes(sources, { ...options, seed: 1 });
    expect(Buffer.from(other.train.images).equals(Buffer.from(scenes.train.images))).toBe(false);
  });

  it('keeps a deterministic subset of clothing training items as negatives', () => {
    expect(scenes.negatives.count).toBe(2);
    expect([...scenes.negatives.classes].every((c) => [0, 1, 2].includes(c))).toBe(true);
  });

  it('rejects bad options and glyph sets with typed errors naming the argument', () => {
    const err = (f: () => unknown): DenseHybridError => {
      try {
        f();
      } catch (e) {
        return e as DenseHybridError;
      }
      throw new Error('no error');
    };
    const e1 = err(() =>
      buildDigitScenes(sources, { inlierDigits: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }),
    );
    expect(e1.code).toBe('INVALID_OPTION');
    expect(e1.message).toMatch(/^buildDigitScenes: expected options\.inlierDigits/);
    expect(err(() => buildDigitScenes(sources, { size: 2 })).message).toMatch(
      /options\.size .*≥ 8, got 2/,
    );
    expect(err(() => buildDigitScenes(sources, { glyphSide: [9, 4] })).code).toBe('INVALID_OPTION');
    const broken = {
      ...sources,
      clothing: { ...sources.clothing, test: { ...sources.clothing.test, count: 5 } },
    };
    expect(err(() => buildDigitScenes(broken, options)).code).toBe('SHAPE_MISMATCH');
    const noHeldOut = { ...sources, digits: { ...sources.digits, test: glyphs('d/test', [3]) } };
    expect(err(() => buildDigitScenes(noHeldOut, options)).message).toMatch(
      /d\/test to contain held-out digits/,
    );
  });
});

describe('digitSceneBatch', () => {
  const scenes = buildDigitScenes(sources, options);

  it('pastes negatives labelled K into training scenes, as a pure function of the step', () => {
    const a = digitSceneBatch(scenes, 5, { batchSize: 3, seed: 2 });
    const b = digitSceneBatch(scenes, 5, { batchSize: 3, seed: 2 });
    expect(a.images).toEqual(b.images);
    expect(a.labels).toEqual(b.labels);
    expect(digitSceneBatch(scenes, 6, { batchSize: 3, seed: 2 }).labels).not.toEqual(a.labels);
    expect(a.images.length).toBe(3 * 24 * 24 * 3);
    expect(Math.min(...a.images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a.images)).toBeLessThanOrEqual(1);
    const px = 24 * 24;
    for (let i = 0; i < 3; i++) {
      const h = histogram(Uint8Array.from(a.labels.subarray(i * px, (i + 1) * px)));
      expect(h.get(3) ?? 0).toBeGreaterThan(0);
    }
    const none = digitSceneBatch(scenes, 5, { batchSize: 3, seed: 2, negativeProbability: 0 });
    expect(none.labels.includes(3)).toBe(false);
    expect(() => digitSceneBatch(scenes, -1)).toThrow(/step to be an integer ≥ 0, got -1/);
  });

  it('streams batches from any start step (what a resumed training loop asks for)', async () => {
    const it = digitSceneBatches(scenes, 4, { batchSize: 2 });
    const first = (await it.next()).value!;
    const second = (await it.next()).value!;
    await it.return();
    expect(first.labels).toEqual(digitSceneBatch(scenes, 4, { batchSize: 2 }).labels);
    expect(second.images).toEqual(digitSceneBatch(scenes, 5, { batchSize: 2 }).images);
  });

  it('exposes splits as SegmentationDatasets', async () => {
    const ds = sceneSplitDataset(scenes, scenes.test.near);
    expect(ds.size).toBe(6);
    expect(ds.labelKind).toBe('open-set');
    const s = await ds.load(2);
    expect(s.id).toBe('digit-scenes/test/near/2');
    expect(s.label?.data).toEqual(scenes.test.near.labels.slice(2 * 576, 3 * 576));
    await expect(ds.load(6)).rejects.toThrow(/index in 0\.\.5, got 6/);
  });
});

describe('loadDigitScenes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dh-scenes-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates on first use, then reuses the cache without loading the sources', async () => {
    let loads = 0;
    const load = () => {
      loads++;
      return sources;
    };
    const first = await loadDigitScenes({ ...options, cacheDir: dir, sources: load });
    expect(first.fromCache).toBe(false);
    const second = await loadDigitScenes({ ...options, cacheDir: dir, sources: load });
    expect(second.fromCache).toBe(true);
    expect(loads).toBe(1);
    expect(second.dir).toBe(first.dir);
    expect(
      Buffer.from(second.scenes.test.near.labels).equals(
        Buffer.from(first.scenes.test.near.labels),
      ),
    ).toBe(true);
    expect(
      Buffer.from(second.scenes.train.images).equals(Buffer.from(first.scenes.train.images)),
    ).toBe(true);
    expect(second.scenes.negatives.pixels).toEqual(first.scenes.negatives.pixels);
    expect(second.scenes.options).toEqual(first.scenes.options);
    // atomic: only the published folder, no temp folder left behind
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // other options → another folder
    const third = await loadDigitScenes({ ...options, seed: 3, cacheDir: dir, sources: load });
    expect(third.fromCache).toBe(false);
    expect(third.dir).not.toBe(first.dir);
  });

  it('names the bad option', async () => {
    await expect(loadDigitScenes({ cacheDir: '', sources: () => sources })).rejects.toThrow(
      /options\.cacheDir/,
    );
  });
});
