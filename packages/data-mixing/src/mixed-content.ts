import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  DEEPLAB_JITTER_FLIP_CROP_OPTIONS,
  DEFAULT_JITTER_FLIP_CROP_OPTIONS,
  checkPositiveInt,
  checkProbability,
  jitterFlipCrop,
  type JitterFlipCropOptions,
} from './augment.js';
import { openFromSpec } from './datasets.js';
import {
  DEEPLAB_PASTE_NEGATIVES_OPTIONS,
  DEFAULT_PASTE_NEGATIVES_OPTIONS,
  pasteNegatives,
  type NegativeSource,
  type PasteNegativesOptions,
} from './paste.js';
import type { Rng } from './rng.js';
import type { DatasetSample, ModuleSpec, SegmentationDataset } from './types.js';

/** What a transform knows about the sample it transforms. */
export interface SampleTransformContext {
  readonly epoch: number;
  /** The sample's index in the dataset. */
  readonly index: number;
  readonly dataset: Pick<SegmentationDataset, 'name' | 'numClasses' | 'ignoreLabel' | 'meanColor'>;
}

/**
 * A per-sample transform run by the loader with the sample's own generator
 * (`createRng(deriveSeed(seed, epoch, index))`). With a `spec`, worker threads can rebuild it.
 */
export interface SampleTransform {
  apply(
    sample: DatasetSample,
    rng: Rng,
    context: SampleTransformContext,
  ): DatasetSample | Promise<DatasetSample>;
  readonly spec?: ModuleSpec;
}

/** Options of {@link createMixedContentTransform}. */
export interface MixedContentOptions {
  /** Inlier crop; `meanColor` defaults to the inlier dataset's, else Cityscapes'. @default DEFAULT_JITTER_FLIP_CROP_OPTIONS */
  readonly crop: Partial<JitterFlipCropOptions>;
  /** Negative pasting; `outlierLabel` defaults to the inlier dataset's K. @default DEFAULT_PASTE_NEGATIVES_OPTIONS */
  readonly paste: Partial<PasteNegativesOptions>;
  /** Negatives pasted into each crop. @default 1 */
  readonly negativesPerImage: number;
  /** Probability that a crop receives negatives at all. @default 1 */
  readonly pasteProbability: number;
}

/** Paper defaults: 768² inlier crops, one ADE20k negative (384) per crop. */
export const DEFAULT_MIXED_CONTENT_OPTIONS: MixedContentOptions = {
  crop: DEFAULT_JITTER_FLIP_CROP_OPTIONS,
  paste: DEFAULT_PASTE_NEGATIVES_OPTIONS,
  negativesPerImage: 1,
  pasteProbability: 1,
};

/** The DeepLabV3+ variant: 512² inlier crops, negatives jittered ×U(0.5, 2) and cropped to 192. */
export const DEEPLAB_MIXED_CONTENT_OPTIONS: MixedContentOptions = {
  ...DEFAULT_MIXED_CONTENT_OPTIONS,
  crop: DEEPLAB_JITTER_FLIP_CROP_OPTIONS,
  paste: DEEPLAB_PASTE_NEGATIVES_OPTIONS,
};

/** Everything of {@link createMixedContentTransform} that travels to a worker. */
interface MixedContentSpecArgs {
  readonly negatives: ModuleSpec;
  readonly options: Partial<MixedContentOptions>;
}

/**
 * The paper's training-data transform: {@link jitterFlipCrop} of the inlier, then
 * {@link pasteNegatives} with negatives drawn uniformly from `negatives` (e.g.
 * {@link ade20kNegatives}). Draws happen in a fixed order from the sample's generator, so a seed
 * fixes every sample.
 *
 * @param negatives - the negative dataset (its label = class map, 0 = unlabeled).
 * @param options - see {@link MixedContentOptions}.
 * @returns a transform for {@link createLoader}; worker-capable when `negatives` has a `spec`.
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `EMPTY_SET` for an empty negative set.
 * @example
 * ```ts
 * const ade = await ade20kNegatives({ root: '/data/ADEChallengeData2016' });
 * const transform = createMixedContentTransform(ade, { crop: { cropSize: 512 } });
 * const loader = createLoader({ dataset: cityscapesTrain, transform, batchSize: 8, workers: 2 });
 * ```
 */
export function createMixedContentTransform(
  negatives: SegmentationDataset,
  options: Partial<MixedContentOptions> = {},
): SampleTransform {
  const fn = 'createMixedContentTransform';
  const o = { ...DEFAULT_MIXED_CONTENT_OPTIONS, ...options };
  if (typeof negatives !== 'object' || negatives === null || typeof negatives.load !== 'function') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected negatives to be a SegmentationDataset, got ${describeValue(negatives)}`,
    );
  }
  if (negatives.size < 1) {
    throw new DenseHybridError(
      'EMPTY_SET',
      `${fn}: expected a non-empty negatives dataset, got ${negatives.name} with 0 samples`,
    );
  }
  if (!Number.isInteger(o.negativesPerImage) || o.negativesPerImage < 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected negativesPerImage to be a non-negative integer, got ${describeValue(o.negativesPerImage)}`,
    );
  }
  checkProbability(fn, 'pasteProbability', o.pasteProbability);
  if (o.crop.cropSize !== undefined) checkPositiveInt(fn, 'crop.cropSize', o.crop.cropSize);
  const unlabeled = o.paste.unlabeledValue ?? negatives.ignoreLabel;
  return {
    async apply(sample, rng, context) {
      // draw the negatives first so that their decoding overlaps the inlier crop
      const paste = rng.bernoulli(o.pasteProbability);
      const picks = paste
        ? Array.from({ length: o.negativesPerImage }, () => rng.int(negatives.size))
        : [];
      const loading = Promise.all(picks.map((j) => negatives.load(j)));
      loading.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      const crop = jitterFlipCrop(
        sample,
        {
          meanColor: context.dataset.meanColor ?? DEFAULT_JITTER_FLIP_CROP_OPTIONS.meanColor,
          ignoreLabel: context.dataset.ignoreLabel,
          ...o.crop,
        },
        rng,
      ).sample;
      if (picks.length === 0) return crop;
      const negs: NegativeSource[] = await loading;
      const target =
        crop.label === undefined
          ? {
              ...crop,
              label: {
                data: new Uint8Array(crop.image.width * crop.image.height).fill(
                  context.dataset.ignoreLabel,
                ),
                width: crop.image.width,
                height: crop.image.height,
              },
            }
          : crop;
      return pasteNegatives(
        target,
        negs,
        { outlierLabel: context.dataset.numClasses, unlabeledValue: unlabeled, ...o.paste },
        rng,
      ).sample;
    },
    ...(negatives.spec === undefined
      ? {}
      : {
          spec: {
            module: import.meta.url,
            export: 'openMixedContentTransform',
            args: [{ negatives: negatives.spec, options } satisfies MixedContentSpecArgs],
          },
        }),
  };
}

/**
 * Rebuilds a mixed-content transform from its spec arguments (what worker threads call).
 *
 * @example
 * ```ts
 * const t = await openMixedContentTransform({ negatives: ade.spec!, options: {} });
 * ```
 */
export async function openMixedContentTransform(
  args: MixedContentSpecArgs,
): Promise<SampleTransform> {
  const negatives = await openFromSpec<SegmentationDataset>(args.negatives);
  return createMixedContentTransform(negatives, args.options);
}
