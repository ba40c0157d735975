export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

export { exportOnnx, DEFAULT_EXPORT_ONNX_OPTIONS } from './export.js';
export type { ExportOnnxOptions, OnnxExportSource } from './export.js';
export {
  readContract,
  scoreOutputName,
  CONTRACT_KEY,
  FORMAT_KEY,
  ONNX_FORMAT,
  ONNX_FORMAT_VERSION,
  ONNX_OPSET,
  ONNX_IR_VERSION,
  ONNX_LAYOUTS,
} from './contract.js';
export type { OnnxContract, OnnxLayout } from './contract.js';
export { readOnnxMetadata } from './metadata.js';
export type { OnnxMetadata } from './metadata.js';
export { createOnnxDetector, DEFAULT_ONNX_DETECTOR_OPTIONS } from './runtime.js';
export type {
  OnnxDetector,
  OnnxDetectorOptions,
  ExecutionProviderFailure,
  OrtModuleLike,
  OrtSessionLike,
  OrtTensorLike,
} from './runtime.js';
export { loadOnnxDetector, ONNXRUNTIME_NODE_INSTALL } from './node.js';
export type { LoadOnnxDetectorOptions } from './node.js';
