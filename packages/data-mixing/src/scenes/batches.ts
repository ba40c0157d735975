import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { DatasetSample, SegmentationBatch, SegmentationDataset } from '../types.js';
import { drawGlyph, randomPlacement, type SceneCanvas } from './compose.js';
import type { DigitScenes, SceneSplit } from './digit-scenes.js';
import { mixSeed, sceneRng } from './rng.js';

/**
 * A random-access {@link SegmentationDataset} view of one split of the built-in scenes
 * (e.g. for `createLoader` or evaluation). Loading copies the scene.
 *
 * @param scenes the benchmark from {@link buildDigitScenes} / {@link loadDigitScenes}
 * @param split one of its splits, e.g. `scenes.test.near`
 * @returns a dataset with `labelKind` `semantic` (train) or `open-set` (val, test)
 * @example
 * ```ts
 * const test = sceneSplitDataset(scenes, scenes.test.far);
 * const sample = await test.load(0); // { id: 'digit-scenes/test/far/0', image, label }
 * ```
 */
export function sceneSplitDataset(scenes: DigitScenes, split: SceneSplit): SegmentationDataset {
  const px = split.size * split.size;
  const id = (i: number): string => `${split.name}/${i}`;
  return {
    name: split.name,
    numClasses: scenes.numClasses,
    classNames: scenes.classNames,
    labelKind: split.labelKind,
    ignoreLabel: 255,
    size: split.count,
    sampleId: id,
    load(index: number): Promise<DatasetSample> {
      if (!Number.isInteger(index) || index < 0 || index >= split.count) {
        return Promise.reject(
          new DenseHybridError(
            'INVALID_INPUT',
            `sceneSplitDataset(${split.name}).load: expected index in 0..${split.count - 1}, got ${describeValue(index)}`,
          ),
        );
      }
      return Promise.resolve({
        id: id(index),
        image: {
          data: split.images.slice(index * px * 3, (index + 1) * px * 3),
          width: split.size,
          height: split.size,
        },
        label: {
          data: split.labels.slice(index * px, (index + 1) * px),
          width: split.size,
          height: split.size,
        },
      });
    },
  };
}

/** Options of {@link digitSceneBatch} and {@link digitSceneBatches}. */
export interface DigitSceneBatchOptions {
  /** Images per batch. @default 16 */
  readonly batchSize?: number;
  /** Seed of scene order and pasting (independent of the scenes' own seed). @default 0 */
  readonly seed?: number;
  /** Probability that an image gets a pasted negative. @default 1 */
  readonly negativeProbability?: number;
  /** Negatives pasted into an image that gets any. @default 1 */
  readonly negativesPerImage?: number;
}

/** Default options of {@link digitSceneBatch}. */
export const DEFAULT_DIGIT_SCENE_BATCH_OPTIONS = {
  batchSize: 16,
  seed: 0,
  negativeProbability: 1,
  negativesPerImage: 1,
} as const satisfies Required<DigitSceneBatchOptions>;

function resolveBatchOptions(
  fn: string,
  options: DigitSceneBatchOptions,
): Required<DigitSceneBatchOptions> {
  const o = { ...DEFAULT_DIGIT_SCENE_BATCH_OPTIONS, ...options };
  const bad = (name: string, want: string, got: unknown): never => {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.${name} to be ${want}, got ${describeValue(got)}`,
    );
  };
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    bad('batchSize', 'an integer ≥ 1', o.batchSize);
  if (!Number.isInteger(o.seed)) bad('seed', 'an integer', o.seed);
  if (!(o.negativeProbability >= 0 && o.negativeProbability <= 1))
    bad('negativeProbability', 'in [0, 1]', o.negativeProbability);
  if (!Number.isInteger(o.negativesPerImage) || o.negativesPerImage < 0)
    bad('negativesPerImage', 'an integer ≥ 0', o.negativesPerImage);
  return o;
}

/**
 * The mixed-content training batch number `step`: random training scenes with clothing
 * negatives pasted at random positions, scales and colours, labelled K (the anomaly label).
 * A pure function of `(scenes, step, options)`, so a resumed run sees the same batches.
 *
 * @param scenes the benchmark
 * @param step batch index ≥ 0
 * @param options see {@link DigitSceneBatchOptions}
 * @returns a {@link SegmentationBatch}: images in [0, 1], labels `0..K` and 255
 * @throws DenseHybridError `INVALID_OPTION` for bad options or step
 * @example
 * ```ts
 * const batch = digitSceneBatch(scenes, 0, { batchSize: 8 });
 * console.log(batch.images.length); // 8 · 64 · 64 · 3
 * ```
 */
export function digitSceneBatch(
  scenes: DigitScenes,
  step: number,
  options: DigitSceneBatchOptions = {},
): SegmentationBatch {
  const o = resolveBatchOptions('digitSceneBatch', options);
  if (!Number.isInteger(step) || step < 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `digitSceneBatch: expected step to be an integer ≥ 0, got ${describeValue(step)}`,
    );
  }
  const train = scenes.train;
  const size = train.size;
  const px = size * size;
  const images = new Float32Array(o.batchSize * px * 3);
  const labels = new Int32Array(o.batchSize * px);
  const ids: string[] = [];
  const image = new Uint8Array(px * 3);
  const label = new Uint8Array(px);
  const canvas: SceneCanvas = { size, image, label };
  const rng = sceneRng(mixSeed(o.seed, 0x5eed, step));
  const sideRange = scenes.options.glyphSide;
  for (let b = 0; b < o.batchSize; b++) {
    const index = rng.int(0, train.count - 1);
    image.set(train.images.subarray(index * px * 3, (index + 1) * px * 3));
    label.set(train.labels.subarray(index * px, (index + 1) * px));
    let pasted = 0;
    if (rng.next() < o.negativeProbability) {
      for (let k = 0; k < o.negativesPerImage; k++) {
        const neg = rng.int(0, scenes.negatives.count - 1);
        const place = randomPlacement(rng, size, neg, sideRange, 'solid', scenes.anomalyLabel);
        drawGlyph(canvas, scenes.negatives, place);
        pasted++;
      }
    }
    for (let i = 0; i < px * 3; i++) images[b * px * 3 + i] = (image[i] ?? 0) / 255;
    for (let i = 0; i < px; i++) labels[b * px + i] = label[i] ?? 0;
    ids.push(`${train.name}/${index}${pasted ? `+neg${pasted}` : ''}`);
  }
  return { images, labels, batchSize: o.batchSize, height: size, width: size, ids };
}

/**
 * An endless async stream of {@link digitSceneBatch}es starting at `startStep` (what a
 * training loop resuming at step s asks for).
 *
 * @example
 * ```ts
 * for await (const batch of digitSceneBatches(scenes, 0, { batchSize: 16 })) { … break; }
 * ```
 */
export async function* digitSceneBatches(
  scenes: DigitScenes,
  startStep = 0,
  options: DigitSceneBatchOptions = {},
): AsyncGenerator<SegmentationBatch, void, undefined> {
  resolveBatchOptions('digitSceneBatches', options);
  for (let step = startStep; ; step++) {
    yield digitSceneBatch(scenes, step, options);
    // give the event loop a turn (progress output, abort signals)
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
