/**
 * A wasm thread-pool worker (Node `worker_threads`): runs shares of convolution jobs over the
 * pool's shared WebAssembly memory and counts them done in the shared control array.
 * Control: [0] shares done (Atomics.notify'd), [1] 1 after an error, [2] workers ready.
 * @internal
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Heap } from './heap.js';
import { runJobShare, type ThreadJob } from './jobs.js';

const { memory, control } = workerData as { memory: Heap['memory']; control: Int32Array };
const heap: Heap = {
  memory,
  shared: true,
  address: () => {
    throw new Error('densehybrid wasm thread: no tensor addresses in a worker');
  },
};

// Ready: the main thread only posts jobs once every worker has loaded.
Atomics.add(control, 2, 1);

parentPort?.on('message', (m: { job: ThreadJob; start: number; end: number }) => {
  try {
    runJobShare(heap, m.job, m.start, m.end);
  } catch (e) {
    Atomics.store(control, 1, 1);
    parentPort?.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
  Atomics.add(control, 0, 1);
  Atomics.notify(control, 0);
});
