/**
 * Helpers for kernels written by composing the wasm backend's own registered kernels.
 *
 * A wasm kernel function receives `{ inputs, attrs, backend }` and returns `TensorInfo`s
 * that live on the wasm heap; intermediates are released with `backend.disposeData`.
 * @internal
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

/** The part of `BackendWasm` these kernels use. @internal */
export interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: number,
    values?: tf.backend_util.BackendValues,
  ): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type Attrs = Record<string, unknown>;
type KernelArgs = {
  inputs: Record<string, TensorInfo>;
  attrs: Attrs;
  backend: unknown;
};
type RawKernelFunc = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** The kernel functions captured from the wasm backend before this package overrode any. */
const original = new Map<string, RawKernelFunc>();

/** Remembers the wasm backend's own implementation of `name` (call before overriding it). @internal */
export function captureOriginal(name: string): void {
  if (original.has(name)) return;
  const k = tf.getKernel(name, 'wasm');
  if (k) original.set(name, k.kernelFunc as unknown as RawKernelFunc);
}

/** The wasm backend's own implementation of `name`, if it had one. @internal */
export function originalKernel(name: string): RawKernelFunc | undefined {
  return original.get(name);
}

/**
 * A scope of intermediate wasm tensors: `run` calls a registered wasm kernel and tracks its
 * output, `finishMany(outs)` disposes every tracked tensor except `outs`.
 * @internal
 */
export class WasmScope {
  private readonly owned: TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  /** Runs the registered wasm kernel `name`; the output is disposed by {@link finishMany}. */
  run(name: string, inputs: Record<string, TensorInfo>, attrs: Attrs = {}): TensorInfo {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`densehybrid wasm kernels: the wasm backend has no kernel ${name}`);
    const out = (k.kernelFunc as unknown as RawKernelFunc)({
      inputs,
      attrs,
      backend: this.backend,
    });
    if (Array.isArray(out))
      throw new Error(`densehybrid wasm kernels: ${name} returned several outputs`);
    this.owned.push(out);
    return out;
  }

  /** Runs a captured original kernel (see {@link captureOriginal}). */
  runOriginal(name: string, inputs: Record<string, TensorInfo>, attrs: Attrs): TensorInfo {
    const k = original.get(name);
    if (!k) throw new Error(`densehybrid wasm kernels: no original wasm kernel ${name}`);
    const out = k({ inputs, attrs, backend: this.backend }) as TensorInfo;
    this.owned.push(out);
    return out;
  }

  /** An int32 constant on the wasm heap. */
  int32(values: readonly number[]): TensorInfo {
    const out = this.backend.makeOutput(
      [values.length],
      'int32',
      undefined,
      Int32Array.from(values),
    );
    this.owned.push(out);
    return out;
  }

  /** A float32 tensor on the wasm heap, filled by `fill` (which receives its memory view). */
  float32(shape: number[], fill: (out: Float32Array) => void): TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.owned.push(out);
    fill(this.backend.typedArrayFromHeap(out) as Float32Array);
    return out;
  }

  /** The float32 data of `x`, read in place from the wasm heap (valid until the next allocation). */
  view(x: TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(x) as Float32Array;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    if (shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i])) return x;
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    if (perm.every((p, i) => p === i)) return x;
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  zeros(shape: number[]): TensorInfo {
    return this.run('Fill', {}, { shape, value: 0, dtype: 'float32' });
  }

  /** Disposes every intermediate except those sharing data with `keep`; returns `keep`. */
  finishMany(keep: TensorInfo[]): TensorInfo[] {
    const ids = new Set(keep.map((t) => t.dataId));
    for (const t of this.owned) if (!ids.has(t.dataId)) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
    return keep;
  }

  /** Disposes every intermediate (after an error). */
  abort(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }
}

/**
 * Runs `body` in a fresh {@link WasmScope}, disposing all intermediates but the result, also
 * when `body` throws.
 * @internal
 */
export function withScope(backend: unknown, body: (s: WasmScope) => TensorInfo): TensorInfo {
  return withScopeMany(backend, (s) => [body(s)])[0] as TensorInfo;
}

/** {@link withScope} for kernels with several outputs. @internal */
export function withScopeMany(
  backend: unknown,
  body: (s: WasmScope) => TensorInfo[],
): TensorInfo[] {
  const s = new WasmScope(backend as WasmBackendLike);
  try {
    return s.finishMany(body(s));
  } catch (e) {
    s.abort();
    throw e;
  }
}

/** Explicit per-side padding of a 2-D convolution (may be negative: rows are then cropped). */
export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The conv geometry both backprops need, from tfjs' own `computeConv2DInfo`. @internal */
export function convGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number] | undefined,
  pad: unknown,
  dimRoundingMode: unknown,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    dilations ?? 1,
    pad as 'same',
    dimRoundingMode as 'floor' | undefined,
    depthwise,
  );
}
