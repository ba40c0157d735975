// Issue 16: `infer --raw` writes the model's float32 outputs (logits, posterior logit, score map)
// beside the float16 scores, equal to loadModel().predict on the image as infer reads it; --raw is
// part of infer's resume key; refused with --runtime onnx and --format smiyc.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ladderDenseNet } from '@densehybrid/backbones';
import { hybridScore, loadModel } from '@densehybrid/core';
import { readImage, writePng } from '@densehybrid/data-mixing';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { writeTorchZip } from '../../../test-support/torch-zip.js';
import {
  authorsStateDict,
  perturb,
  rng,
  twoWayHead,
} from '../../../test-support/authors-checkpoint.js';
import { cli, tempDir } from './helpers.js';

const K = 12;
// odd sizes: the logits are upsampled from stride 4/32 to exactly this
const W = 37;
const H = 26;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let model: string;
let png: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await tempDir('dh-infer-raw-');
  const source = ladderDenseNet({ preset: 'tiny', numClasses: K, seed: 5 });
  perturb(source, 3);
  const pt = join(tmp.dir, 'ldn_tiny.pt');
  await writeFile(
    pt,
    writeTorchZip(authorsStateDict(source, twoWayHead(source.preLogitChannels, 7), 'module.')),
  );
  source.dispose();
  model = join(tmp.dir, 'model');
  const r = await cli(['import', pt, '--arch', 'tiny', '--classes', String(K), '--out', model]);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  const next = rng(11);
  png = join(tmp.dir, 'street.png');
  await writePng(png, {
    width: W,
    height: H,
    data: Uint8Array.from({ length: W * H * 3 }, () => Math.floor(next() * 256)),
  });
}, 60_000);
afterAll(async () => tmp.cleanup());

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

describe('densehybrid infer --raw', () => {
  it('writes float32 logits, posterior logit and score equal to loadModel().predict', async () => {
    const out = join(tmp.dir, 'maps');
    const args = ['infer', '--checkpoint', model, png, '--out', out, '--backend', 'cpu'];
    const tensors = tf.memory().numTensors;
    const r = await cli([...args, '--raw']);
    // the forward's tensors and the model's variables are freed
    expect(tf.memory().numTensors).toBe(tensors);
    expect(r.stderr).not.toMatch(/densehybrid infer:/);
    expect(r.code).toBe(0);
    const [logits, post, score, f16] = await Promise.all(
      ['logits', 'posterior-logit', 'hybrid', 'scores'].map((n) =>
        readNpy(join(out, `street.${n}.npy`)),
      ),
    );
    expect([logits!.dtype, post!.dtype, score!.dtype, f16!.dtype]).toEqual([
      '<f4',
      '<f4',
      '<f4',
      '<f2',
    ]);
    expect(logits!.shape).toEqual([H, W, K]);
    expect(post!.shape).toEqual([H, W]);
    expect(score!.shape).toEqual([H, W]);
    expect(f16!.shape).toEqual([H, W]);

    // the reference: the image read as infer reads it, through Detector.predict and hybridScore
    const image = await readImage(png);
    const detector = await loadModel(model);
    const before = tf.memory().numTensors;
    try {
      const ref = tf.tidy(() => {
        const x = tf.div(tf.tensor4d(image.data, [1, H, W, 3], 'float32'), 255) as tf.Tensor4D;
        const { logits: l, posteriorLogits: g } = detector.predict(x);
        return [l.dataSync(), g.dataSync(), hybridScore(l, g).dataSync()] as const;
      });
      expect(tf.memory().numTensors).toBe(before);
      const [l, g, s] = ref;
      // not a constant map: the test can tell the outputs apart
      expect(maxDiff(l, new Float32Array(l.length))).toBeGreaterThan(1e-3);
      expect(maxDiff(logits!.data, l)).toBe(0);
      expect(maxDiff(post!.data, g)).toBe(0);
      expect(maxDiff(score!.data, s)).toBe(0);
      // the float16 file is unchanged by --raw: the float32 score rounded to half precision
      const half = Float32Array.from(s, (v) => Math.fround(v));
      expect(maxDiff(f16!.data, half)).toBeLessThanOrEqual(
        Math.max(...Array.from(s, Math.abs)) * 2 ** -11,
      );
    } finally {
      detector.dispose();
    }
    const record = JSON.parse(await readFile(join(out, 'infer.json'), 'utf8')) as {
      key: Record<string, unknown>;
    };
    expect(record.key['raw']).toBe(true);

    // --raw is in the resume key: a rerun without it is refused naming it
    const again = await cli(args);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /^densehybrid infer: --out .* of another run \(stored vs now: raw differs: true vs none\)/m,
    );
    // with --fresh the raw files of the earlier settings go
    const fresh = await cli([...args, '--fresh']);
    expect(fresh.code).toBe(0);
    await expect(readFile(join(out, 'street.logits.npy'))).rejects.toThrow();
    await expect(readFile(join(out, 'street.scores.npy'))).resolves.toBeTruthy();
  });

  it('refuses --raw with --runtime onnx and with --format smiyc', async () => {
    const base = ['infer', '--checkpoint', model, png, '--out', join(tmp.dir, 'x'), '--raw'];
    const onnx = await cli([...base, '--runtime', 'onnx']);
    expect(onnx.code).toBe(2);
    expect(onnx.stderr).toMatch(
      /^densehybrid infer: --raw: expected --runtime tfjs .*got --runtime onnx$/m,
    );
    const smiyc = await cli([...base, '--format', 'smiyc', '--smiyc-dataset', 'AnomalyTrack-all']);
    expect(smiyc.code).toBe(2);
    expect(smiyc.stderr).toMatch(/^densehybrid infer: --raw: expected --format standard/m);
  });
});
