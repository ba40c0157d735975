// Dev-only: compares this package's networks with the PyTorch ones of compare_torch.py (run that
// first). Loads each `<name>.safetensors` with loadWeights (strict names and shapes), runs the
// same input and prints the largest absolute difference of pre-logits and logits.
//   node packages/backbones/scripts/compare_torch.mjs /tmp/cmp
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  decodeSafetensor,
  deeplabV3Plus,
  ladderDenseNet,
  loadWeights,
  readSafetensors,
} from '@densehybrid/backbones';

const dir = process.argv[2] ?? '/tmp/densehybrid-compare';
await tf.setBackend('wasm');
const models = {
  'ldn-tiny': () => ladderDenseNet({ preset: 'tiny', numClasses: 5 }),
  'dlv3-r18': () =>
    deeplabV3Plus({
      encoder: 'resnet18',
      outputStride: 16,
      numClasses: 4,
      baseWidth: 16,
      asppChannels: 32,
      lowLevelChannels: 12,
      decoderChannels: 24,
    }),
  'ldn-121': () => ladderDenseNet({ preset: 'densenet121', numClasses: 19 }),
};
let worst = 0;
for (const [name, make] of Object.entries(models)) {
  const model = make();
  const r = await loadWeights(model, `${dir}/${name}.safetensors`);
  const io = await readSafetensors(`${dir}/${name}.io.safetensors`);
  const get = (k) => {
    const e = io.tensors.get(k);
    return tf.tensor(decodeSafetensor(e), e.shape);
  };
  const x = get('input');
  const out = model.apply(x);
  const diff = (a, b) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  const scale = (t) => tf.max(tf.abs(t)).dataSync()[0];
  const wantPre = get('preLogits');
  const wantLogits = get('logits');
  const dPre = diff(out.preLogits, wantPre) / scale(wantPre);
  const dLogits = diff(out.logits, wantLogits) / scale(wantLogits);
  worst = Math.max(worst, dPre, dLogits);
  console.log(
    `${name}: loaded ${r.loaded} weights (ignored ${r.ignored}), shapes ${JSON.stringify(out.logits.shape)}; ` +
      `max |Δ| / max |ref|: preLogits ${dPre.toExponential(2)}, logits ${dLogits.toExponential(2)}`,
  );
  tf.dispose([x, out.preLogits, out.logits, wantPre, wantLogits]);
  model.dispose();
}
console.log(worst < 1e-4 ? 'OK: matches PyTorch' : `MISMATCH (worst ${worst})`);
process.exit(worst < 1e-4 ? 0 : 1);
