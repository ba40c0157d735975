// Registration: explicit calls (no side effects on import; `./register` is the side-effect entry)
export {
  registerTrainingKernels,
  registerTrainingGradients,
  registerWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
  TRAINING_GRADIENTS,
} from './kernels/register.js';
export type {
  RegisterTrainingKernelsResult,
  RegisterTrainingGradientsResult,
  RegisterWasmTrainingKernelsOptions,
  RegisterWasmTrainingKernelsResult,
} from './kernels/register.js';
export { supportedWasmVersion, SUPPORTED_WASM_VERSIONS } from './version.js';

// The kernel names this package adds, and the ops that run them where registered
export { ADAM_KERNEL, BATCH_NORM_KERNELS, RESIZE_BILINEAR_GRAD_KERNEL } from './kernel_names.js';
export { batchNormTraining } from './batch_norm.js';
export type { BatchNormTrainingResult } from './batch_norm.js';
export { resizeBilinearGrad, resizeBilinearGradConfig } from './resize_bilinear_grad.js';
export type { ResizeBilinearGradAttrs } from './resize_bilinear_grad.js';

// SIMD kernel switches and the thread pool
export {
  setWasmSimdKernels,
  setWasmThreads,
  wasmFusedMultiplyAdd,
  wasmThreads,
  wasmThreadsReady,
} from './kernels/simd/options.js';
export type { WasmSimdKernels } from './kernels/simd/options.js';

// The 4 GiB wasm heap
export {
  checkStepMemory,
  estimateStepMemory,
  guardWasmMemory,
  isOutOfMemory,
  microBatchSizes,
  WASM_HEAP_MAX_BYTES,
  DEFAULT_STEP_MEMORY_OPTIONS,
} from './memory.js';
export type {
  StepGeometry,
  StepMemoryModel,
  StepMemoryOptions,
  StepMemoryResult,
} from './memory.js';

// Backend start-up
export {
  initBackend,
  describeBackend,
  BACKEND_NAMES,
  DEFAULT_INIT_BACKEND_OPTIONS,
} from './backend.js';
export type { BackendName, BackendReport, InitBackendOptions } from './backend.js';
export {
  loadWebGpu,
  releaseWebGpu,
  isSoftwareAdapter,
  adapterName,
  DAWN_BACKEND_NAMES,
  DEFAULT_LOAD_WEBGPU_OPTIONS,
} from './backend-webgpu.js';
export type {
  DawnBackendName,
  LoadWebGpuOptions,
  LoadWebGpuResult,
  WebGpuAdapterReport,
} from './backend-webgpu.js';
