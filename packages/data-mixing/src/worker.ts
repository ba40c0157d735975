// Worker-thread entry of the loader: reopens the dataset and transform from their specs, then
// answers jobs `{ id, epoch, index }` with transferred pixel buffers.
import { parentPort, workerData } from 'node:worker_threads';
import { openFromSpec } from './datasets.js';
import type { SampleTransform } from './mixed-content.js';
import { ownBuffer, runSampleJob, toJobError } from './sample-job.js';
import type { ModuleSpec, SegmentationDataset } from './types.js';

interface WorkerInit {
  readonly dataset: ModuleSpec;
  readonly transform?: ModuleSpec;
  readonly seed: number;
}

interface JobMessage {
  readonly id: number;
  readonly epoch: number;
  readonly index: number;
}

const port = parentPort;
if (port !== null) {
  const init = workerData as WorkerInit;
  const ready = (async () => {
    const dataset = await openFromSpec<SegmentationDataset>(init.dataset);
    const transform =
      init.transform === undefined
        ? undefined
        : await openFromSpec<SampleTransform>(init.transform);
    return { dataset, transform };
  })();
  ready.then(
    () => port.postMessage({ type: 'ready' }),
    (e: unknown) => port.postMessage({ type: 'fatal', error: toJobError('init', e) }),
  );
  const handle = async (
    { dataset, transform }: Awaited<typeof ready>,
    msg: JobMessage,
  ): Promise<void> => {
    const outcome = await runSampleJob(dataset, transform, init.seed, msg.epoch, msg.index);
    if (!outcome.ok) {
      port.postMessage({ type: 'result', id: msg.id, outcome });
      return;
    }
    const image = ownBuffer(outcome.sample.image);
    const label = outcome.sample.label === undefined ? undefined : ownBuffer(outcome.sample.label);
    const sample = { ...outcome.sample, image, ...(label === undefined ? {} : { label }) };
    const transfer: ArrayBuffer[] = [image.buffer as ArrayBuffer];
    if (label !== undefined) transfer.push(label.buffer as ArrayBuffer);
    port.postMessage({ type: 'result', id: msg.id, outcome: { ok: true, sample } }, transfer);
  };
  // Two jobs at a time per worker: one decodes (libuv thread) while the other runs JS; memory
  // stays bounded. Job k starts when job k−2 has finished. If init failed, the 'fatal' message
  // already told the loader; jobs are then dropped.
  const slots: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  let k = 0;
  port.on('message', (msg: JobMessage) => {
    const slot = k++ % slots.length;
    slots[slot] = slots[slot]!.then(() => ready.then((r) => handle(r, msg))).catch(() => undefined);
  });
}
