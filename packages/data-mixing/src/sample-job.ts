import { DenseHybridError } from '@densehybrid/metrics-openiou';
import type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';
import type { SampleTransform } from './mixed-content.js';
import { createRng, deriveSeed } from './rng.js';
import type { DatasetSample, SegmentationDataset } from './types.js';

/** A decoded, transformed sample in transferable form. */
export interface JobSample {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly image: Uint8Array;
  readonly label?: Uint8Array;
}

/** A failure in transferable form. */
export interface JobError {
  readonly id: string;
  readonly code: DenseHybridErrorCode | 'UNKNOWN';
  readonly message: string;
}

/** Result of one job: never a rejected promise. */
export type JobOutcome =
  | { readonly ok: true; readonly sample: JobSample }
  | { readonly ok: false; readonly error: JobError; readonly fatal?: boolean };

/** Loads sample `index` of `dataset` and applies `transform` with the sample's own generator. */
export async function runSampleJob(
  dataset: SegmentationDataset,
  transform: SampleTransform | undefined,
  seed: number,
  epoch: number,
  index: number,
): Promise<JobOutcome> {
  let id = `#${index}`;
  try {
    id = dataset.sampleId(index);
    let sample: DatasetSample = await dataset.load(index);
    if (transform !== undefined) {
      const rng = createRng(deriveSeed(seed, epoch, index));
      sample = await transform.apply(sample, rng, {
        epoch,
        index,
        dataset: {
          name: dataset.name,
          numClasses: dataset.numClasses,
          ignoreLabel: dataset.ignoreLabel,
          ...(dataset.meanColor === undefined ? {} : { meanColor: dataset.meanColor }),
        },
      });
    }
    if (
      sample.label !== undefined &&
      (sample.label.width !== sample.image.width || sample.label.height !== sample.image.height)
    ) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `loader: sample ${id}: expected label ${sample.image.width}×${sample.image.height}, got ${sample.label.width}×${sample.label.height}`,
      );
    }
    return {
      ok: true,
      sample: {
        id: sample.id,
        width: sample.image.width,
        height: sample.image.height,
        image: sample.image.data,
        ...(sample.label === undefined ? {} : { label: sample.label.data }),
      },
    };
  } catch (e) {
    return { ok: false, error: toJobError(id, e) };
  }
}

/** Converts any thrown value to a transferable error. */
export function toJobError(id: string, e: unknown): JobError {
  return {
    id,
    code: DenseHybridError.is(e) ? e.code : 'UNKNOWN',
    message: e instanceof Error ? e.message : String(e),
  };
}

/** A standalone copy of `a` whose buffer can be transferred. */
export function ownBuffer(a: Uint8Array): Uint8Array {
  return a.byteOffset === 0 &&
    a.byteLength === a.buffer.byteLength &&
    a.buffer instanceof ArrayBuffer
    ? a
    : a.slice();
}
