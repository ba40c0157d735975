import { jitterFlipCrop } from './augment.js';
import { createLoader } from './loader.js';
import { createMixedContentTransform } from './mixed-content.js';
import type { SampleTransform } from './mixed-content.js';
import type { SegmentationBatch, SegmentationDataset } from './types.js';

/** Options of {@link mixedContentBatches}. */
export interface MixedContentBatchesOptions {
  readonly dataset: SegmentationDataset;
  /** Negatives pasted into every crop with label K (ADE20k); none for plain training. */
  readonly negatives?: SegmentationDataset;
  readonly batchSize: number;
  /** Side of the square inlier crop. */
  readonly cropSize: number;
  readonly seed: number;
  /** Negative patch side (paper: 384 for 768 crops). */
  readonly negativeSize: number;
  /** Total steps. */
  readonly steps: number;
  /** Worker threads decoding images (0: the calling thread). */
  readonly workers: number;
}

/** What {@link mixedContentBatches} returns: the stream for `train` and a way to stop workers. */
export interface MixedContentBatchesResult {
  /** Batch `s` depends only on (seed, s): a resumed run sees the batches of an uninterrupted one. */
  readonly data: (start: number) => AsyncIterable<SegmentationBatch>;
  readonly batchesPerEpoch: number;
  /** Stops the loader's worker threads. */
  close(): Promise<void>;
}

/**
 * The training stream of `densehybrid train` on {@link createLoader}: each image
 * jittered ×U(0.5, 2), flipped, cropped square (padding with the dataset's mean colour and
 * ignore), then one negative pasted with label K (paper sec. 3.2). Step `s` is batch
 * `s mod batchesPerEpoch` of epoch `⌊s / batchesPerEpoch⌋`; resuming starts there directly.
 *
 * @example
 * ```ts
 * const stream = mixedContentBatches({ dataset, negatives, batchSize: 8, cropSize: 512, seed: 1, negativeSize: 256, steps: 1000, workers: 2 });
 * try { await train({ model, data: stream.data, steps: 1000 }); } finally { await stream.close(); }
 * ```
 */
export function mixedContentBatches(
  options: MixedContentBatchesOptions,
): MixedContentBatchesResult {
  const { dataset, negatives, cropSize } = options;
  const crop = {
    cropSize,
    ...(dataset.meanColor ? { meanColor: dataset.meanColor } : {}),
    ignoreLabel: dataset.ignoreLabel,
  };
  const transform: SampleTransform = negatives
    ? createMixedContentTransform(negatives, {
        crop,
        paste: {
          negativeShorterSide: options.negativeSize,
          negativeCropSize: options.negativeSize,
        },
      })
    : { apply: (sample, rng) => jitterFlipCrop(sample, crop, rng).sample };
  const loader = createLoader({
    dataset,
    transform,
    batchSize: options.batchSize,
    seed: options.seed,
    // a transform without a spec (crop only) runs on the calling thread
    workers: negatives ? options.workers : 0,
    dropLast: true,
  });
  const perEpoch = Math.max(1, loader.batchesPerEpoch);
  return {
    batchesPerEpoch: perEpoch,
    close: () => loader.close(),
    data: (start) => ({
      async *[Symbol.asyncIterator]() {
        let step = start;
        for (let epoch = Math.floor(start / perEpoch); step < options.steps; epoch++) {
          const startBatch = epoch === Math.floor(start / perEpoch) ? start % perEpoch : 0;
          for await (const batch of loader.epoch(epoch, { startBatch })) {
            if (step >= options.steps) return;
            // lets Ctrl-C reach the training loop between steps
            await new Promise<void>((resolve) => setImmediate(resolve));
            yield batch;
            step++;
          }
        }
      },
    }),
  };
}
