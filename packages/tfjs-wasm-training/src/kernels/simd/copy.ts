/**
 * A strided copy on the wasm heap: `rows` runs of `bytes` bytes, `srcStride`/`dstStride` bytes
 * apart, each one `memory.copy` (bulk memory) from inside WebAssembly: the per-run cost of a
 * JavaScript `TypedArray.set` or loop dominates for the short runs of a channel-axis
 * concatenation or split.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { heapAccess, kernelsFor } from './heap.js';
import { FunctionBuilder, I32 } from './wasm_asm.js';

type CopyFn = (
  dst: number,
  src: number,
  rows: number,
  bytes: number,
  dstStride: number,
  srcStride: number,
) => void;

function buildCopy(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [DST, SRC, ROWS, BYTES, DSTRIDE, SSTRIDE] = [0, 1, 2, 3, 4, 5] as const;
  f.block(() => {
    f.get(ROWS).eqz().brIf(0);
    f.loop(() => {
      f.get(DST).get(SRC).get(BYTES).memoryCopy();
      f.get(DST).get(DSTRIDE).add().set(DST);
      f.get(SRC).get(SSTRIDE).add().set(SRC);
      f.get(ROWS).i32(1).sub().tee(ROWS).brIf(0);
    });
  });
  return f;
}

/** Copies a strided run of rows between two tensors' data (element offsets given in bytes). */
export interface RowCopier {
  copy(
    dst: TensorInfo,
    dstOffset: number,
    src: TensorInfo,
    srcOffset: number,
    rows: number,
    bytes: number,
    dstStride: number,
    srcStride: number,
  ): void;
}

/** The row copier over `backend`'s heap, or `null` where the heap cannot be reached. @internal */
export function rowCopier(backend: unknown): RowCopier | null {
  const heap = heapAccess(backend);
  if (!heap) return null;
  const { copy } = kernelsFor<{ copy: CopyFn }>(heap, 'copy', () => ({ copy: buildCopy() }));
  return {
    copy(dst, dstOffset, src, srcOffset, rows, bytes, dstStride, srcStride) {
      if (rows === 0 || bytes === 0) return;
      copy(
        heap.address(dst) + dstOffset,
        heap.address(src) + srcOffset,
        rows,
        bytes,
        dstStride,
        srcStride,
      );
    },
  };
}
