/**
 * One share of a convolution job, run by the main thread or a pool worker over the pool's
 * shared memory (see `threads.ts`).
 * @internal
 */
import { convKernels, convRows, type ConvPlan } from './conv_rows.js';
import { filterBlocks, filterKernel, type FilterPlan } from './filter_blocks.js';
import type { Heap } from './heap.js';

/** A job as posted to the workers: byte addresses in the shared memory. */
export type ThreadJob =
  | { readonly kind: 'conv'; readonly plan: ConvPlan; readonly addresses: readonly number[] }
  | { readonly kind: 'filter'; readonly plan: FilterPlan; readonly addresses: readonly number[] };

/** Runs units `[start, end)` of `job` (conv: output rows; filter: input-channel blocks). */
export function runJobShare(heap: Heap, job: ThreadJob, start: number, end: number): void {
  const [a, b, out] = job.addresses as [number, number, number];
  if (job.kind === 'conv') convRows(convKernels(heap, job.plan), job.plan, a, b, out, start, end);
  else filterBlocks(filterKernel(heap, job.plan.fused), job.plan, a, b, out, start, end);
}
