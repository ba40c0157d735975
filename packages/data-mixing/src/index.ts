export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

export type {
  RgbImage,
  LabelMap,
  DatasetSample,
  LabelKind,
  SegmentationDataset,
  SegmentationBatch,
} from './types.js';
