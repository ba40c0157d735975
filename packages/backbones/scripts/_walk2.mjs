import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { deeplabV3PlusWrn38 } from '@densehybrid/backbones';
await tf.setBackend('cpu');
const m = deeplabV3PlusWrn38({ numClasses: 19 });
console.log('walker 64x96', m.flops(64, 96));
