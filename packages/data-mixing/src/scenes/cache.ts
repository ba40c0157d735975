import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { writeDirectoryAtomic, writeFileSynced } from '@densehybrid/metrics-openiou/node';
import type { GlyphSet } from './compose.js';
import {
  buildDigitScenes,
  resolveDigitScenesOptions,
  type DigitSceneSources,
  type DigitScenes,
  type DigitScenesOptions,
  type SceneSplit,
} from './digit-scenes.js';

/** Bumped whenever scene generation changes, so that stale caches are rebuilt. */
export const DIGIT_SCENES_FORMAT_VERSION = 2;

/** Options of {@link loadDigitScenes}. */
export interface LoadDigitScenesOptions extends DigitScenesOptions {
  /** Folder that holds generated scenes (one sub-folder per configuration). */
  readonly cacheDir: string;
  /** Called only when the cache misses: returns the glyph sources to build from. */
  readonly sources: () => DigitSceneSources | Promise<DigitSceneSources>;
  /** Progress lines. @default no logging */
  readonly log?: (line: string) => void;
}

/** What {@link loadDigitScenes} returns. */
export interface LoadDigitScenesResult {
  readonly scenes: DigitScenes;
  /** True when the scenes came from the cache (the sources were not loaded). */
  readonly fromCache: boolean;
  /** The configuration's cache folder. */
  readonly dir: string;
}

interface Meta {
  readonly version: number;
  readonly options: unknown;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly arrays: readonly {
    readonly key: string;
    readonly offset: number;
    readonly length: number;
  }[];
  readonly splits: readonly {
    readonly key: string;
    readonly name: string;
    readonly count: number;
    readonly size: number;
    readonly labelKind: 'semantic' | 'open-set';
  }[];
  readonly negatives: {
    readonly name: string;
    readonly count: number;
    readonly width: number;
    readonly height: number;
  };
}

const SPLIT_KEYS = ['train', 'val.near', 'val.far', 'test.near', 'test.far'] as const;

function splitOf(scenes: DigitScenes, key: (typeof SPLIT_KEYS)[number]): SceneSplit {
  switch (key) {
    case 'train':
      return scenes.train;
    case 'val.near':
      return scenes.val.near;
    case 'val.far':
      return scenes.val.far;
    case 'test.near':
      return scenes.test.near;
    case 'test.far':
      return scenes.test.far;
  }
}

function cacheKey(options: unknown): string {
  const text = JSON.stringify({ v: DIGIT_SCENES_FORMAT_VERSION, options });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

async function readCache(dir: string, options: unknown): Promise<DigitScenes | undefined> {
  let metaText: string;
  try {
    metaText = await readFile(join(dir, 'meta.json'), 'utf8');
  } catch {
    return undefined;
  }
  const meta = JSON.parse(metaText) as Meta;
  if (
    meta.version !== DIGIT_SCENES_FORMAT_VERSION ||
    JSON.stringify(meta.options) !== JSON.stringify(options)
  ) {
    return undefined;
  }
  let buf: Buffer;
  try {
    buf = await readFile(join(dir, 'data.bin'));
  } catch (e) {
    // another process is replacing the folder this instant (or it was left half-deleted)
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const arr = (key: string): Uint8Array => {
    const a = meta.arrays.find((x) => x.key === key);
    if (!a || a.offset + a.length > bytes.length) {
      throw new DenseHybridError(
        'IO',
        `loadDigitScenes: expected ${join(dir, 'data.bin')} to hold array "${key}", got a truncated or foreign file`,
      );
    }
    return bytes.subarray(a.offset, a.offset + a.length);
  };
  const split = (key: string): SceneSplit => {
    const s = meta.splits.find((x) => x.key === key);
    if (!s)
      throw new DenseHybridError(
        'IO',
        `loadDigitScenes: expected ${join(dir, 'meta.json')} to list split "${key}", got none`,
      );
    return {
      name: s.name,
      count: s.count,
      size: s.size,
      labelKind: s.labelKind,
      images: arr(`${key}.images`),
      labels: arr(`${key}.labels`),
    };
  };
  const negatives: GlyphSet = {
    ...meta.negatives,
    pixels: arr('negatives.pixels'),
    classes: arr('negatives.classes'),
  };
  return {
    options: options as DigitScenes['options'],
    numClasses: meta.numClasses,
    classNames: meta.classNames,
    anomalyLabel: meta.numClasses,
    train: split('train'),
    val: { near: split('val.near'), far: split('val.far') },
    test: { near: split('test.near'), far: split('test.far') },
    negatives,
  };
}

async function writeCache(dir: string, scenes: DigitScenes): Promise<void> {
  const parts: { key: string; data: Uint8Array }[] = [];
  for (const key of SPLIT_KEYS) {
    const s = splitOf(scenes, key);
    parts.push({ key: `${key}.images`, data: s.images }, { key: `${key}.labels`, data: s.labels });
  }
  parts.push(
    { key: 'negatives.pixels', data: scenes.negatives.pixels },
    { key: 'negatives.classes', data: scenes.negatives.classes },
  );
  let offset = 0;
  const arrays = parts.map((p) => {
    const a = { key: p.key, offset, length: p.data.length };
    offset += p.data.length;
    return a;
  });
  const meta: Meta = {
    version: DIGIT_SCENES_FORMAT_VERSION,
    options: scenes.options,
    numClasses: scenes.numClasses,
    classNames: scenes.classNames,
    arrays,
    splits: SPLIT_KEYS.map((key) => {
      const s = splitOf(scenes, key);
      return { key, name: s.name, count: s.count, size: s.size, labelKind: s.labelKind };
    }),
    negatives: {
      name: scenes.negatives.name,
      count: scenes.negatives.count,
      width: scenes.negatives.width,
      height: scenes.negatives.height,
    },
  };
  // write everything into a private temp folder, then publish it atomically (a concurrent
  // writer of the same configuration wrote the same bytes, so the last one simply wins)
  await writeDirectoryAtomic('loadDigitScenes', dir, async (tmp) => {
    await writeFileSynced(join(tmp, 'data.bin'), Buffer.concat(parts.map((p) => p.data)));
    await writeFileSynced(join(tmp, 'meta.json'), Buffer.from(JSON.stringify(meta, null, 1)));
  });
}

/**
 * The built-in benchmark, generated on first use into `cacheDir` (atomically: a temp folder
 * renamed into place) and read back on later calls with the same options — the glyph
 * `sources` are only loaded when the cache misses.
 *
 * @param options scene options plus `cacheDir` and a lazy `sources` loader
 * @returns the scenes, whether they came from the cache, and the cache folder
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `IO` when the cache cannot be
 *   written or is corrupt
 * @example
 * ```ts
 * const { scenes, fromCache } = await loadDigitScenes({
 *   cacheDir: '.cache/densehybrid',
 *   sources: () => loadMyGlyphs(),
 * });
 * ```
 */
export async function loadDigitScenes(
  options: LoadDigitScenesOptions,
): Promise<LoadDigitScenesResult> {
  if (
    options === null ||
    typeof options !== 'object' ||
    typeof options.cacheDir !== 'string' ||
    options.cacheDir === ''
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `loadDigitScenes: expected options.cacheDir to be a folder path, got ${describeValue(options?.cacheDir)}`,
    );
  }
  if (typeof options.sources !== 'function') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `loadDigitScenes: expected options.sources to be a function returning glyph sources, got ${describeValue(options.sources)}`,
    );
  }
  const { cacheDir, sources, log = () => {}, ...sceneOptions } = options;
  const resolved = resolveDigitScenesOptions(sceneOptions);
  const dir = join(cacheDir, `digit-scenes-v${DIGIT_SCENES_FORMAT_VERSION}-${cacheKey(resolved)}`);
  try {
    const cached = await readCache(dir, resolved);
    if (cached) {
      log(`scenes: reusing ${dir}`);
      return { scenes: cached, fromCache: true, dir };
    }
  } catch (e) {
    if (DenseHybridError.is(e)) throw e;
    throw new DenseHybridError(
      'IO',
      `loadDigitScenes: expected a readable cache at ${dir}, got ${(e as Error).message}`,
      { cause: e },
    );
  }
  log('scenes: loading glyph sources');
  const scenes = buildDigitScenes(await sources(), resolved);
  log(`scenes: writing ${dir}`);
  try {
    await mkdir(cacheDir, { recursive: true });
    await writeCache(dir, scenes);
  } catch (e) {
    if (DenseHybridError.is(e)) throw e;
    throw new DenseHybridError(
      'IO',
      `loadDigitScenes: expected to write the scene cache ${dir}, got ${(e as Error).message}`,
      { cause: e },
    );
  }
  return { scenes, fromCache: false, dir };
}
