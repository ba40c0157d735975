/** An 8-bit RGB image, row-major, channels last (`data.length === width * height * 3`). */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * A dense label map, row-major (`data.length === width * height`).
 * Conventions used across densehybrid: classes `0..K-1`, the anomaly / pasted-negative
 * label `K`, ignore `255`.
 */
export interface LabelMap {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** One image with its label map (absent for unlabelled test sets). */
export interface DatasetSample {
  /** Stable id, usually the image path relative to the dataset root. */
  readonly id: string;
  readonly image: RgbImage;
  readonly label?: LabelMap;
  /** Optional instance-id map (`0` = no instance), used for negative masks where a dataset has one. */
  readonly instances?: LabelMap;
}

/**
 * How to rebuild an object in another thread: `(await import(module))[export](...args)`.
 * `args` must survive `structuredClone` (plain data). Datasets and transforms that carry one can
 * be used by the loader's worker threads.
 */
export interface ModuleSpec {
  /** An importable specifier, usually a `file:` URL (`import.meta.url`). */
  readonly module: string;
  /** The exported factory's name (it may return a promise). */
  readonly export: string;
  readonly args: readonly unknown[];
}

/**
 * What labels mean in a dataset:
 * - `semantic`: `0..K-1` known classes, `255` ignore (Cityscapes, StreetHazards train);
 * - `open-set`: `0..K-1` known classes, `K` anomaly, `255` ignore (StreetHazards test);
 * - `anomaly`: `0` inlier, `1` anomaly, `255` ignore (Fishyscapes, SMIYC).
 */
export type LabelKind = 'semantic' | 'open-set' | 'anomaly';

/** A random-access dataset of images and labels, as every adapter returns it. */
export interface SegmentationDataset {
  /** e.g. `streethazards/test/t5`. */
  readonly name: string;
  /** Number of known classes K (0 for `anomaly` datasets without semantic labels). */
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly labelKind: LabelKind;
  /** The label value that is ignored everywhere. @default 255 */
  readonly ignoreLabel: number;
  /** Number of samples. */
  readonly size: number;
  /** The id of sample `index` without loading it. */
  sampleId(index: number): string;
  /** Decodes sample `index`; throws `DenseHybridError` (`IO` / `INVALID_INPUT`) naming the file. */
  load(index: number): Promise<DatasetSample>;
  /** RGB mean colour for padding (0..255), when known. */
  readonly meanColor?: readonly [number, number, number];
  /** How a worker thread reopens this dataset; absent = main thread only. */
  readonly spec?: ModuleSpec;
}

/** A batch ready for a network: images `[N,H,W,3]` in [0,1], labels `[N,H,W]`. */
export interface SegmentationBatch {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
  /** The sample ids in batch order. */
  readonly ids: readonly string[];
}
