import type * as tfc from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { SampleTransform } from './mixed-content.js';
import { createRng, deriveSeed } from './rng.js';
import type { JobOutcome, JobSample } from './sample-job.js';
import { createSampleSource, type SampleSource } from './sample-source.js';
import type { SegmentationBatch, SegmentationDataset } from './types.js';

/** Options of {@link createLoader}. */
export interface LoaderOptions {
  /** The dataset to read (needs a `spec` when `workers > 0`). */
  readonly dataset: SegmentationDataset;
  /** Samples per batch. @default 16 (LDN-121 in the paper; 8 for DeepLabV3+) */
  readonly batchSize: number;
  /** Per-sample transform, e.g. {@link createMixedContentTransform}; needs a `spec` when `workers > 0`. @default undefined (samples as loaded; they must all have one size) */
  readonly transform?: SampleTransform;
  /** Fixes the order and every random draw. @default 0 */
  readonly seed: number;
  /** Worker threads decoding in parallel; 0 = on the calling thread (sharp still decodes off the JS thread). @default 0 */
  readonly workers: number;
  /** Batches prepared ahead of the consumer. @default 2 */
  readonly prefetch: number;
  /** Shuffle the order each epoch (a permutation drawn from (seed, epoch)). @default true */
  readonly shuffle: boolean;
  /** `throw`: the first bad sample ends the epoch with its error; `skip`: drop it, count it in `stats`. @default 'throw' */
  readonly onBadSample: 'throw' | 'skip';
  /** Drop a last, incomplete batch. @default false */
  readonly dropLast: boolean;
}

/** Defaults of {@link createLoader} (everything but `dataset`). */
export const DEFAULT_LOADER_OPTIONS: Omit<LoaderOptions, 'dataset' | 'transform'> = {
  batchSize: 16,
  seed: 0,
  workers: 0,
  prefetch: 2,
  shuffle: true,
  onBadSample: 'throw',
  dropLast: false,
};

/** A sample the loader dropped (`onBadSample: 'skip'`). */
export interface SkippedSample {
  readonly id: string;
  readonly epoch: number;
  readonly code: string;
  readonly message: string;
}

/** Counters of a loader, updated as it runs. */
export interface LoaderStats {
  /** Samples delivered in batches so far. */
  readonly delivered: number;
  /** Bad samples skipped so far. */
  readonly skipped: number;
  /** The first 100 skipped samples with their errors. */
  readonly skippedSamples: readonly SkippedSample[];
}

/** Options of {@link Loader.epoch}. */
export interface EpochOptions {
  /**
   * Resume an interrupted epoch at this batch without decoding the batches before it. Exact
   * when no sample was skipped before that point (`onBadSample: 'throw'`, or a clean dataset).
   * @default 0
   */
  readonly startBatch?: number;
}

/** A batching, prefetching, optionally multi-threaded loader. */
export interface Loader {
  /** Batches per epoch when nothing is skipped. */
  readonly batchesPerEpoch: number;
  /** Running counters. */
  readonly stats: LoaderStats;
  /**
   * The batches of one epoch, in a fixed order for (seed, epoch): the same for any worker count.
   * Breaking out of the loop early discards the work in flight.
   * @throws DenseHybridError as described in {@link createLoader}.
   */
  epoch(epoch: number, options?: EpochOptions): AsyncGenerator<SegmentationBatch, void, undefined>;
  /** Same as `epoch(0)`. */
  [Symbol.asyncIterator](): AsyncGenerator<SegmentationBatch, void, undefined>;
  /** Stops the worker threads; the loader cannot be used afterwards. Idempotent. */
  close(): Promise<void>;
}

/** `v / 255` for every byte (a lookup is faster than dividing and gives the same floats). */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `createLoader: expected ${name} to be an integer ≥ ${min}, got ${describeValue(v)}`,
    );
  }
  return v;
}

/** Fills in {@link DEFAULT_LOADER_OPTIONS} and checks every option. */
function resolveLoaderOptions(
  options: Partial<LoaderOptions> & { readonly dataset: SegmentationDataset },
): LoaderOptions {
  const o = { ...DEFAULT_LOADER_OPTIONS, ...options };
  const { dataset, transform } = o;
  if (typeof dataset !== 'object' || dataset === null || typeof dataset.load !== 'function') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `createLoader: expected dataset to be a SegmentationDataset, got ${describeValue(dataset)}`,
    );
  }
  checkInt('batchSize', o.batchSize, 1);
  checkInt('workers', o.workers, 0);
  checkInt('prefetch', o.prefetch, 0);
  if (!Number.isSafeInteger(o.seed)) checkInt('seed', o.seed, Number.MIN_SAFE_INTEGER);
  if (o.onBadSample !== 'throw' && o.onBadSample !== 'skip') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `createLoader: expected onBadSample to be 'throw' | 'skip', got ${describeValue(o.onBadSample)}`,
    );
  }
  if (
    o.workers > 0 &&
    (dataset.spec === undefined || (transform !== undefined && transform.spec === undefined))
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `createLoader: expected a dataset${transform === undefined ? '' : ' and transform'} with a spec (as this package's adapters and createMixedContentTransform give) for workers: ${o.workers}, got ${dataset.spec === undefined ? `dataset ${dataset.name} without one` : 'a transform without one'}; use workers: 0`,
    );
  }
  return o;
}

/** The sample order of one epoch: `0..size-1`, shuffled (Fisher–Yates) from `(seed, epoch)`. */
function epochOrder(size: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  const idx = Uint32Array.from({ length: size }, (_, i) => i);
  if (!shuffle) return idx;
  const rng = createRng(deriveSeed(seed, epoch, -1));
  for (let i = idx.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx;
}

/** Packs samples of one size into a batch: bytes → floats in [0,1], no label → `ignoreLabel`. */
function assembleBatch(samples: readonly JobSample[], ignoreLabel: number): SegmentationBatch {
  const first = samples[0]!;
  const { width, height } = first;
  const n = samples.length;
  const plane = width * height;
  const images = new Float32Array(n * plane * 3);
  const labels = new Int32Array(n * plane);
  samples.forEach((s, k) => {
    if (s.width !== width || s.height !== height) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `loader: expected every sample of a batch to be ${width}×${height} (as ${first.id}), got ${s.width}×${s.height} for ${s.id}; add a cropping transform`,
      );
    }
    const img = s.image;
    const off = k * plane * 3;
    for (let i = 0; i < plane * 3; i++) images[off + i] = UNIT[img[i]!]!;
    if (s.label === undefined) labels.fill(ignoreLabel, k * plane, (k + 1) * plane);
    else labels.set(s.label, k * plane);
  });
  return { images, labels, batchSize: n, height, width, ids: samples.map((s) => s.id) };
}

/** What the epochs of one loader share. */
interface LoaderState {
  readonly options: LoaderOptions;
  readonly source: SampleSource;
  readonly stats: { delivered: number; skipped: number; skippedSamples: SkippedSample[] };
  readonly isClosed: () => boolean;
}

/**
 * The sample of a good outcome. A bad one throws when it is fatal (a worker failed), under
 * `onBadSample: 'throw'` or after `close()`; otherwise it is counted as skipped (`undefined`).
 */
function acceptOutcome(
  state: LoaderState,
  outcome: JobOutcome,
  epoch: number,
): JobSample | undefined {
  if (outcome.ok) return outcome.sample;
  const err = outcome.error;
  if (outcome.fatal === true || state.options.onBadSample === 'throw' || state.isClosed()) {
    throw new DenseHybridError(
      err.code === 'UNKNOWN' ? 'IO' : err.code,
      outcome.fatal === true ? `loader: worker failed on ${err.id}: ${err.message}` : err.message,
    );
  }
  const { stats } = state;
  stats.skipped++;
  if (stats.skippedSamples.length < 100) {
    stats.skippedSamples.push({ id: err.id, epoch, code: err.code, message: err.message });
  }
  return undefined;
}

/**
 * One epoch's batches: keeps `prefetch + 1` batches of samples in flight, takes their outcomes
 * in order and yields a batch whenever `batchSize` good samples are in.
 */
async function* loadEpoch(
  state: LoaderState,
  epoch: number,
  from: EpochOptions = {},
): AsyncGenerator<SegmentationBatch, void, undefined> {
  if (state.isClosed()) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `loader.epoch: expected an open loader, got one that was closed`,
    );
  }
  checkInt('epoch', epoch, 0);
  const { options: o, source, stats } = state;
  const perm = epochOrder(o.dataset.size, o.seed, epoch, o.shuffle);
  const windowSize = Math.max(1, o.prefetch + 1) * o.batchSize;
  const inflight = new Map<number, Promise<JobOutcome>>();
  const startBatch = checkInt('startBatch', from.startBatch ?? 0, 0);
  let pos = Math.min(perm.length, startBatch * o.batchSize);
  let next = pos;
  let pending: JobSample[] = [];
  try {
    while (pos < perm.length) {
      while (next < perm.length && next < pos + windowSize) {
        inflight.set(next, source.load(epoch, perm[next]!));
        next++;
      }
      const outcome = await inflight.get(pos)!;
      inflight.delete(pos);
      pos++;
      const sample = acceptOutcome(state, outcome, epoch);
      if (sample !== undefined) pending.push(sample);
      if (pending.length === o.batchSize) {
        const batch = assembleBatch(pending, o.dataset.ignoreLabel);
        pending = [];
        stats.delivered += batch.batchSize;
        yield batch;
      }
    }
    if (pending.length > 0 && !o.dropLast) {
      const batch = assembleBatch(pending, o.dataset.ignoreLabel);
      stats.delivered += batch.batchSize;
      yield batch;
    }
  } finally {
    // outcomes never reject; nothing to clean up beyond forgetting them
    inflight.clear();
  }
}

/**
 * Batches a dataset into {@link SegmentationBatch}es (images `Float32Array` `[N,H,W,3]` in [0,1],
 * labels `Int32Array` `[N,H,W]`), decoding and transforming ahead of the consumer, optionally in
 * worker threads. Every sample gets its own generator `createRng(deriveSeed(seed, epoch, index))`
 * and the shuffle is drawn from `(seed, epoch)`, so batches are identical for a given seed
 * whatever the worker count or timing. Samples without labels get `ignoreLabel` everywhere.
 * Worker threads do not keep the process alive while idle; `close()` stops them.
 *
 * @param options - see {@link LoaderOptions}; missing fields take {@link DEFAULT_LOADER_OPTIONS}.
 * @returns a {@link Loader}.
 * @throws DenseHybridError `INVALID_OPTION` for bad options or `workers > 0` with a dataset or
 *   transform lacking a `spec`. While iterating: the bad sample's error (`onBadSample: 'throw'`),
 *   `SHAPE_MISMATCH` when samples of one batch differ in size, or a worker failure.
 * @example
 * ```ts
 * const loader = createLoader({ dataset, transform, batchSize: 16, seed: 1, workers: 2 });
 * for await (const batch of loader.epoch(0)) {
 *   const { images, labels } = toTensors(batch, tf);
 *   // … train, then dispose images and labels
 * }
 * await loader.close();
 * ```
 */
export function createLoader(
  options: Partial<LoaderOptions> & { readonly dataset: SegmentationDataset },
): Loader {
  const o = resolveLoaderOptions(options);
  let closed = false;
  const state: LoaderState = {
    options: o,
    source: createSampleSource(o.dataset, o.transform, o.seed, o.workers),
    stats: { delivered: 0, skipped: 0, skippedSamples: [] },
    isClosed: () => closed,
  };
  const size = o.dataset.size;
  return {
    batchesPerEpoch: o.dropLast ? Math.floor(size / o.batchSize) : Math.ceil(size / o.batchSize),
    stats: state.stats,
    epoch: (epoch, from) => loadEpoch(state, epoch, from),
    [Symbol.asyncIterator]: () => loadEpoch(state, 0),
    async close() {
      closed = true;
      await state.source.close();
    },
  };
}

/** Tensors of one batch; the caller disposes both. */
export interface BatchTensors {
  /** `[N,H,W,3]` float32 in [0,1]. */
  readonly images: tfc.Tensor4D;
  /** `[N,H,W]` int32. */
  readonly labels: tfc.Tensor3D;
}

/**
 * Wraps a batch as tfjs tensors. `tf` is passed in (this package only has a type-only, optional
 * peer dependency on `@tensorflow/tfjs-core`), so the caller's tfjs instance is used.
 *
 * @param batch - a batch from {@link createLoader}.
 * @param tf - the `@tensorflow/tfjs-core` module (or `@tensorflow/tfjs`).
 * @returns two new tensors; **the caller disposes them** (`tf.dispose([images, labels])`).
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * const { images, labels } = toTensors(batch, tf);
 * tf.dispose([images, labels]);
 * ```
 */
export function toTensors(
  batch: SegmentationBatch,
  tf: Pick<typeof tfc, 'tensor4d' | 'tensor3d'>,
): BatchTensors {
  const { batchSize: n, height: h, width: w } = batch;
  if (batch.images.length !== n * h * w * 3 || batch.labels.length !== n * h * w) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `toTensors: expected images of ${n * h * w * 3} and labels of ${n * h * w} values for [${n},${h},${w}], got ${batch.images.length} and ${batch.labels.length}`,
    );
  }
  return {
    images: tf.tensor4d(batch.images, [n, h, w, 3], 'float32'),
    labels: tf.tensor3d(batch.labels, [n, h, w], 'int32'),
  };
}
