// Dev-only (not run in CI): the wasm heap high-water mark and time of one `deeplabv3plus-wrn38`
// inference at H×W through @densehybrid/core's predict and the hybrid score (random weights;
// the backbones and core packages built). What the README's memory table reports:
//   nice -n 10 node packages/backbones/scripts/wrn38_heap.mjs 1024 2048
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { deeplabV3PlusWrn38 } from '@densehybrid/backbones';
import { createDenseHybridModel, datasetPosteriorHead, hybridScore } from '../../core/dist/index.js'; // by path: backbones must not depend on core
await tf.setBackend('wasm');
const [h, w] = process.argv.slice(2, 4).map(Number);
const heap = () => (tf.backend().wasm.HEAPU8.length / 2 ** 20).toFixed(0);
const backbone = deeplabV3PlusWrn38({ numClasses: 19 });
const model = createDenseHybridModel({
  backbone,
  head: datasetPosteriorHead({ channels: 304, seed: 1 }),
});
const x = tf.randomUniform([1, h, w, 3]);
const t0 = Date.now();
try {
  const p = model.predict(x);
  console.log(`predict ${h}x${w}: ${((Date.now() - t0) / 1000).toFixed(1)} s, heap MB ${heap()}`);
  const s = hybridScore(p.logits, p.posteriorLogits);
  const v = (await s.data())[0];
  console.log(
    `+ hybrid: ${((Date.now() - t0) / 1000).toFixed(1)} s, heap MB ${heap()}, walker act MB ${(backbone.activationBytes(h, w) / 2 ** 20).toFixed(0)}, score0 ${v}`,
  );
  tf.dispose([p.logits, p.posteriorLogits, s]);
} catch (e) {
  console.log(
    `${h}x${w}: FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${String(e).slice(0, 300)}; heap MB ${heap()}`,
  );
}
