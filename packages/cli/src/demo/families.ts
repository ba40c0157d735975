import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { DigitSceneSources, GlyphSet } from '@densehybrid/data-mixing';
import type { DemoGlyphs } from './sources.js';

/**
 * Anomaly families of the built-in benchmark. Fashion-MNIST's ten classes are grouped by kind;
 * two families are generated (solid random shapes, as the authors' random-rectangle negatives,
 * and thick random scribbles). A family is either pasted while training (a negative family: its
 * training items are the negatives, its test items the seen-family track) or held out (its
 * validation and test items make the unseen-family track, and no item of it is ever pasted).
 */
export const DEMO_FAMILIES = {
  tops: {
    kind: 'fashion-mnist',
    classes: [0, 2, 4, 6],
    description: 'Fashion-MNIST T-shirts/tops, pullovers, coats and shirts',
  },
  footwear: {
    kind: 'fashion-mnist',
    classes: [5, 7, 9],
    description: 'Fashion-MNIST sandals, sneakers and ankle boots',
  },
  trousers: { kind: 'fashion-mnist', classes: [1], description: 'Fashion-MNIST trousers' },
  dresses: { kind: 'fashion-mnist', classes: [3], description: 'Fashion-MNIST dresses' },
  bags: { kind: 'fashion-mnist', classes: [8], description: 'Fashion-MNIST bags' },
  shapes: {
    kind: 'generated',
    classes: [10],
    description: 'generated solid shapes (rectangles, ellipses, polygons; shaded)',
  },
  scribbles: {
    kind: 'generated',
    classes: [11],
    description: 'generated thick random scribbles',
  },
} as const satisfies Record<
  string,
  { kind: 'fashion-mnist' | 'generated'; classes: readonly number[]; description: string }
>;

/** A family name of {@link DEMO_FAMILIES}. */
export type DemoFamily = keyof typeof DEMO_FAMILIES;

/** Every family name, in the order of {@link DEMO_FAMILIES}. */
const DEMO_FAMILY_NAMES = Object.keys(DEMO_FAMILIES) as DemoFamily[];

/** The demo's negative families: pasted while training; their test items are the seen-family track. */
export const DEFAULT_NEGATIVE_FAMILIES: readonly DemoFamily[] = ['tops', 'footwear'];

/**
 * The demo's held-out families: never pasted; their validation and test items are the
 * unseen-family track (every study configuration keeps them held out, so that track is the same
 * for all of them).
 */
export const DEFAULT_UNSEEN_FAMILIES: readonly DemoFamily[] = ['trousers', 'dresses', 'bags'];

/** Bumped whenever the family definitions or the generated glyphs change (scene caches key on it). */
export const DEMO_FAMILIES_VERSION = 1;

const SIDE = 28;
const PX = SIDE * SIDE;

/** Generated glyphs per split (Fashion-MNIST's proportions: 1000 test, ~300 validation per class). */
const GENERATED_COUNTS = { train: 3000, val: 300, test: 1000 } as const;

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Renders `inside(x, y) → intensity 0..1` at 4×4 supersampling into a 28×28 glyph. */
function rasterize(shade: (x: number, y: number) => number): Uint8Array {
  const out = new Uint8Array(PX);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let acc = 0;
      for (let sy = 0; sy < 4; sy++)
        for (let sx = 0; sx < 4; sx++) acc += shade(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4);
      out[y * SIDE + x] = Math.round(Math.min(1, acc / 16) * 255);
    }
  }
  return out;
}

/** Ray-casting point-in-polygon test. */
function insidePolygon(
  poly: readonly (readonly [number, number])[],
  x: number,
  y: number,
): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** A solid shape: rotated rectangle, ellipse or convex polygon, with a linear shading gradient. */
function shapeGlyph(r: () => number): Uint8Array {
  const cx = 14 + (r() - 0.5) * 4;
  const cy = 14 + (r() - 0.5) * 4;
  const angle = r() * Math.PI;
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const a = 5 + r() * 8;
  const b = 4 + r() * 8;
  const kind = Math.floor(r() * 3);
  const g0 = 0.45 + 0.35 * r();
  const gx = (r() - 0.5) * 0.03;
  const gy = (r() - 0.5) * 0.03;
  const vertices = 3 + Math.floor(r() * 4);
  const polygon = Array.from({ length: vertices }, (_, i) => {
    const t = ((i + 0.3 * (r() - 0.5)) / vertices) * 2 * Math.PI;
    const rad = (0.6 + 0.4 * r()) * (a + b) * 0.6;
    return [rad * Math.cos(t), rad * Math.sin(t)] as const;
  });
  return rasterize((x, y) => {
    const u = (x - cx) * c + (y - cy) * s;
    const v = -(x - cx) * s + (y - cy) * c;
    let inside: boolean;
    if (kind === 0) inside = Math.abs(u) <= a && Math.abs(v) <= b;
    else if (kind === 1) inside = (u / a) ** 2 + (v / b) ** 2 <= 1;
    else inside = insidePolygon(polygon, u, v);
    return inside ? Math.min(1, Math.max(0.2, g0 + gx * (x - 14) + gy * (y - 14))) : 0;
  });
}

/** A thick scribble: a Catmull-Rom curve through 3–5 random points, 2.5–4.5 px wide. */
function scribbleGlyph(r: () => number): Uint8Array {
  const n = 3 + Math.floor(r() * 3);
  const pts = Array.from({ length: n }, () => [4 + r() * 20, 4 + r() * 20] as const);
  const half = (2.5 + 2 * r()) / 2;
  // stamp discs along the curve on a 4× supersampled canvas, then box-filter down
  const S = SIDE * 4;
  const fine = new Uint8Array(S * S);
  const stamp = (px: number, py: number): void => {
    const rr = half * 4;
    const [cx, cy] = [px * 4, py * 4];
    for (let y = Math.max(0, Math.floor(cy - rr)); y <= Math.min(S - 1, Math.ceil(cy + rr)); y++)
      for (let x = Math.max(0, Math.floor(cx - rr)); x <= Math.min(S - 1, Math.ceil(cx + rr)); x++)
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= rr * rr) fine[y * S + x] = 1;
  };
  for (let i = 0; i < n - 1; i++) {
    const p0 = pts[Math.max(0, i - 1)]!;
    const p1 = pts[i]!;
    const p2 = pts[i + 1]!;
    const p3 = pts[Math.min(n - 1, i + 2)]!;
    for (let t = 0; t < 1; t += 0.05) {
      const t2 = t * t;
      const t3 = t2 * t;
      const q = (k: 0 | 1): number =>
        0.5 *
        (2 * p1[k] +
          (-p0[k] + p2[k]) * t +
          (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t2 +
          (-p0[k] + 3 * p1[k] - 3 * p2[k] + p3[k]) * t3);
      stamp(q(0), q(1));
    }
  }
  stamp(pts[n - 1]![0], pts[n - 1]![1]);
  return rasterize((x, y) => fine[Math.floor(y * 4) * S + Math.floor(x * 4)] ?? 0);
}

function generated(family: 'shapes' | 'scribbles', split: keyof typeof GENERATED_COUNTS): GlyphSet {
  const count = GENERATED_COUNTS[split];
  const cls = DEMO_FAMILIES[family].classes[0];
  const r = prng(
    (family === 'shapes' ? 0x5a1 : 0x5c2) * 7 + { train: 1, val: 2, test: 3 }[split] * 7919,
  );
  const draw = family === 'shapes' ? shapeGlyph : scribbleGlyph;
  const pixels = new Uint8Array(count * PX);
  for (let i = 0; i < count; i++) pixels.set(draw(r), i * PX);
  return {
    name: `generated/${family}/${split}`,
    pixels,
    classes: new Uint8Array(count).fill(cls),
    count,
    height: SIDE,
    width: SIDE,
  };
}

const generatedCache = new Map<string, GlyphSet>();
function generatedSet(family: 'shapes' | 'scribbles', split: 'train' | 'val' | 'test'): GlyphSet {
  const key = `${family}/${split}`;
  let set = generatedCache.get(key);
  if (set === undefined) {
    set = generated(family, split);
    generatedCache.set(key, set);
  }
  return set;
}

/** Glyph indices of `set` whose class is in `classes`. */
function indicesOf(set: GlyphSet, classes: readonly number[]): number[] {
  const want = new Set(classes);
  const out: number[] = [];
  for (let i = 0; i < set.count; i++) if (want.has(set.classes[i] ?? -1)) out.push(i);
  return out;
}

/** A deterministic shuffle (Fisher–Yates). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const r = prng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function concatGlyphs(
  name: string,
  parts: readonly { set: GlyphSet; indices: readonly number[] }[],
): GlyphSet {
  const count = parts.reduce((n, p) => n + p.indices.length, 0);
  const pixels = new Uint8Array(count * PX);
  const classes = new Uint8Array(count);
  let k = 0;
  for (const { set, indices } of parts) {
    for (const i of indices) {
      pixels.set(set.pixels.subarray(i * PX, (i + 1) * PX), k * PX);
      classes[k++] = set.classes[i] ?? 0;
    }
  }
  return { name, pixels, classes, count, height: SIDE, width: SIDE };
}

/**
 * The glyphs of some families in one split. With `limit`, each family contributes at most
 * ⌈limit / families⌉ items (a seeded random subset), so that every family is equally likely to be
 * pasted.
 */
export function familyGlyphs(
  glyphs: DemoGlyphs,
  families: readonly DemoFamily[],
  split: 'train' | 'val' | 'test',
  options: { readonly limit?: number; readonly seed?: number } = {},
): GlyphSet {
  const per = options.limit === undefined ? Infinity : Math.ceil(options.limit / families.length);
  const parts = families.map((family, f) => {
    const def = DEMO_FAMILIES[family];
    const set =
      def.kind === 'generated'
        ? generatedSet(family as 'shapes' | 'scribbles', split)
        : glyphs.clothing[split];
    let indices = indicesOf(set, def.classes);
    if (indices.length > per)
      indices = shuffled(indices, (options.seed ?? 0) * 131 + f + 1)
        .slice(0, per)
        .sort((a, b) => a - b);
    return { set, indices };
  });
  return concatGlyphs(`${families.join('+')}/${split}`, parts);
}

/** Throws unless `families` is a non-empty list of distinct {@link DemoFamily} names. */
export function checkFamilies(fn: string, name: string, families: unknown): readonly DemoFamily[] {
  const ok =
    Array.isArray(families) &&
    families.length > 0 &&
    families.every((f) => typeof f === 'string' && Object.hasOwn(DEMO_FAMILIES, f)) &&
    new Set(families).size === families.length;
  if (!ok) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be distinct families of ${DEMO_FAMILY_NAMES.join(' | ')}, got ${describeValue(families)}`,
    );
  }
  return families as readonly DemoFamily[];
}

/** What {@link demoTrackSources} returns: the sources of the two scene builds. */
export interface DemoTrackSources {
  /**
   * Training scenes, negatives (training items of the negative families), the near-OOD track
   * and the seen-family track (validation and test items of the negative families as the
   * "clothing" anomalies).
   */
  readonly seen: DigitSceneSources;
  /** The unseen-family track: held-out families' validation and test items as the anomalies. */
  readonly unseen: DigitSceneSources;
}

/**
 * Splits the glyphs into the two scene builds of the demo: negatives and the seen-family track
 * from `negatives`, the unseen-family track from `unseen` (disjoint). The `unseen` build's
 * training glyphs are the same negatives (its training scenes are never used): no glyph of an
 * unseen family is in any training set.
 *
 * @throws DenseHybridError `INVALID_OPTION` for unknown, repeated or overlapping families
 */
export function demoTrackSources(
  glyphs: DemoGlyphs,
  families: { readonly negatives: readonly DemoFamily[]; readonly unseen: readonly DemoFamily[] },
  options: { readonly negativeCount: number; readonly seed: number },
): DemoTrackSources {
  const fn = 'demoTrackSources';
  const negatives = checkFamilies(fn, 'negatives', families.negatives);
  const unseen = checkFamilies(fn, 'unseen', families.unseen);
  const both = negatives.filter((f) => unseen.includes(f));
  if (both.length > 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected the negative and the unseen families to be disjoint, got ${both.join(', ')} in both`,
    );
  }
  const train = familyGlyphs(glyphs, negatives, 'train', {
    limit: options.negativeCount,
    seed: options.seed,
  });
  return {
    seen: {
      digits: glyphs.digits,
      clothing: {
        train,
        val: familyGlyphs(glyphs, negatives, 'val'),
        test: familyGlyphs(glyphs, negatives, 'test'),
      },
    },
    unseen: {
      digits: glyphs.digits,
      clothing: {
        train,
        val: familyGlyphs(glyphs, unseen, 'val'),
        test: familyGlyphs(glyphs, unseen, 'test'),
      },
    },
  };
}
