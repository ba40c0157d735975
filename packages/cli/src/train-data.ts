import type { SegmentationDataset } from '@densehybrid/data-mixing';
import { createRng, deriveSeed, jitterFlipCrop, pasteNegatives } from '@densehybrid/data-mixing';
import type { TrainingBatch } from '@densehybrid/core';
import { yieldToEventLoop } from './io.js';

/** Options of {@link mixedContentBatches}. */
export interface MixedContentBatchesOptions {
  readonly dataset: SegmentationDataset;
  /** Negatives pasted into every crop (ADE20k); none for plain training. */
  readonly negatives?: SegmentationDataset;
  readonly batchSize: number;
  readonly cropSize: number;
  readonly seed: number;
  /** Padding colour of crops. */
  readonly meanColor: readonly [number, number, number];
  /** Negative patch side (paper: 384 for 768 crops; scaled with the crop). */
  readonly negativeSize: number;
  /** Total steps. */
  readonly steps: number;
}

/**
 * The training stream: batch `s` depends only on (seed, s), so a resumed run sees the same
 * batches as an uninterrupted one. Each image: jitter ×U(0.5, 2), flip, square crop; then one
 * negative pasted with label K (paper sec. 3.2).
 *
 * @example
 * ```ts
 * const data = mixedContentBatches({ dataset, negatives, batchSize: 8, cropSize: 512, seed: 1, meanColor: [84, 88, 95], negativeSize: 256, steps: 1000 });
 * await train({ model, data, steps: 1000 });
 * ```
 */
export function mixedContentBatches(
  options: MixedContentBatchesOptions,
): (start: number) => AsyncIterable<TrainingBatch> {
  const { dataset, negatives, batchSize, cropSize } = options;
  const K = dataset.numClasses;
  return (start) => ({
    async *[Symbol.asyncIterator]() {
      for (let step = start; step < options.steps; step++) {
        await yieldToEventLoop(); // lets Ctrl-C reach the training loop between steps
        const rng = createRng(deriveSeed(options.seed, step));
        const n = cropSize * cropSize;
        const images = new Float32Array(batchSize * n * 3);
        const labels = new Int32Array(batchSize * n);
        for (let b = 0; b < batchSize; b++) {
          const sample = await dataset.load(rng.int(dataset.size));
          let crop = jitterFlipCrop(
            sample,
            { cropSize, meanColor: options.meanColor, ignoreLabel: dataset.ignoreLabel },
            rng,
          ).sample;
          if (negatives && negatives.size > 0) {
            const neg = await negatives.load(rng.int(negatives.size));
            crop = pasteNegatives(
              crop,
              { image: neg.image, ...(neg.label ? { label: neg.label } : {}), id: neg.id },
              {
                outlierLabel: K,
                negativeShorterSide: options.negativeSize,
                negativeCropSize: options.negativeSize,
              },
              rng,
            ).sample;
          }
          const img = crop.image.data;
          for (let i = 0; i < n * 3; i++) images[b * n * 3 + i] = (img[i] as number) / 255;
          const lab = crop.label?.data;
          for (let i = 0; i < n; i++) labels[b * n + i] = lab ? (lab[i] as number) : 255;
        }
        yield { images, labels, batchSize, height: cropSize, width: cropSize };
      }
    },
  });
}
