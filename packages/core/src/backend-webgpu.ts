/** Options of {@link loadWebGpu}. */
export interface LoadWebGpuOptions {
  /** Accept a software (CPU) adapter such as llvmpipe, lavapipe or SwiftShader. @default false */
  readonly allowSoftwareAdapter?: boolean;
  /** Receives diagnostic lines. */
  readonly log?: (line: string) => void;
}

/**
 * Loads tfjs' WebGPU backend on Dawn (the `webgpu` npm package) in Node.
 * (Issue 10 implements this; until then it reports that the route is not available.)
 */
export async function loadWebGpu(_options: LoadWebGpuOptions): Promise<{
  readonly module: string;
  readonly adapter: { readonly name: string; readonly software: boolean };
}> {
  throw new Error('webgpu backend support is not built yet');
}
