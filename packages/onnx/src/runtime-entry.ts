/**
 * `@densehybrid/onnx/runtime`: the detector on any ONNX Runtime and the metadata reader, without
 * tfjs, core or Node built-ins (for browsers and bundlers).
 */
export { DenseHybridError } from '@densehybrid/metrics-openiou';
export { createOnnxDetector, DEFAULT_ONNX_DETECTOR_OPTIONS } from './runtime.js';
export type {
  OnnxDetector,
  OnnxDetectorOptions,
  ExecutionProviderFailure,
  OrtModuleLike,
  OrtSessionLike,
  OrtTensorLike,
} from './runtime.js';
export { readOnnxMetadata } from './metadata.js';
export type { OnnxMetadata } from './metadata.js';
export {
  readContract,
  scoreOutputName,
  CONTRACT_KEY,
  FORMAT_KEY,
  ONNX_FORMAT,
  ONNX_FORMAT_VERSION,
  ONNX_OPSET,
  ONNX_LAYOUTS,
} from './contract.js';
export type { OnnxContract, OnnxLayout } from './contract.js';
