import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  checkGlyphSet,
  dilateGlyphs,
  drawBackground,
  drawGlyph,
  randomPlacement,
  type GlyphSet,
  type SceneCanvas,
  type GlyphStyle,
} from './compose.js';
import { mixSeed, sceneRng, type SceneRng } from './rng.js';

/**
 * The raw material of the built-in benchmark, split the way the source datasets split it.
 * Digits (MNIST) give inliers and, for their held-out classes, near-OOD anomalies; clothing
 * (Fashion-MNIST) gives training negatives (`train`) and far-OOD anomalies (`val`, `test`).
 */
export interface DigitSceneSources {
  readonly digits: { readonly train: GlyphSet; readonly val: GlyphSet; readonly test: GlyphSet };
  readonly clothing: { readonly train: GlyphSet; readonly val: GlyphSet; readonly test: GlyphSet };
}

/** Options of {@link buildDigitScenes}. */
export interface DigitScenesOptions {
  /** Seed of everything random. @default 0 */
  readonly seed?: number;
  /** Scene side in pixels. @default 64 */
  readonly size?: number;
  /**
   * Digit classes that are known (inliers); digit `inlierDigits[i]` gets label `i + 1`, the
   * textured background label 0. The other digits are the near-OOD anomalies.
   * @default [0, 1, 2, 3, 4, 5]
   */
  readonly inlierDigits?: readonly number[];
  /** Training scenes (inliers only; negatives are pasted per batch). @default 2000 */
  readonly trainScenes?: number;
  /** Validation scenes per track (for threshold calibration). @default 100 */
  readonly valScenes?: number;
  /** Test scenes per track. @default 200 */
  readonly testScenes?: number;
  /** Objects per scene, inclusive range; test scenes use one of them for the anomaly. @default [2, 3] */
  readonly objectsPerScene?: readonly [number, number];
  /** Drawn side of a glyph in pixels, inclusive range. @default [18, 34] */
  readonly glyphSide?: readonly [number, number];
  /** Clothing training items kept as negatives for pasting. @default 3000 */
  readonly negativeCount?: number;
  /**
   * Radius (in source-glyph pixels) of a grey-level dilation that thickens digit strokes, so
   * that they survive a stride-4 segmentation output. 0 keeps the glyphs as they are.
   * @default 1
   */
  readonly strokeDilation?: number;
}

/** Default options of {@link buildDigitScenes}. */
export const DEFAULT_DIGIT_SCENES_OPTIONS = {
  seed: 0,
  size: 64,
  inlierDigits: [0, 1, 2, 3, 4, 5],
  trainScenes: 2000,
  valScenes: 100,
  testScenes: 200,
  objectsPerScene: [2, 3],
  glyphSide: [18, 34],
  negativeCount: 3000,
  strokeDilation: 1,
} as const satisfies Required<DigitScenesOptions>;

/** Every option of {@link DigitScenesOptions}, resolved. */
export type ResolvedDigitScenesOptions = {
  readonly [K in keyof DigitScenesOptions]-?: Exclude<DigitScenesOptions[K], undefined>;
};

/** One split of scenes: `count` RGB images with label maps, `size × size` each. */
export interface SceneSplit {
  /** e.g. `digit-scenes/test/near`. */
  readonly name: string;
  readonly count: number;
  readonly size: number;
  /** `count × size × size × 3`, 0–255. */
  readonly images: Uint8Array;
  /** `count × size × size`: classes `0..K-1`, anomaly `K` (val/test), ignore 255. */
  readonly labels: Uint8Array;
  /** `semantic` for train, `open-set` for val and test. */
  readonly labelKind: 'semantic' | 'open-set';
}

/** The built-in benchmark: what {@link buildDigitScenes} returns. */
export interface DigitScenes {
  readonly options: ResolvedDigitScenesOptions;
  /** Known classes K = background + inlier digits. */
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Label of anomalies and pasted negatives: K. */
  readonly anomalyLabel: number;
  readonly train: SceneSplit;
  /** Calibration scenes: near = held-out digits, far = clothing, both with inliers. */
  readonly val: { readonly near: SceneSplit; readonly far: SceneSplit };
  /** Test scenes: near-OOD (held-out digits) and far-OOD (clothing) tracks. */
  readonly test: { readonly near: SceneSplit; readonly far: SceneSplit };
  /** Clothing training items to paste as negatives while training. */
  readonly negatives: GlyphSet;
}

function fail(code: 'INVALID_OPTION', message: string): never {
  throw new DenseHybridError(code, message);
}

function checkCount(name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    fail(
      'INVALID_OPTION',
      `buildDigitScenes: expected options.${name} to be an integer ≥ ${min}, got ${describeValue(v)}`,
    );
  }
}

function checkRange(name: string, v: unknown, min: number): void {
  const ok =
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => Number.isInteger(x) && x >= min) &&
    (v[0] as number) <= (v[1] as number);
  if (!ok) {
    fail(
      'INVALID_OPTION',
      `buildDigitScenes: expected options.${name} to be [lo, hi] integers with ${min} ≤ lo ≤ hi, got ${describeValue(v)}`,
    );
  }
}

/** Resolves and validates {@link DigitScenesOptions}. */
export function resolveDigitScenesOptions(
  options: DigitScenesOptions = {},
): ResolvedDigitScenesOptions {
  const o = { ...DEFAULT_DIGIT_SCENES_OPTIONS, ...options } as ResolvedDigitScenesOptions;
  if (typeof o.seed !== 'number' || !Number.isInteger(o.seed)) {
    fail(
      'INVALID_OPTION',
      `buildDigitScenes: expected options.seed to be an integer, got ${describeValue(o.seed)}`,
    );
  }
  checkCount('size', o.size, 8);
  checkCount('trainScenes', o.trainScenes, 1);
  checkCount('valScenes', o.valScenes, 1);
  checkCount('testScenes', o.testScenes, 1);
  checkCount('negativeCount', o.negativeCount, 1);
  checkCount('strokeDilation', o.strokeDilation, 0);
  checkRange('objectsPerScene', o.objectsPerScene, 1);
  checkRange('glyphSide', o.glyphSide, 4);
  const d = o.inlierDigits;
  const okDigits =
    Array.isArray(d) &&
    d.length >= 1 &&
    d.length <= 9 &&
    d.every((x) => Number.isInteger(x) && x >= 0 && x <= 9) &&
    new Set(d).size === d.length;
  if (!okDigits) {
    fail(
      'INVALID_OPTION',
      `buildDigitScenes: expected options.inlierDigits to be 1–9 distinct digits 0–9 (at least one digit held out as anomaly), got ${describeValue(d)}`,
    );
  }
  return o;
}

interface Pool {
  readonly set: GlyphSet;
  readonly indices: readonly number[];
}

function pool(set: GlyphSet, keep: (cls: number) => boolean, what: string): Pool {
  const indices: number[] = [];
  for (let i = 0; i < set.count; i++) if (keep(set.classes[i] ?? 0)) indices.push(i);
  if (indices.length === 0) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `buildDigitScenes: expected ${set.name} to contain ${what}, got none among ${set.count} glyphs`,
    );
  }
  return { set, indices };
}

function pick(rng: SceneRng, p: Pool): number {
  return p.indices[rng.int(0, p.indices.length - 1)] ?? 0;
}

const SPLIT_CODES = { train: 1, 'val/near': 2, 'val/far': 3, 'test/near': 4, 'test/far': 5 };
type SplitKey = keyof typeof SPLIT_CODES;

function composeSplit(
  key: SplitKey,
  count: number,
  o: ResolvedDigitScenesOptions,
  inliers: Pool,
  labelOf: (digit: number) => number,
  anomaly: { pool: Pool; style: GlyphStyle; label: number } | undefined,
): SceneSplit {
  const size = o.size;
  const images = new Uint8Array(count * size * size * 3);
  const labels = new Uint8Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const rng = sceneRng(mixSeed(o.seed, SPLIT_CODES[key], i));
    const canvas: SceneCanvas = {
      size,
      image: images.subarray(i * size * size * 3, (i + 1) * size * size * 3),
      label: labels.subarray(i * size * size, (i + 1) * size * size),
    };
    drawBackground(canvas, rng);
    const objects = rng.int(o.objectsPerScene[0], o.objectsPerScene[1]);
    const inlierCount = anomaly ? Math.max(1, objects - 1) : objects;
    const kinds: ('inlier' | 'anomaly')[] = Array.from({ length: inlierCount }, () => 'inlier');
    if (anomaly) kinds.splice(rng.int(0, inlierCount), 0, 'anomaly');
    for (const kind of kinds) {
      if (kind === 'anomaly' && anomaly) {
        const index = pick(rng, anomaly.pool);
        const place = randomPlacement(rng, size, index, o.glyphSide, anomaly.style, anomaly.label);
        drawGlyph(canvas, anomaly.pool.set, place);
      } else {
        const index = pick(rng, inliers);
        const digit = inliers.set.classes[index] ?? 0;
        const place = randomPlacement(rng, size, index, o.glyphSide, 'stroke', labelOf(digit));
        drawGlyph(canvas, inliers.set, place);
      }
    }
  }
  return {
    name: `digit-scenes/${key}`,
    count,
    size,
    images,
    labels,
    labelKind: anomaly ? 'open-set' : 'semantic',
  };
}

/**
 * Composes the built-in benchmark from digit and clothing glyphs: textured backgrounds with
 * digits of the inlier classes at random positions, scales and colours (train); the same plus
 * one anomaly per scene — a held-out digit (near-OOD track) or a clothing item (far-OOD track) —
 * for validation and test, labelled open-set (anomaly = K). Every scene is a pure function of
 * `(seed, split, index)`; train/val/test use the sources' own splits.
 *
 * @param sources digit and clothing glyphs per split (see {@link DigitSceneSources})
 * @param options see {@link DigitScenesOptions}
 * @returns the {@link DigitScenes}
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `INVALID_INPUT` / `SHAPE_MISMATCH`
 *   for inconsistent glyph sets
 * @example
 * ```ts
 * const scenes = buildDigitScenes(sources, { size: 64, trainScenes: 500 });
 * console.log(scenes.numClasses, scenes.test.near.count); // 7 200
 * ```
 */
export function buildDigitScenes(
  sources: DigitSceneSources,
  options: DigitScenesOptions = {},
): DigitScenes {
  const o = resolveDigitScenesOptions(options);
  if (sources === null || typeof sources !== 'object' || !sources.digits || !sources.clothing) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `buildDigitScenes: expected sources to be { digits: {train, val, test}, clothing: {train, val, test} }, got ${describeValue(sources)}`,
    );
  }
  for (const group of ['digits', 'clothing'] as const) {
    for (const split of ['train', 'val', 'test'] as const) {
      checkGlyphSet('buildDigitScenes', `sources.${group}.${split}`, sources[group][split]);
    }
  }
  const inlierSet = new Set(o.inlierDigits);
  const labelOf = (digit: number): number => o.inlierDigits.indexOf(digit) + 1;
  const K = o.inlierDigits.length + 1;
  const isInlier = (c: number): boolean => inlierSet.has(c);
  const isHeldOut = (c: number): boolean => !inlierSet.has(c);
  const all = (): boolean => true;
  const inl = (s: GlyphSet): Pool => pool(s, isInlier, 'inlier digits');
  const near = (s: GlyphSet): Pool => pool(s, isHeldOut, 'held-out digits');
  const anomalyNear = (s: GlyphSet) => ({ pool: near(s), style: 'stroke' as const, label: K });
  const anomalyFar = (s: GlyphSet) => ({
    pool: pool(s, all, 'clothing'),
    style: 'solid' as const,
    label: K,
  });
  const thick = (set: GlyphSet): GlyphSet => dilateGlyphs(set, o.strokeDilation);
  const d = {
    train: thick(sources.digits.train),
    val: thick(sources.digits.val),
    test: thick(sources.digits.test),
  };
  const c = sources.clothing;
  return {
    options: o,
    numClasses: K,
    classNames: ['background', ...o.inlierDigits.map((x) => `digit ${x}`)],
    anomalyLabel: K,
    train: composeSplit('train', o.trainScenes, o, inl(d.train), labelOf, undefined),
    val: {
      near: composeSplit('val/near', o.valScenes, o, inl(d.val), labelOf, anomalyNear(d.val)),
      far: composeSplit('val/far', o.valScenes, o, inl(d.val), labelOf, anomalyFar(c.val)),
    },
    test: {
      near: composeSplit('test/near', o.testScenes, o, inl(d.test), labelOf, anomalyNear(d.test)),
      far: composeSplit('test/far', o.testScenes, o, inl(d.test), labelOf, anomalyFar(c.test)),
    },
    negatives: subsetGlyphs(c.train, o.negativeCount, mixSeed(o.seed, 99)),
  };
}

/** A deterministic random subset of `n` glyphs (all of them when n ≥ count), in index order. */
function subsetGlyphs(set: GlyphSet, n: number, seed: number): GlyphSet {
  const count = Math.min(n, set.count);
  const order = Array.from({ length: set.count }, (_, i) => i);
  const rng = sceneRng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = t;
  }
  const chosen = order.slice(0, count).sort((a, b) => a - b);
  const px = set.width * set.height;
  const pixels = new Uint8Array(count * px);
  const classes = new Uint8Array(count);
  chosen.forEach((src, k) => {
    pixels.set(set.pixels.subarray(src * px, (src + 1) * px), k * px);
    classes[k] = set.classes[src] ?? 0;
  });
  return {
    name: `${set.name}[negatives]`,
    pixels,
    classes,
    count,
    width: set.width,
    height: set.height,
  };
}
