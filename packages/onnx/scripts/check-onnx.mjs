// Dev-only: exports every backbone preset of BACKBONE_NAMES (LDN presets at full size,
// DeepLabV3+ at the test widths unless --full) in both layouts and a fixed-size variant, and runs
// ONNX's checker with strict shape inference on each file (check_onnx.py, python3-onnx).
//   node packages/onnx/scripts/check-onnx.mjs [--full] [--keep <dir>]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BACKBONE_NAMES, createBackbone } from '@densehybrid/backbones';
import { SCORE_NAMES, createDenseHybridModel, datasetPosteriorHead } from '@densehybrid/core';
import { exportOnnx } from '@densehybrid/onnx';

const here = dirname(fileURLToPath(import.meta.url));
const full = process.argv.includes('--full');
const keep = process.argv.indexOf('--keep');
const dir =
  keep >= 0 ? process.argv[keep + 1] : mkdtempSync(join(tmpdir(), 'densehybrid-onnx-check-'));
await tf.setBackend('cpu');
const narrow = {
  deeplabV3Plus: { baseWidth: 16, asppChannels: 32, lowLevelChannels: 16, decoderChannels: 32 },
  deeplabV3PlusWrn38: { widthDivisor: 16 },
};
const files = [];
try {
  for (const name of BACKBONE_NAMES) {
    const named = createBackbone({ name, numClasses: 19, seed: 1 });
    const config = { ...named.config };
    let backbone = named;
    if (!full && narrow[config.architecture]) {
      named.dispose();
      backbone = createBackbone({ ...config, ...narrow[config.architecture] });
    }
    const model = createDenseHybridModel({
      backbone,
      head: datasetPosteriorHead({ channels: backbone.preLogitChannels }),
    });
    for (const [tag, options] of [
      ['nhwc', { scores: [...SCORE_NAMES] }],
      ['nchw', { layout: 'NCHW' }],
      ['fixed', { inputSize: [96, 160], logits: false, posteriorLogits: false }],
    ]) {
      const file = join(dir, `${name}.${tag}.onnx`);
      writeFileSync(file, await exportOnnx(model, options));
      files.push(file);
    }
    model.dispose();
  }
  const env = { ...process.env, PATH: spawnSync('getconf', ['PATH']).stdout.toString().trim() };
  const r = spawnSync('python3', [join(here, 'check_onnx.py'), ...files], {
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exitCode = 1;
} finally {
  if (keep < 0) rmSync(dir, { recursive: true, force: true });
}
