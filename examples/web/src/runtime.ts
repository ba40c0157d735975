/**
 * ONNX Runtime Web for the page. Two builds, each loaded only when needed, both from this page's
 * own `ort/` folder (never a CDN):
 *
 * - `onnxruntime-web/webgpu`: ONNX Runtime's native WebGPU execution provider (the older JSEP
 *   build is deprecated), used where the browser has a WebGPU adapter;
 * - `onnxruntime-web/wasm`: the CPU (wasm) build, the fallback — without WebGPU, or when the
 *   WebGPU build cannot run a model (its CPU kernels cover fewer types, e.g. no float64 Mul).
 */
import type * as Ort from 'onnxruntime-web';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

/** ONNX Runtime Web's API (either build). */
export type OrtModule = typeof Ort;

/** Which execution provider the page asks for. */
export type ExecutionPreference = 'auto' | 'webgpu' | 'wasm';

/** The execution providers' names, for the `?ep=` parameter. */
export const EXECUTION_PREFERENCES: readonly ExecutionPreference[] = ['auto', 'webgpu', 'wasm'];

/** Options of {@link configureRuntime}. */
export interface RuntimeOptions {
  /** wasm threads; more than 1 needs a cross-origin isolated page. @default min(4, cores) when isolated, else 1 */
  readonly threads?: number;
}

let threads = 1;

/**
 * Sets the wasm thread count used by every build loaded afterwards.
 *
 * @returns the thread count used (1 unless the page is cross-origin isolated)
 */
export function configureRuntime(options: RuntimeOptions = {}): number {
  const isolated = globalThis.crossOriginIsolated === true;
  const wanted = options.threads ?? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
  threads = isolated ? wanted : 1;
  return threads;
}

const builds = new Map<'webgpu' | 'wasm', Promise<OrtModule>>();

/** Loads one build (once) and points it at the page's own copy of its wasm files. */
function loadBuild(kind: 'webgpu' | 'wasm'): Promise<OrtModule> {
  let build = builds.get(kind);
  if (build === undefined) {
    // build.mjs resolves these two specifiers to ./ort/ort.{webgpu,wasm}.min.mjs (not bundled)
    build = (
      kind === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm')
    ).then((ort: OrtModule) => {
      ort.env.wasm.wasmPaths = new URL('./ort/', document.baseURI).href;
      ort.env.wasm.numThreads = threads;
      ort.env.logLevel = 'error';
      return ort;
    });
    builds.set(kind, build);
  }
  return build;
}

/** A session, where it runs, and the build it belongs to (its `Tensor` class feeds it). */
export interface LoadedSession {
  readonly session: Ort.InferenceSession;
  readonly backend: 'webgpu' | 'wasm';
  readonly ort: OrtModule;
  /** Why WebGPU was not used, when it was not. */
  readonly notes: readonly string[];
}

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

const message = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * Creates a session for `model`: WebGPU when asked (`'webgpu'`) or available (`'auto'`), else
 * wasm. With `'webgpu'` a missing adapter or a failed WebGPU session is an error, not a fallback.
 *
 * @throws DenseHybridError `BACKEND` for `'webgpu'` without WebGPU; `MODEL_LOAD` when ONNX
 *   Runtime rejects the model
 */
export async function createSession(
  model: Uint8Array,
  preference: ExecutionPreference,
): Promise<LoadedSession> {
  const notes: string[] = [];
  const options: Ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  if (preference !== 'wasm') {
    const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
    let why: string | undefined;
    if (gpu === undefined) why = 'this browser has no WebGPU (navigator.gpu)';
    else {
      const adapter = await gpu.requestAdapter().catch(() => null);
      if (adapter === null || adapter === undefined) why = 'no WebGPU adapter (no usable GPU)';
    }
    if (why === undefined) {
      try {
        const ort = await loadBuild('webgpu');
        // a copy: a failed WebGPU attempt must not leave the bytes detached for the wasm one
        const session = await ort.InferenceSession.create(model.slice(), {
          ...options,
          executionProviders: ['webgpu'],
        });
        return { session, backend: 'webgpu', ort, notes };
      } catch (error) {
        why = `WebGPU session failed: ${message(error)}`;
      }
    }
    if (preference === 'webgpu')
      throw new DenseHybridError(
        'BACKEND',
        `createSession: expected WebGPU (?ep=webgpu), got ${why}`,
      );
    notes.push(`${why}; running on wasm`);
  }
  const ort = await loadBuild('wasm');
  try {
    const session = await ort.InferenceSession.create(model, {
      ...options,
      executionProviders: ['wasm'],
    });
    return { session, backend: 'wasm', ort, notes };
  } catch (error) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `createSession: expected a model ONNX Runtime Web can run, got: ${message(error)}`,
      { cause: error },
    );
  }
}
