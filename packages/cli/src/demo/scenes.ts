import { join } from 'node:path';
import {
  loadDigitScenes,
  resolveDigitScenesOptions,
  type DigitScenes,
  type DigitScenesOptions,
  type SceneSplit,
} from '@densehybrid/data-mixing';
import { canonicalJson, sha256 } from '@densehybrid/metrics-openiou/node';
import {
  DEMO_FAMILIES,
  DEMO_FAMILIES_VERSION,
  checkFamilies,
  demoTrackSources,
  type DemoFamily,
  type DemoTrackSources,
} from './families.js';
import { loadDemoGlyphs, type DemoGlyphs } from './sources.js';

/** The demo's evaluation tracks, in the order of its tables. */
export const DEMO_TRACKS = ['near', 'seen', 'unseen'] as const;
/** One of {@link DEMO_TRACKS}. */
export type DemoTrackName = (typeof DEMO_TRACKS)[number];

/** Short titles of the tracks (tables, plots). */
export const DEMO_TRACK_TITLES: Readonly<Record<DemoTrackName, string>> = {
  near: 'near-OOD (held-out digits)',
  seen: 'seen family (negatives’ test items)',
  unseen: 'unseen family (never pasted)',
};

/** One evaluation track: validation scenes (thresholds, selection) and test scenes (metrics). */
export interface DemoTrack {
  readonly name: DemoTrackName;
  /** What its anomalies are, e.g. `held-out digits 6, 7, 8, 9`. */
  readonly anomalies: string;
  readonly val: SceneSplit;
  readonly test: SceneSplit;
}

/** The demo's data: training scenes and negatives, and the three tracks. */
export interface DemoScenes {
  /** Training scenes and negatives (its `val` / `test` splits are those of the tracks). */
  readonly scenes: DigitScenes;
  readonly tracks: readonly DemoTrack[];
  readonly negatives: readonly DemoFamily[];
  readonly unseen: readonly DemoFamily[];
  /** True when both scene builds came from the cache. */
  readonly fromCache: boolean;
}

/** Options of {@link loadDemoScenes}. */
export interface LoadDemoScenesOptions {
  readonly scenes: DigitScenesOptions;
  readonly seed: number;
  readonly cacheDir: string;
  /** Families pasted as negatives (seen-family track). */
  readonly negatives: readonly DemoFamily[];
  /** Families held out (unseen-family track). */
  readonly unseen: readonly DemoFamily[];
  readonly log?: (line: string) => void;
  /** Where the glyphs come from. @default the `mnist` / `fashion-mnist` packages ({@link loadDemoGlyphs}) */
  readonly glyphs?: () => Promise<DemoGlyphs>;
}

const describe = (families: readonly DemoFamily[]): string =>
  families.map((f) => `${f} (${DEMO_FAMILIES[f].description})`).join(', ');

/**
 * Builds (or reads from the cache) the demo's scenes: training scenes with the negatives of the
 * negative families, and the near-OOD, seen-family and unseen-family tracks. Two scene builds of
 * the same seed share every inlier and placement (their random streams are per scene and
 * index), so the seen- and unseen-family tracks differ only in the anomaly drawn. Each family
 * selection is cached in its own folder (the scene cache keys on options only).
 *
 * @throws DenseHybridError `INVALID_OPTION` for bad or overlapping families or scene options
 */
export async function loadDemoScenes(o: LoadDemoScenesOptions): Promise<DemoScenes> {
  const negatives = checkFamilies('loadDemoScenes', 'negatives', o.negatives);
  const unseen = checkFamilies('loadDemoScenes', 'unseen', o.unseen);
  const resolved = resolveDigitScenesOptions({ ...o.scenes, seed: o.seed });
  let sources: Promise<DemoTrackSources> | undefined;
  const get = (): Promise<DemoTrackSources> =>
    (sources ??= (o.glyphs ?? loadDemoGlyphs)().then((glyphs) =>
      demoTrackSources(
        glyphs,
        { negatives, unseen },
        { negativeCount: resolved.negativeCount, seed: o.seed },
      ),
    ));
  const key = sha256(canonicalJson({ version: DEMO_FAMILIES_VERSION, negatives, unseen })).slice(
    0,
    12,
  );
  const seen = await loadDigitScenes({
    ...o.scenes,
    seed: o.seed,
    cacheDir: join(o.cacheDir, `families-${key}`),
    sources: async () => (await get()).seen,
    ...(o.log ? { log: o.log } : {}),
  });
  // the unseen build: only its validation and test scenes are used
  const held = await loadDigitScenes({
    ...o.scenes,
    trainScenes: 1,
    seed: o.seed,
    cacheDir: join(o.cacheDir, `families-${key}-unseen`),
    sources: async () => (await get()).unseen,
    ...(o.log ? { log: o.log } : {}),
  });
  const s = seen.scenes;
  const heldOut = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((d) => !s.options.inlierDigits.includes(d));
  return {
    scenes: s,
    negatives,
    unseen,
    fromCache: seen.fromCache && held.fromCache,
    tracks: [
      {
        name: 'near',
        anomalies: `held-out digits ${heldOut.join(', ')}`,
        val: s.val.near,
        test: s.test.near,
      },
      { name: 'seen', anomalies: describe(negatives), val: s.val.far, test: s.test.far },
      {
        name: 'unseen',
        anomalies: describe(unseen),
        val: held.scenes.val.far,
        test: held.scenes.test.far,
      },
    ],
  };
}
