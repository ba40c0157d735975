import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { deeplabV3PlusWrn38 } from '@densehybrid/backbones';
await tf.setBackend('wasm');
const [h, w] = process.argv.slice(2).map(Number);
const heap = () => tf.backend().wasm.HEAPU8.length / 2 ** 20;
const m = deeplabV3PlusWrn38({ numClasses: 19 });
console.log('after build: heap MB', heap().toFixed(0), 'tensors MB', (tf.memory().numBytes / 2 ** 20).toFixed(0));
const x = tf.randomUniform([1, h, w, 3]);
const t0 = Date.now();
try {
  const o = m.apply(x);
  const v = o.logits.dataSync()[0];
  console.log(`${h}x${w}: ${((Date.now() - t0) / 1000).toFixed(1)} s, heap MB ${heap().toFixed(0)}, walker act MB ${(m.activationBytes(h, w) / 2 ** 20).toFixed(0)}, logit0 ${v}`);
  tf.dispose([o.preLogits, o.logits]);
} catch (e) {
  console.log(`${h}x${w}: FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${String(e).slice(0, 300)}; heap MB ${heap().toFixed(0)}`);
}
