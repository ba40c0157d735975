/**
 * Faster wasm `Slice`, `SplitV` and `Concat` (tfjs 4.22's copy the whole input out of the heap
 * per slice, then copy row by row with `subarray().set()`, whose per-call cost dominates for
 * short rows such as the K+1 logits of a pixel): these read the heap in place and copy short
 * runs with a loop.
 * @internal
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { originalKernel, type WasmBackendLike } from './wasm_util.js';
import { rowCopier } from './simd/copy.js';

type Heap = Float32Array | Int32Array | Uint8Array;

/** Copies `n` elements; a loop for short runs (the `set` call costs more than the copy). */
function copyRun(src: Heap, from: number, dst: Heap, to: number, n: number): void {
  if (n >= 32) dst.set(src.subarray(from, from + n), to);
  else for (let i = 0; i < n; i++) dst[to + i] = src[from + i] as number;
}

/** Copies the box `begin`/`size` of `src` (shape `shape`, rank >= 1) to `dst`, contiguously. */
function copyBox(
  src: Heap,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: Heap,
): void {
  const rank = shape.length;
  const strides = [...tf.util.computeStrides(shape as number[]), 1];
  // Merge trailing axes taken whole into one contiguous run.
  let d = rank - 1;
  let inner = 1;
  while (d > 0 && size[d] === shape[d] && begin[d] === 0) inner *= shape[d--] as number;
  const run = (size[d] as number) * inner;
  const base = (begin[d] as number) * (strides[d] as number);
  let count = 1;
  for (let i = 0; i < d; i++) count *= size[i] as number;
  const idx = new Array<number>(d).fill(0);
  for (let r = 0, o = 0; r < count; r++, o += run) {
    let off = base;
    for (let i = 0; i < d; i++)
      off += ((begin[i] as number) + (idx[i] as number)) * (strides[i] as number);
    copyRun(src, off, dst, o, run);
    for (let i = d - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      if ((idx[i] as number) < (size[i] as number)) break;
      idx[i] = 0;
    }
  }
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * The box as rows of equal stride when every axis before the first partial one is taken
 * whole (a split along any axis, most slices of the last axes): `[rows, run, stride, base]`
 * in elements, else `null`.
 */
function uniformRows(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): [number, number, number, number] | null {
  const rank = shape.length;
  let d = rank - 1;
  let inner = 1;
  while (d > 0 && size[d] === shape[d] && begin[d] === 0) inner *= shape[d--] as number;
  let rows = 1;
  for (let i = 0; i < d; i++) {
    if (begin[i] !== 0 || size[i] !== shape[i]) return null;
    rows *= shape[i] as number;
  }
  return [
    rows,
    (size[d] as number) * inner,
    (shape[d] as number) * inner,
    (begin[d] as number) * inner,
  ];
}

function slice(
  backend: WasmBackendLike,
  x: TensorInfo,
  begin: number[],
  size: number[],
): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const box = uniformRows(x.shape, begin, size);
  const bytes = BYTES[x.dtype];
  const copier = box && bytes ? rowCopier(backend) : null;
  if (box && bytes && copier) {
    const [rows, run, stride, base] = box;
    copier.copy(out, 0, x, base * bytes, rows, run * bytes, run * bytes, stride * bytes);
    return out;
  }
  // views after the allocation: growing the heap detaches older views
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

function sliceKernel(args: Parameters<KernelFunc>[0]): TensorInfo {
  const x = args.inputs['x'] as TensorInfo;
  if (x.dtype === 'string' || x.shape.length === 0)
    return (originalKernel('Slice') as unknown as KernelFunc)(args) as TensorInfo;
  const { begin, size } = args.attrs as unknown as {
    begin: number | number[];
    size: number | number[];
  };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return slice(args.backend as WasmBackendLike, x, b as number[], s as number[]);
}

/** @internal */
export const sliceConfig: KernelConfig = {
  kernelName: 'Slice',
  backendName: 'wasm',
  kernelFunc: sliceKernel as KernelFunc,
};

/** @internal */
export const splitVConfig: KernelConfig = {
  kernelName: 'SplitV',
  backendName: 'wasm',
  kernelFunc: ((args) => {
    const x = args.inputs['x'] as TensorInfo;
    if (x.dtype === 'string' || x.shape.length === 0)
      return (originalKernel('SplitV') as unknown as KernelFunc)(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const out = slice(args.backend as WasmBackendLike, x, [...begin], size);
      begin[ax] = (begin[ax] as number) + s;
      return out;
    });
  }) as KernelFunc,
};

/** @internal */
export const concatConfig: KernelConfig = {
  kernelName: 'Concat',
  backendName: 'wasm',
  kernelFunc: ((args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    const first = inputs[0] as TensorInfo;
    const nonEmpty = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (first.dtype === 'string' || nonEmpty.length <= 1)
      return (originalKernel('Concat') as unknown as KernelFunc)(args);
    const backend = args.backend as WasmBackendLike;
    const ax = tf.util.parseAxisParam(
      (args.attrs as { axis: number }).axis,
      first.shape,
    )[0] as number;
    const outShape = tf.backend_util.computeOutShape(
      inputs.map((t) => t.shape),
      ax,
    );
    const out = backend.makeOutput(outShape, first.dtype);
    const outer = tf.util.sizeFromShape(outShape.slice(0, ax));
    const total = tf.util.sizeFromShape(outShape.slice(ax));
    const bytes = BYTES[first.dtype];
    const copier = bytes ? rowCopier(backend) : null;
    if (bytes && copier) {
      let at = 0;
      for (const t of nonEmpty) {
        const run = tf.util.sizeFromShape(t.shape.slice(ax));
        copier.copy(out, at * bytes, t, 0, outer, run * bytes, total * bytes, run * bytes);
        at += run;
      }
      return out;
    }
    const dst = backend.typedArrayFromHeap(out);
    let offset = 0;
    for (const t of nonEmpty) {
      const src = backend.typedArrayFromHeap(t);
      const run = tf.util.sizeFromShape(t.shape.slice(ax));
      for (let b = 0; b < outer; b++) copyRun(src, b * run, dst, b * total + offset, run);
      offset += run;
    }
    return out;
  }) as KernelFunc,
};
