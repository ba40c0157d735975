import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DigitScenes, GlyphSet } from '@densehybrid/data-mixing';
import { digitSceneBatch } from '@densehybrid/data-mixing';
import {
  DEFAULT_NEGATIVE_FAMILIES,
  DEFAULT_UNSEEN_FAMILIES,
  DEMO_FAMILIES,
  demoTrackSources,
  familyGlyphs,
} from '../src/demo/families.js';
import {
  DEFAULT_DEMO_OPTIONS,
  closedSetBatches,
  mixedContentDemoBatches,
} from '../src/demo/pipeline.js';
import { loadDemoScenes } from '../src/demo/scenes.js';
import { fakeGlyphs } from './demo-glyphs.js';

const classesOf = (families: readonly (keyof typeof DEMO_FAMILIES)[]): Set<number> =>
  new Set(families.flatMap((f) => [...DEMO_FAMILIES[f].classes]));

/** A copy of `scenes` whose negatives record every glyph index that drawing reads. */
function traced(scenes: DigitScenes): { scenes: DigitScenes; drawn: Set<number> } {
  const drawn = new Set<number>();
  const px = scenes.negatives.width * scenes.negatives.height;
  const pixels = new Proxy(scenes.negatives.pixels, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) drawn.add(Math.floor(Number(key) / px));
      const v = Reflect.get(target, key) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const negatives: GlyphSet = { ...scenes.negatives, pixels };
  return { scenes: { ...scenes, negatives }, drawn };
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-tracks-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('demo tracks', () => {
  it('split the families: negatives and the seen track from the negative families, the unseen track from the others only', () => {
    const glyphs = fakeGlyphs();
    const { seen, unseen } = demoTrackSources(
      glyphs,
      { negatives: DEFAULT_NEGATIVE_FAMILIES, unseen: DEFAULT_UNSEEN_FAMILIES },
      { negativeCount: 1000, seed: 0 },
    );
    const neg = classesOf(DEFAULT_NEGATIVE_FAMILIES);
    const held = classesOf(DEFAULT_UNSEEN_FAMILIES);
    expect([...neg].sort()).toEqual([0, 2, 4, 5, 6, 7, 9]);
    expect([...held].sort()).toEqual([1, 3, 8]);
    for (const set of [
      seen.clothing.train,
      seen.clothing.val,
      seen.clothing.test,
      unseen.clothing.train,
    ])
      expect(new Set(set.classes)).toEqual(neg);
    for (const set of [unseen.clothing.val, unseen.clothing.test])
      expect(new Set(set.classes)).toEqual(held);
    // training negatives come from the training split only: no validation or test item
    const key = (s: GlyphSet, i: number): string =>
      s.pixels.subarray(i * 784, (i + 1) * 784).join();
    const train = new Set(
      Array.from({ length: seen.clothing.train.count }, (_, i) => key(seen.clothing.train, i)),
    );
    for (const s of [
      seen.clothing.val,
      seen.clothing.test,
      unseen.clothing.val,
      unseen.clothing.test,
    ])
      for (let i = 0; i < s.count; i++) expect(train.has(key(s, i))).toBe(false);
    expect(() =>
      demoTrackSources(
        glyphs,
        { negatives: ['tops', 'bags'], unseen: ['bags'] },
        { negativeCount: 10, seed: 0 },
      ),
    ).toThrow(/expected the negative and the unseen families to be disjoint, got bags in both/);
    expect(() =>
      demoTrackSources(
        glyphs,
        { negatives: ['hats' as 'tops'], unseen: ['bags'] },
        { negativeCount: 10, seed: 0 },
      ),
    ).toThrow(/expected negatives to be distinct families of tops \| footwear/);
  });

  it('balance several negative families; generated families have distinct, inked glyphs', () => {
    const glyphs = fakeGlyphs(40);
    const mixed = familyGlyphs(glyphs, ['tops', 'shapes', 'scribbles'], 'val', {
      limit: 90,
      seed: 1,
    });
    const count = (c: number): number => mixed.classes.filter((x) => x === c).length;
    expect(count(10)).toBe(30);
    expect(count(11)).toBe(30);
    expect([0, 2, 4, 6].reduce((n, c) => n + count(c), 0)).toBe(30);
    expect(mixed.count).toBe(90);
    for (const family of ['shapes', 'scribbles'] as const) {
      const set = familyGlyphs(glyphs, [family], 'val');
      expect(set.count).toBe(300);
      const distinct = new Set<string>();
      for (let i = 0; i < set.count; i++) {
        const g = set.pixels.subarray(i * 784, (i + 1) * 784);
        const ink = g.filter((v) => v > 0).length;
        expect(ink, `${family} ${i}`).toBeGreaterThan(15);
        expect(ink, `${family} ${i}`).toBeLessThan(700);
        distinct.add(g.join());
      }
      expect(distinct.size).toBe(300);
    }
  });

  it('no unseen-family item is ever drawn into a training batch (class ids of every pasted negative)', async () => {
    const data = await loadDemoScenes({
      scenes: {
        size: 32,
        trainScenes: 8,
        valScenes: 4,
        testScenes: 4,
        glyphSide: [10, 18],
        negativeCount: 200,
      },
      seed: 0,
      cacheDir: join(root, 'cache'),
      negatives: DEFAULT_DEMO_OPTIONS.negatives,
      unseen: DEFAULT_DEMO_OPTIONS.unseen,
      glyphs: () => Promise.resolve(fakeGlyphs(30)),
    });
    expect(data.tracks.map((t) => t.name)).toEqual(['near', 'seen', 'unseen']);
    const neg = classesOf(DEFAULT_DEMO_OPTIONS.negatives);
    expect(new Set(data.scenes.negatives.classes)).toEqual(neg);
    const { scenes, drawn } = traced(data.scenes);
    // stage 2 (mixed content): the pipeline's own batch stream
    const stream = mixedContentDemoBatches(scenes, 0, { batchSize: 8, seed: 0 });
    for (let i = 0; i < 25; i++) await stream.next();
    await stream.return();
    const drawnClasses = new Set([...drawn].map((i) => scenes.negatives.classes[i]));
    expect(drawn.size).toBeGreaterThan(50);
    expect(drawnClasses).toEqual(neg); // every negative class is drawn, nothing else
    // stage 1 (closed set): nothing pasted at all
    drawn.clear();
    const closed = closedSetBatches(scenes, 0, { batchSize: 8, seed: 0 });
    for (let i = 0; i < 5; i++) await closed.next();
    await closed.return();
    expect(drawn.size).toBe(0);
    // the tracks' anomalies are labelled K, and the seen and unseen scenes share their inliers
    const K = data.scenes.numClasses;
    const [, seen, unseen] = data.tracks;
    expect(seen!.test.labels.some((v) => v === K)).toBe(true);
    expect(unseen!.test.labels.some((v) => v === K)).toBe(true);
    expect(
      unseen!.test.labels.filter((v) => v !== K && v !== 255 && v !== 0).length,
    ).toBeGreaterThan(0);
    // a direct batch of the real batch function draws from the same (traced) negatives
    drawn.clear();
    digitSceneBatch(scenes, 3, { batchSize: 4 });
    expect([...drawn].every((i) => neg.has(scenes.negatives.classes[i] ?? -1))).toBe(true);
  });
});
