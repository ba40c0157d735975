// Where the loader's samples are decoded: on the calling thread, or in a pool of worker threads.
import { Worker } from 'node:worker_threads';
// sharp's native library must be loaded by the main thread before worker threads use it (glibc
// Linux would otherwise unload it while a worker still runs)
import 'sharp';
import type { SampleTransform } from './mixed-content.js';
import { runSampleJob, type JobError, type JobOutcome } from './sample-job.js';
import type { SegmentationDataset } from './types.js';

/** Samples decoded concurrently on the calling thread when `workers` is 0. */
const IN_PROCESS_JOBS = 2;

interface Pending {
  readonly resolve: (o: JobOutcome) => void;
  readonly id: string;
}

/** One worker thread and its bookkeeping. */
class LoaderWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  inFlight = 0;
  private readonly pending = new Map<number, Pending>();
  private dead: JobError | undefined;

  constructor(init: unknown) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: init,
      // `--input-type` (from `node --input-type=module -e …`) would make the worker refuse its file
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    });
    let markReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => {
      markReady = resolve;
      this.worker.on(
        'message',
        (msg: { type: string; id?: number; outcome?: JobOutcome; error?: JobError }) => {
          if (msg.type === 'ready') {
            this.worker.unref();
            resolve();
          } else if (msg.type === 'fatal') {
            this.fail(msg.error!);
            resolve();
          } else if (msg.type === 'result') {
            const p = this.pending.get(msg.id!);
            if (p === undefined) return;
            this.pending.delete(msg.id!);
            this.inFlight--;
            if (this.inFlight === 0) this.worker.unref();
            p.resolve(msg.outcome!);
          }
        },
      );
    });
    this.worker.on('error', (e) => {
      this.fail({ id: 'worker', code: 'UNKNOWN', message: e.message });
      markReady();
    });
    this.worker.on('exit', (code) => {
      this.fail({ id: 'worker', code: 'UNKNOWN', message: `worker thread exited (code ${code})` });
      markReady();
    });
  }

  private fail(error: JobError): void {
    this.dead ??= error;
    for (const [, p] of this.pending) {
      p.resolve({ ok: false, error: { ...error, id: p.id }, fatal: true });
    }
    this.pending.clear();
    this.inFlight = 0;
  }

  run(jobId: number, epoch: number, index: number, id: string): Promise<JobOutcome> {
    return this.ready.then(
      () =>
        new Promise<JobOutcome>((resolve) => {
          if (this.dead !== undefined) {
            resolve({ ok: false, error: { ...this.dead, id }, fatal: true });
            return;
          }
          this.pending.set(jobId, { resolve, id });
          if (this.inFlight === 0) this.worker.ref();
          this.inFlight++;
          this.worker.postMessage({ id: jobId, epoch, index });
        }),
    );
  }
}

/** Decodes and transforms samples by (epoch, index); outcomes never reject. */
export interface SampleSource {
  /** Starts decoding sample `index` of `epoch`. */
  load(epoch: number, index: number): Promise<JobOutcome>;
  /** Stops the worker threads (a later `load` starts new ones). */
  close(): Promise<void>;
}

/**
 * On the calling thread (`workers` 0): at most {@link IN_PROCESS_JOBS} decodes at once, which
 * overlaps I/O with JS work and bounds the memory.
 */
function inProcessSource(
  dataset: SegmentationDataset,
  transform: SampleTransform | undefined,
  seed: number,
): SampleSource {
  let queue: Promise<void> = Promise.resolve();
  const slots: Promise<JobOutcome>[] = [];
  return {
    load(epoch, index) {
      const job = queue.then(() => runSampleJob(dataset, transform, seed, epoch, index));
      slots.push(job);
      if (slots.length >= IN_PROCESS_JOBS) {
        const oldest = slots.shift()!;
        queue = oldest.then(() => undefined);
      }
      return job;
    },
    close: () => Promise.resolve(),
  };
}

/**
 * A pool of `workers` threads, started on the first `load`; each job goes to the least busy
 * thread. The dataset and transform are reopened there from their specs.
 */
function workerPoolSource(
  dataset: SegmentationDataset,
  transform: SampleTransform | undefined,
  seed: number,
  workers: number,
): SampleSource {
  let pool: LoaderWorker[] | undefined;
  let jobCounter = 0;
  return {
    load(epoch, index) {
      pool ??= Array.from(
        { length: workers },
        () =>
          new LoaderWorker({
            dataset: dataset.spec,
            seed,
            ...(transform === undefined ? {} : { transform: transform.spec }),
          }),
      );
      let best = pool[0]!;
      for (const w of pool) if (w.inFlight < best.inFlight) best = w;
      let id = `#${index}`;
      try {
        id = dataset.sampleId(index);
      } catch {
        // the worker reports the bad index
      }
      return best.run(jobCounter++, epoch, index, id);
    },
    async close() {
      const ws = pool ?? [];
      pool = undefined;
      await Promise.all(ws.map((w) => w.worker.terminate()));
    },
  };
}

/**
 * The loader's sample source: the calling thread for `workers` 0, else a worker pool (the caller
 * has checked that `dataset` and `transform` carry specs).
 */
export function createSampleSource(
  dataset: SegmentationDataset,
  transform: SampleTransform | undefined,
  seed: number,
  workers: number,
): SampleSource {
  return workers === 0
    ? inProcessSource(dataset, transform, seed)
    : workerPoolSource(dataset, transform, seed, workers);
}
