/**
 * A wasm thread pool for the SIMD convolution kernels: Node `worker_threads` sharing one
 * `WebAssembly.Memory({ shared: true })`. tfjs' wasm backend keeps its heap unshared in Node, so
 * a job copies its operands into the shared memory, the main thread and the workers each run a
 * share (output rows of a convolution, input-channel blocks of a filter gradient: every output
 * value is computed by one thread in the same order, so results are bit-identical whatever the
 * thread count), and the output is copied back. Workers are `unref`'d: they never keep the
 * process alive. Off (one thread) unless {@link setWasmThreads} asks for more.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Heap } from './heap.js';
import { runJobShare, type ThreadJob } from './jobs.js';

/** Multiply-adds below which a job runs on the calling thread (copies and messages cost more). */
const MIN_MACS = 20_000_000;
/** Largest shared memory a job may need. */
const MAX_SHARED_BYTES = 2 ** 31;
/** How long the main thread waits for a share before giving up. */
const TIMEOUT_MS = 300_000;

interface WorkerLike {
  postMessage(message: unknown): void;
  on(event: string, listener: (value: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface SharedMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface Pool {
  readonly size: number;
  readonly memory: SharedMemory;
  readonly control: Int32Array;
  readonly workers: WorkerLike[];
  readonly heap: Heap;
  error?: string;
}

let pool: Pool | null = null;
let jobs = 0;

/** How many shares have been posted to workers so far (tests check the work is split; they import it from dist, which knip does not follow). @knipignore */
export function threadedJobCount(): number {
  return jobs;
}

type WorkerThreads = { Worker: new (url: URL, options: object) => WorkerLike };
type MemoryCtor = new (d: { initial: number; maximum: number; shared: boolean }) => SharedMemory;

/**
 * Sets the number of threads the wasm SIMD convolutions use (the calling thread included):
 * `1` (the default) runs everything on the calling thread and stops the pool. Node only; where
 * `worker_threads` or shared WebAssembly memory are unavailable the answer is 1.
 * @returns the number of threads now in use
 * @internal
 */
export function setWasmThreads(threads: number): number {
  const wanted = Math.max(1, Math.floor(threads));
  if (pool && pool.size === wanted) return wanted;
  if (pool) {
    for (const w of pool.workers) void w.terminate();
    pool = null;
  }
  if (wanted === 1) return 1;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const wt = proc?.getBuiltinModule?.('worker_threads') as WorkerThreads | undefined;
  const Memory = (globalThis as unknown as { WebAssembly?: { Memory: MemoryCtor } }).WebAssembly
    ?.Memory;
  if (!wt || !Memory || typeof SharedArrayBuffer === 'undefined') return 1;
  const memory = new Memory({ initial: 16, maximum: 65536, shared: true });
  const control = new Int32Array(new SharedArrayBuffer(12));
  const workers: WorkerLike[] = [];
  const created: Pool = {
    size: wanted,
    memory,
    control,
    workers,
    heap: {
      memory: memory as unknown as Heap['memory'],
      shared: true,
      address: () => {
        throw new Error('densehybrid wasm threads: no tensor addresses in the shared memory');
      },
    },
  };
  for (let i = 1; i < wanted; i++) {
    let worker: WorkerLike;
    try {
      worker = new wt.Worker(new URL('./thread_worker.js', import.meta.url), {
        workerData: { memory, control },
      });
    } catch {
      for (const w of workers) void w.terminate();
      return 1; // e.g. bundled without the worker file
    }
    worker.on('message', (m) => {
      const error = (m as { error?: string }).error;
      if (error) created.error = error;
    });
    worker.on('error', (e) => {
      created.error = e instanceof Error ? e.message : String(e);
    });
    worker.unref();
    workers.push(worker);
  }
  pool = created;
  return wanted;
}

/**
 * Resolves once every worker of the pool has loaded (convolutions run on the calling thread
 * until then), or after `timeoutMs`; `true` when the pool is ready (or there is none).
 * @internal
 */
export async function wasmThreadsReady(timeoutMs = 10_000): Promise<boolean> {
  const started = Date.now();
  for (;;) {
    const p = pool;
    if (!p || Atomics.load(p.control, 2) >= p.workers.length) return true;
    if (Date.now() - started > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The number of threads the wasm SIMD convolutions use now. @internal */
export function wasmThreads(): number {
  return pool?.size ?? 1;
}

/** A job as its kernel describes it: float32 operands on the backend's heap. @internal */
export interface ThreadedJobSpec {
  readonly kind: ThreadJob['kind'];
  readonly plan: ThreadJob['plan'];
  readonly inputs: readonly TensorInfo[];
  readonly output: TensorInfo;
  /** whether the output starts at zero (else every byte is written by the job) */
  readonly zeroOutput: boolean;
  readonly heap: Heap;
}

/** `[address, bytes]` of a float32 tensor on `heap`. */
function region(heap: Heap, t: TensorInfo): [number, number] {
  return [heap.address(t), t.shape.reduce((a, b) => a * b, 1) * 4];
}

/**
 * Runs `spec` (`units` shares: conv output rows, filter-gradient channel blocks): across the
 * pool when there is one and the job is large enough to gain, else on the calling thread
 * straight on the backend's heap.
 * @internal
 */
export function runJob(macs: number, units: number, spec: ThreadedJobSpec): void {
  if (!runThreaded(macs, units, spec)) {
    const addresses = [...spec.inputs, spec.output].map((t) => spec.heap.address(t));
    runJobShare(spec.heap, { kind: spec.kind, plan: spec.plan, addresses } as ThreadJob, 0, units);
  }
}

/** {@link runJob} on the pool; `false` (nothing done) when there is none or it would not gain. */
function runThreaded(macs: number, units: number, spec: ThreadedJobSpec): boolean {
  const p = pool;
  if (!p || p.size < 2 || p.error !== undefined || macs < MIN_MACS || units < 2) return false;
  // Until every worker has loaded (tens of ms after the pool starts), run on this thread.
  if (Atomics.load(p.control, 2) < p.workers.length) return false;
  const align = (v: number) => Math.ceil(v / 64) * 64;
  const inputs = spec.inputs.map((t) => region(spec.heap, t));
  const [outHeapAddress, outBytes] = region(spec.heap, spec.output);
  let offset = 64;
  const addresses: number[] = [];
  for (const [, bytes] of inputs) {
    addresses.push(offset);
    offset = align(offset + bytes);
  }
  const outAddress = offset;
  offset = align(offset + outBytes);
  if (offset > MAX_SHARED_BYTES) return false;
  const have = p.memory.buffer.byteLength;
  if (have < offset) p.memory.grow(Math.ceil((offset - have) / 65536));
  const shared = new Uint8Array(p.memory.buffer);
  const heapBytes = new Uint8Array(spec.heap.memory.buffer);
  inputs.forEach(([address, bytes], i) =>
    shared.set(heapBytes.subarray(address, address + bytes), addresses[i] as number),
  );
  if (spec.zeroOutput) shared.fill(0, outAddress, outAddress + outBytes);
  const job = {
    kind: spec.kind,
    plan: spec.plan,
    addresses: [...addresses, outAddress],
  } as ThreadJob;
  const threads = Math.min(p.size, units);
  const bounds = Array.from({ length: threads + 1 }, (_, i) => Math.round((i * units) / threads));
  Atomics.store(p.control, 0, 0);
  for (let t = 1; t < threads; t++)
    (p.workers[t - 1] as WorkerLike).postMessage({ job, start: bounds[t], end: bounds[t + 1] });
  jobs += threads - 1;
  runJobShare(p.heap, job, bounds[0] as number, bounds[1] as number);
  const started = Date.now();
  for (;;) {
    const done = Atomics.load(p.control, 0);
    if (done >= threads - 1) break;
    const left = TIMEOUT_MS - (Date.now() - started);
    if (left <= 0 || Atomics.wait(p.control, 0, done, left) === 'timed-out') {
      p.error ??= `no answer from a worker in ${TIMEOUT_MS / 1000} s`;
      break;
    }
  }
  if (p.error !== undefined || Atomics.load(p.control, 1) !== 0)
    throw new Error(
      `densehybrid wasm threads: a worker failed (${p.error ?? 'unknown error'}); call setWasmThreads(1) to run on one thread`,
    );
  new Uint8Array(spec.heap.memory.buffer).set(
    new Uint8Array(p.memory.buffer, outAddress, outBytes),
    outHeapAddress,
  );
  return true;
}
