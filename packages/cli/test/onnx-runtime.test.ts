import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxMetadata } from '@densehybrid/onnx';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { cli, fixtureEvalArgs, fixtureTrainArgs, tempDir } from './helpers.js';
import { makeAde, makeStreetHazards } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let run: string;
let onnx: string;
let image: string;

beforeAll(async () => {
  tmp = await tempDir('dh-cli-onnx-');
  sh = join(tmp.dir, 'streethazards');
  const ade = join(tmp.dir, 'ade');
  run = join(tmp.dir, 'run');
  onnx = join(tmp.dir, 'model.onnx');
  await Promise.all([makeStreetHazards(sh), makeAde(ade)]);
  const r = await cli([...fixtureTrainArgs(sh, ade, run, 2), '--json']);
  if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
  image = join(sh, 'test', 'images', 'test', 't5', '0.png');
}, 120_000);
afterAll(async () => tmp.cleanup());

/** max |a − b| / max(1, max |b|) over two maps. */
function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    s = Math.max(s, Math.abs(b[i] as number));
  }
  return d / Math.max(1, s);
}

describe('densehybrid export', () => {
  it('writes one ONNX file with the checkpoint meta, the contract and the chosen scores', async () => {
    const r = await cli([
      'export',
      '--checkpoint',
      run,
      '--format',
      'onnx',
      '--out',
      onnx,
      '--score',
      'hybrid,max-softmax',
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.out).toBe(onnx);
    expect(result.input).toMatchObject({ layout: 'NHWC', range: [0, 1], dynamic: true });
    const { contract, opset } = readOnnxMetadata(await readFile(onnx));
    expect(opset).toBe(17);
    expect(Object.keys(contract.outputs.scores)).toEqual(['hybrid', 'max-softmax']);
    expect(contract.meta.dataset).toBe('streethazards');
    expect(contract.classNames.length).toBe(contract.numClasses);
    const human = await cli([
      'export',
      '--checkpoint',
      run,
      '--out',
      join(tmp.dir, 'fixed.onnx'),
      '--size',
      '24x32',
      '--scores-only',
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(
      /^wrote .*fixed\.onnx \([\d.]+ MB, ONNX opset 17\): scores hybrid, K=\d+\ninput images: float32 \[N, H, W, 3\] NHWC, RGB in \[0, 1\], fixed 24x32 \(HxW\)\n$/,
    );
  });

  it('refuses bad flags with exit 2 before writing anything', async () => {
    const r = await cli([
      'export',
      '--checkpoint',
      run,
      '--out',
      join(tmp.dir, 'x.onnx'),
      '--score',
      'sml',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--score: expected a comma-separated list of hybrid \| generative/);
    const s = await cli([
      'export',
      '--checkpoint',
      run,
      '--out',
      join(tmp.dir, 'x.onnx'),
      '--size',
      '24',
    ]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--size: expected HxW/);
    const f = await cli([
      'export',
      '--checkpoint',
      run,
      '--out',
      join(tmp.dir, 'x.onnx'),
      '--format',
      'tflite',
    ]);
    expect(f.code).toBe(2);
  });
});

describe('--runtime onnx', () => {
  it('infer: the same score map as the tfjs path, from the .onnx file and from the checkpoint', async () => {
    const outs = {
      tfjs: join(tmp.dir, 'maps-tfjs'),
      file: join(tmp.dir, 'maps-onnx'),
      dir: join(tmp.dir, 'maps-onnx-dir'),
    };
    const a = await cli([
      'infer',
      '--checkpoint',
      run,
      image,
      '--out',
      outs.tfjs,
      '--backend',
      'wasm',
    ]);
    const b = await cli([
      'infer',
      '--runtime',
      'onnx',
      '--checkpoint',
      onnx,
      image,
      '--out',
      outs.file,
      '--threads',
      '1',
    ]);
    const c = await cli([
      'infer',
      '--runtime',
      'onnx',
      '--checkpoint',
      run,
      image,
      '--out',
      outs.dir,
    ]);
    for (const x of [a, b, c]) expect(x.code, x.stderr).toBe(0);
    expect(b.stderr).toMatch(/runtime onnx: ONNX Runtime, cpu execution provider, 1 thread/);
    expect(c.stderr).toMatch(/\(checkpoint exported in memory\)/);
    const ref = await readNpy(join(outs.tfjs, '0.scores.npy'));
    for (const o of [outs.file, outs.dir]) {
      const got = await readNpy(join(o, '0.scores.npy'));
      expect(got.shape).toEqual(ref.shape);
      // float16 files: one float16 step of rounding on top of the runtimes' 1e-4
      expect(relative(got.data as ArrayLike<number>, ref.data as ArrayLike<number>)).toBeLessThan(
        2e-3,
      );
      for (const f of ['heatmap.png', 'overlay.png', 'openset.png'])
        await readFile(join(o, `0.${f}`));
    }
    // the runtime is part of the resume key: a tfjs run does not merge into an ONNX folder
    const mixed = await cli([
      'infer',
      '--checkpoint',
      run,
      image,
      '--out',
      outs.file,
      '--backend',
      'wasm',
    ]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/runtime/);
  });

  it('eval: the same metrics (AP within 0.01 points) and report as the tfjs path', async () => {
    const tfjs = await cli([
      ...fixtureEvalArgs(run, 'streethazards', sh, join(tmp.dir, 'eval-tfjs')),
      '--json',
    ]);
    const ort = await cli([
      ...fixtureEvalArgs(onnx, 'streethazards', sh, join(tmp.dir, 'eval-onnx'), [
        '--runtime',
        'onnx',
      ]).filter((x, i, all) => x !== '--backend' && all[i - 1] !== '--backend'),
      '--json',
    ]);
    expect(tfjs.code, tfjs.stderr).toBe(0);
    expect(ort.code, ort.stderr).toBe(0);
    const [mt, mo] = [JSON.parse(tfjs.stdout), JSON.parse(ort.stdout)];
    expect(mo.frames).toBe(mt.frames);
    expect(mo.context.backend).toBe('onnxruntime cpu');
    for (const k of ['ap', 'auroc', 'fpr'] as const)
      expect(Math.abs(mo.anomaly[k] - mt.anomaly[k]), k).toBeLessThan(1e-4);
    expect(Math.abs(mo.closed.mIoU - mt.closed.mIoU)).toBeLessThan(1e-3);
    const report = await readFile(join(tmp.dir, 'eval-onnx', 'report.md'), 'utf8');
    expect(report).toMatch(/onnxruntime cpu/);
  });

  it('errors: the same messages and exit codes as the tfjs path, and runtime mismatches', async () => {
    const missing = join(tmp.dir, 'nowhere');
    const t = await cli(['infer', '--checkpoint', missing, image, '--out', join(tmp.dir, 'e1')]);
    const o = await cli([
      'infer',
      '--runtime',
      'onnx',
      '--checkpoint',
      missing,
      image,
      '--out',
      join(tmp.dir, 'e2'),
    ]);
    expect([t.code, o.code]).toEqual([1, 1]);
    const last = (text: string) => text.trim().split('\n').pop();
    expect(last(o.stderr)).toBe(last(t.stderr));
    const notExported = await cli([
      'infer',
      '--runtime',
      'onnx',
      '--checkpoint',
      onnx,
      image,
      '--out',
      join(tmp.dir, 'e3'),
      '--score',
      'entropy',
    ]);
    expect(notExported.code).toBe(2);
    expect(notExported.stderr).toMatch(
      /--score: expected scores exported into .*model\.onnx \(hybrid, max-softmax; `densehybrid export --score hybrid,max-softmax,entropy` adds others\), got entropy/,
    );
    const tfjsOnnx = await cli([
      'infer',
      '--checkpoint',
      onnx,
      image,
      '--out',
      join(tmp.dir, 'e4'),
    ]);
    expect(tfjsOnnx.code).toBe(2);
    expect(tfjsOnnx.stderr).toMatch(/got the ONNX file .*model\.onnx \(add --runtime onnx\)/);
    const tf = await cli([
      'infer',
      '--runtime',
      'onnx',
      '--backend',
      'tensorflow',
      '--checkpoint',
      onnx,
      image,
      '--out',
      join(tmp.dir, 'e5'),
    ]);
    expect(tf.code).toBe(2);
    expect(tf.stderr).toMatch(/--backend: expected webgpu, wasm or cpu with --runtime onnx/);
  });
});
