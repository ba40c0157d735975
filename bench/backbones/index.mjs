// Benchmark of @densehybrid/backbones: forward and training-step time per preset at 512×512 on the
// chosen backend, images/s and achieved FLOP/s, against a reference measured in the same run: one
// plain tf.conv2d (3×3, 128→128 channels at 128×128; known FLOPs), forward and forward+backward.
// Efficiency = model FLOP/s ÷ reference FLOP/s (1.0 = as fast per FLOP as one big convolution).
//   node bench/backbones/index.mjs [--size 512] [--batch 1] [--backend wasm|cpu|webgpu]
//        [--presets ldn-tiny,ldn-small,ldn-121,dlv3-r18,dlv3-r50] [--skip-big] [--no-train]
//        [--repeats 2]
// --skip-big drops ldn-121 and dlv3-r50 (6–17 s per training step at 512² on one CPU core).
// Training FLOPs are counted as 3 × forward (forward + input and weight gradients).
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, guardWasmMemory, initBackend } from '@densehybrid/tfjs-wasm-training';
import { deeplabV3Plus, ladderDenseNet } from '@densehybrid/backbones';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const SIZE = Number(opt('size', '512'));
const BATCH = Number(opt('batch', '1'));
const REPEATS = Number(opt('repeats', '2'));
const BACKEND = opt('backend', process.env.DENSEHYBRID_BACKEND ?? 'wasm');
const TRAIN = !argv.includes('--no-train');
const BIG = new Set(['ldn-121', 'dlv3-r50']);
const PRESETS = {
  'ldn-tiny': () => ladderDenseNet({ preset: 'tiny', numClasses: 19 }),
  'ldn-small': () => ladderDenseNet({ preset: 'small', numClasses: 19 }),
  'dlv3-r18': () => deeplabV3Plus({ encoder: 'resnet18', outputStride: 16, numClasses: 19 }),
  // The big presets come last: a step that overflows the 4 GiB wasm heap leaves it unusable.
  'ldn-121': () => ladderDenseNet({ preset: 'densenet121', numClasses: 19 }),
  'dlv3-r50': () => deeplabV3Plus({ encoder: 'resnet50', outputStride: 16, numClasses: 19 }),
};
let selected = opt('presets', Object.keys(PRESETS).join(',')).split(',');
if (argv.includes('--skip-big')) selected = selected.filter((p) => !BIG.has(p));
for (const p of selected)
  if (!(p in PRESETS))
    throw new Error(
      `bench/backbones: unknown preset ${p}; known: ${Object.keys(PRESETS).join(', ')}`,
    );
if (!(SIZE >= 32) || !(BATCH >= 1) || !(REPEATS >= 1))
  throw new Error('bench/backbones: expected --size >= 32, --batch >= 1, --repeats >= 1');

// initBackend loads the backend (webgpu through Dawn included), tfjs' stock gradients and the
// training kernels @densehybrid/tfjs-wasm-training adds (wasm conv backprops, exact resize gradient).
const backendReport = await initBackend({ backend: BACKEND });
const kernels = describeBackend(backendReport);

const sync = async (t) => {
  await (Array.isArray(t) ? Promise.all(t.map((x) => x.data())) : t.data());
};
/** Median wall time (ms) of `run` after one warm-up. */
async function time(run, repeats = REPEATS) {
  await run();
  const ms = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
console.log(
  `backend ${tf.getBackend()}, input ${BATCH}×${SIZE}×${SIZE}×3, median of ${REPEATS} after warm-up; training kernels: ${kernels}`,
);

// --- reference: one plain conv2d of known FLOPs, measured again next to every preset (the
// machine is shared, so a reference taken minutes earlier would drift) ----------------------
const refX = tf.randomNormal([1, 128, 128, 128]);
const refW = tf.variable(tf.randomNormal([3, 3, 128, 128], 0, 0.03));
const refFlops = 2 * 128 * 128 * 9 * 128 * 128;
async function reference() {
  const fwdMs = await time(async () => {
    const y = tf.conv2d(refX, refW, 1, 'same');
    await sync(y);
    y.dispose();
  }, 3);
  let train = NaN;
  try {
    const trainMs = await time(async () => {
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.square(tf.conv2d(refX, refW, 1, 'same'))),
        [refW],
      );
      await sync([value, ...Object.values(grads)]);
      tf.dispose([value, ...Object.values(grads)]);
    }, 3);
    train = (3 * refFlops) / (trainMs / 1000);
  } catch (e) {
    console.log(`reference training step failed: ${e.message.split('\n')[0]}`);
  }
  return { fwd: refFlops / (fwdMs / 1000), train };
}
console.log(
  `reference: conv2d 3×3 128→128 at 128×128 (${fmt(refFlops / 1e9, 2)} GFLOP), forward and forward+backward (3× FLOPs)`,
);

// --- presets ----------------------------------------------------------------------------------
const rows = [];
let heapOverflowed = false;
for (const name of selected) {
  if (heapOverflowed) {
    rows.push({
      preset: name,
      'train ms':
        'skipped: an earlier step overflowed the wasm heap; run it alone (--presets ' + name + ')',
    });
    continue;
  }
  const ref = await reference();
  const model = PRESETS[name]();
  const flops = model.flops(SIZE, SIZE) * BATCH;
  const x = tf.randomUniform([BATCH, SIZE, SIZE, 3]);
  const before = tf.memory().numTensors;
  const fwdMs = await time(async () => {
    const o = model.apply(x);
    await sync([o.preLogits, o.logits]);
    tf.dispose([o.preLogits, o.logits]);
  });
  let trainMs = NaN;
  let trainError = '';
  if (TRAIN) {
    const optimizer = tf.train.adam(1e-4);
    const vars = model.trainableVariables();
    const labels = tf.tidy(() => {
      const [, lh, lw] = model.apply(tf.zeros([1, SIZE, SIZE, 3])).logits.shape;
      return tf.oneHot(
        tf.randomUniform([BATCH, lh, lw], 0, model.numClasses, 'int32'),
        model.numClasses,
      );
    });
    try {
      trainMs = await time(() =>
        guardWasmMemory(
          async () => {
            const loss = optimizer.minimize(
              () =>
                tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }).logits),
              true,
              vars,
            );
            await sync(loss);
            loss.dispose();
          },
          { batchSize: BATCH, height: SIZE, width: SIZE },
        ),
      );
    } catch (e) {
      trainError =
        e.code === 'OUT_OF_MEMORY'
          ? `OUT_OF_MEMORY (the ${tf.getBackend()} heap) at batch ${BATCH} × ${SIZE}²`
          : e.message.split('\n')[0];
      if (e.code === 'OUT_OF_MEMORY') heapOverflowed = true;
    }
    optimizer.dispose();
    labels.dispose();
  }
  const leaked = tf.memory().numTensors - before;
  const fwd = flops / (fwdMs / 1000);
  const train = (3 * flops) / (trainMs / 1000);
  rows.push({
    preset: name,
    params: `${fmt(model.parameterCount() / 1e6, 2)} M`,
    GFLOP: fmt(flops / 1e9, 2),
    'fwd ms': fmt(fwdMs, 0),
    'fwd img/s': fmt((BATCH * 1000) / fwdMs, 2),
    'fwd GFLOP/s': fmt(fwd / 1e9, 1),
    'ref fwd GFLOP/s': fmt(ref.fwd / 1e9, 1),
    'fwd eff': fmt(fwd / ref.fwd, 2),
    'train ms': TRAIN
      ? trainError
        ? `failed: ${trainError.slice(0, 60)}`
        : fmt(trainMs, 0)
      : 'skipped',
    'train img/s': fmt((BATCH * 1000) / trainMs, 2),
    'train GFLOP/s': fmt(train / 1e9, 1),
    'ref train GFLOP/s': fmt(ref.train / 1e9, 1),
    'train eff': fmt(train / ref.train, 2),
    leaked,
  });
  console.log(JSON.stringify(rows[rows.length - 1]));
  x.dispose();
  model.dispose();
}
console.table(rows);
tf.dispose([refX, refW]);
