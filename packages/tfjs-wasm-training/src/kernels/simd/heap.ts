/**
 * Access to the wasm backend's heap for this package's SIMD kernels: the backend's
 * `WebAssembly.Memory`, tensor addresses, and run-time assembled modules instantiated over that
 * memory (compiled once per key, instantiated once per memory).
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { FunctionBuilder, V128, wasmModule } from './wasm_asm.js';

/** The parts of the WebAssembly JS API used here (this package compiles without DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The wasm backend's internals these kernels use (tfjs-backend-wasm 4.x). */
interface WasmBackendInternals {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap?: { get(id: object): { memoryOffset: number } | undefined };
}

/** The heap of one wasm backend. @internal */
export interface Heap {
  readonly memory: WasmMemory;
  /** A shared memory (the thread pool's): modules must declare a shared import. */
  readonly shared?: boolean;
  /** The byte address of `t`'s data. */
  address(t: TensorInfo): number;
}

let simdSupported: boolean | undefined;
let relaxedSupported: boolean | undefined;
let fmaAllowed = true;

/**
 * Whether the SIMD kernels use `f32x4.relaxed_madd` (fused multiply-add): where the engine has
 * relaxed SIMD (Node ≥ 22; Node 20 with `--experimental-wasm-relaxed-simd`) unless switched off.
 * @internal
 */
export function fusedMultiplyAdd(): boolean {
  if (!fmaAllowed || !WebAssemblyApi) return false;
  if (relaxedSupported === undefined) {
    const probe = new FunctionBuilder([]);
    const v = probe.local(V128);
    probe.mulAdd(v, v, v, true);
    relaxedSupported = WebAssemblyApi.validate(wasmModule({ probe }));
  }
  return relaxedSupported;
}

/** Allows (default) or forbids fused multiply-add in the SIMD kernels. @internal */
export function allowFusedMultiplyAdd(allowed: boolean): void {
  fmaAllowed = allowed;
}

/** The heap of `backend`, or `null` where it cannot be reached or SIMD is unavailable. @internal */
export function heapAccess(backend: unknown): Heap | null {
  const internals = backend as WasmBackendInternals;
  const memory = internals.wasm?.asm?.memory;
  const ids = internals.dataIdMap;
  if (!WebAssemblyApi || !(memory instanceof WebAssemblyApi.Memory) || !ids) return null;
  // The threaded wasm build (browsers with cross-origin isolation) shares its memory; these
  // modules import an unshared one, so they stand aside there.
  const shared = (globalThis as { SharedArrayBuffer?: abstract new () => unknown })
    .SharedArrayBuffer;
  if (shared && memory.buffer instanceof shared) return null;
  // A one-instruction SIMD function tells whether the engine has WebAssembly SIMD.
  if (simdSupported === undefined) {
    const probe = new FunctionBuilder([]);
    probe.v128Zero().set(probe.local(V128));
    simdSupported = WebAssemblyApi.validate(wasmModule({ probe }));
  }
  if (!simdSupported) return null;
  return {
    memory,
    address(t) {
      const d = ids.get(t.dataId);
      if (!d) throw new Error('densehybrid wasm kernels: tensor data not on the wasm heap');
      return d.memoryOffset;
    },
  };
}

const modules = new Map<string, object>();
const instances = new WeakMap<WasmMemory, Map<string, Record<string, unknown>>>();

/**
 * The exports of the module `key` (built by `build` on first use) instantiated over `heap`.
 * @internal
 */
export function kernelsFor<T>(
  heap: Heap,
  key: string,
  build: () => Record<string, FunctionBuilder>,
): T {
  let perMemory = instances.get(heap.memory);
  if (!perMemory) instances.set(heap.memory, (perMemory = new Map()));
  let exports = perMemory.get(key);
  if (!exports) {
    const api = WebAssemblyApi as WasmApi; // present: heapAccess checked it
    const moduleKey = `${key}${heap.shared ? ':shared' : ''}`;
    let mod = modules.get(moduleKey);
    if (!mod) {
      mod = new api.Module(wasmModule(build(), { sharedMemory: heap.shared ?? false }));
      modules.set(moduleKey, mod);
    }
    exports = new api.Instance(mod, { env: { memory: heap.memory } }).exports;
    perMemory.set(key, exports);
  }
  return exports as unknown as T;
}
