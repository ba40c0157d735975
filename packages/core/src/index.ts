export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

// backend setup (issue 2, 10)
export {
  initBackend,
  describeBackend,
  BACKEND_NAMES,
  DEFAULT_INIT_BACKEND_OPTIONS,
} from './backend.js';
export type { BackendName, BackendReport, InitBackendOptions } from './backend.js';
export {
  loadWebGpu,
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

// training kernels (issue 5)
export { registerTrainingKernels } from './kernels/register.js';

// hybrid head, anomaly scores, open-set fusion (issue 4)

// training loop (issue 8)
