import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { deeplabV3PlusWrn38, ladderDenseNet, deeplabV3Plus } from '@densehybrid/backbones';
await tf.setBackend('cpu');
const m = deeplabV3PlusWrn38({ numClasses: 19 });
for (const [h, w] of [[512, 512], [256, 512], [512, 1024], [768, 1536], [1024, 2048], [1080, 1920], [1200, 1920]]) {
  console.log(h, w, (h*w/1e6).toFixed(2), 'MP GFLOP', (m.flops(h, w) / 1e9).toFixed(1), 'act MB', (m.activationBytes(h, w) / 2 ** 20).toFixed(0), 'B/px', (m.activationBytes(h, w) / h / w).toFixed(0));
}
m.dispose();
