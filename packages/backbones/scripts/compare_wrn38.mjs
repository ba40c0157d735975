// Dev-only (not run in CI): compares the `deeplabv3plus-wrn38` preset with the PyTorch module of
// authors_wrn38.py (run `authors_wrn38.py forward <dir>` first; the backbones and core packages
// built). Loads `model.safetensors` with loadWeights (strict) and the converted OOD head
// `head.safetensors` into core's datasetPosteriorHead, then compares, as max |Δ| / max |ref|:
//   - backbone.apply: the 304-ch pre-logits (dec0) and the logits at stride 2, head logit at stride 2
//   - DenseHybridModel.predict (align_corners=True upsampling): logits, posterior logit, hybrid score
//   - with --roundtrip: the same through saveModel → loadModel → Detector.predict
//   - with --import <cmd>: `<cmd> import model.pt --arch deeplabv3plus-wrn38 …` → loadModel → predict
//     (e.g. --import "node packages/cli/dist/bin.js"), when the CLI has the import command.
//   node packages/backbones/scripts/compare_wrn38.mjs /tmp/wrn38 [--roundtrip] [--import <cmd>]
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  decodeSafetensor,
  deeplabV3PlusWrn38,
  loadWeights,
  readSafetensors,
} from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  hybridScore,
  loadModel,
  saveModel,
} from '../../core/dist/index.js'; // by path: backbones must not depend on core

const args = process.argv.slice(2);
const dir = args[0] ?? '/tmp/wrn38';
const roundtrip = args.includes('--roundtrip');
const importCmd = args.includes('--import') ? args[args.indexOf('--import') + 1] : undefined;
await tf.setBackend('wasm');
const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
const io = await readSafetensors(join(dir, 'io.safetensors'));
const get = (k) => {
  const e = io.tensors.get(k);
  return tf.tensor(decodeSafetensor(e), e.shape);
};
const rel = (a, b) =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
const results = {};
let worst = 0;
const check = (name, got, want) => {
  if (JSON.stringify(got.shape) !== JSON.stringify(want.shape))
    throw new Error(`${name}: shape ${got.shape} vs ${want.shape}`);
  const r = rel(got, want);
  results[name] = Number(r.toExponential(2));
  worst = Math.max(worst, r);
};
const seconds = (t0) => Number(((performance.now() - t0) / 1000).toFixed(2));

let t0 = performance.now();
const backbone = deeplabV3PlusWrn38({ numClasses: info.numClasses });
const build = seconds(t0);
const walkerFlops = backbone.flops(info.height, info.width);
t0 = performance.now();
const wb = await loadWeights(backbone, join(dir, 'model.safetensors'));
const head = datasetPosteriorHead({ channels: backbone.preLogitChannels });
const wh = await loadWeights(head.variables, join(dir, 'head.safetensors'));
const load = seconds(t0);
const model = createDenseHybridModel({ backbone, head });
const x = get('input');

t0 = performance.now();
const out = backbone.apply(x);
const forward = seconds(t0);
check('preLogits (dec0, stride 2)', out.preLogits, get('preLogits'));
check('logits (stride 2)', out.logits, get('logitsStride2'));
const g = head.apply(out.preLogits);
check('posterior logit (stride 2)', g, get('oodStride2'));
tf.dispose([out.preLogits, out.logits, g]);

const want = { logits: get('logits'), post: get('posteriorLogits'), hybrid: get('hybrid') };
const compareFull = (prefix, p) => {
  check(`${prefix} logits`, p.logits, want.logits);
  check(`${prefix} posterior logit`, p.posteriorLogits, want.post);
  const s = hybridScore(p.logits, p.posteriorLogits);
  check(`${prefix} hybrid score`, s, want.hybrid);
  tf.dispose([p.logits, p.posteriorLogits, s]);
};
t0 = performance.now();
compareFull('predict', model.predict(x));
const predict = seconds(t0);

if (roundtrip) {
  const tmp = mkdtempSync(join(tmpdir(), 'dh-wrn38-'));
  try {
    t0 = performance.now();
    await saveModel(join(tmp, 'model'), model, { classNames: [], dataset: 'random' });
    const detector = await loadModel(join(tmp, 'model'));
    results.roundtripSeconds = seconds(t0);
    compareFull('saveModel→loadModel', detector.predict(x));
    detector.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
model.dispose();

if (importCmd) {
  const tmp = mkdtempSync(join(tmpdir(), 'dh-wrn38-import-'));
  try {
    t0 = performance.now();
    const cmd = `${importCmd} import ${join(dir, 'model.pt')} --arch deeplabv3plus-wrn38 --classes ${info.numClasses} --out ${join(tmp, 'ckpt')}`;
    const log = execSync(cmd, { encoding: 'utf8' });
    results.importSeconds = seconds(t0);
    results.importLog = log.trim().split('\n').slice(-6);
    const detector = await loadModel(join(tmp, 'ckpt'));
    compareFull('import→loadModel', detector.predict(x));
    detector.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
tf.dispose([x, ...Object.values(want)]);
console.log(
  JSON.stringify(
    {
      size: [info.height, info.width],
      numClasses: info.numClasses,
      flops: { torch: info.convFlops, walker: walkerFlops },
      weights: { backbone: wb.loaded, ignored: wb.ignored, head: wh.loaded },
      seconds: {
        build,
        load,
        forward,
        predict,
        torchFloat64TwoForwards: info.twoForwardsSecondsFloat64,
      },
      relativeError: results,
    },
    null,
    1,
  ),
);
const ok = worst < 1e-4 && walkerFlops === info.convFlops;
console.log(
  ok
    ? 'OK: matches PyTorch'
    : `MISMATCH (worst ${worst}; FLOPs ${walkerFlops} vs ${info.convFlops})`,
);
process.exit(ok ? 0 : 1);
