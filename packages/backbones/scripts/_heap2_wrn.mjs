import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { deeplabV3PlusWrn38 } from '@densehybrid/backbones';
await tf.setBackend('wasm');
const heap = () => (tf.backend().wasm.HEAPU8.length / 2 ** 20).toFixed(0);
const m = deeplabV3PlusWrn38({ numClasses: 19 });
const x = tf.randomUniform([1, 48, 64, 3]);
for (let i = 0; i < 4; i++) {
  const t0 = Date.now();
  const o = m.apply(x);
  o.logits.dataSync();
  tf.dispose([o.preLogits, o.logits]);
  console.log(i, Date.now() - t0, 'ms heap', heap(), 'tensors', tf.memory().numTensors, 'MB', (tf.memory().numBytes / 2 ** 20).toFixed(0));
}
