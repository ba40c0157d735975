import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ladderDenseNet, type LadderDenseNetOptions } from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  disposeCheckpoint,
  hybridScore,
  loadCheckpoint,
  restoreVariables,
} from '@densehybrid/core';
import { runCli } from '@densehybrid/cli';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { demoCommand } from '../src/demo/command.js';
import { DEMO_SCORES, withoutBoundaryBand } from '../src/demo/evaluate.js';
import {
  DEFAULT_DEMO_OPTIONS,
  QUICK_DEMO_OPTIONS,
  demoScenes,
  mixedContentDemoBatches,
  runDemo,
} from '../src/demo/pipeline.js';
import { hybridFindings } from '../src/demo/report.js';
import type { TrackMetrics } from '../src/demo/evaluate.js';

interface DemoMetrics {
  training: Record<
    'closed' | 'denseHybrid',
    { steps: number; history: { step: number; loss: Record<string, number> }[] }
  >;
  tracks: {
    track: string;
    closedMIoU: number;
    scores: Record<
      string,
      { ap: number; fpr95: number; auroc: number; openMIoU: number; threshold: number }
    >;
    hybridWeightSweep: { lambda: number; ap: number; fpr95: number }[];
  }[];
  findings: string[];
}

let root: string;
const cache = () => join(root, 'cache');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-demo-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function demo(argv: string[], signal?: AbortSignal) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    ['demo', '--quick', '--cache', cache(), ...argv],
    {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      isTTY: false,
      cwd: root,
      ...(signal ? { signal } : {}),
    },
    { commands: [demoCommand] },
  );
  return { code, stdout, stderr };
}

describe('densehybrid demo --quick', () => {
  it('builds scenes, trains, evaluates every score on the three tracks and writes the report', async () => {
    const run = await demo(['--out', 'a']);
    expect(run.stderr).not.toMatch(/densehybrid demo:/); // no error line
    expect(run.code).toBe(0);
    const files = await readdir(join(root, 'a'));
    expect(files.sort()).toEqual(
      [
        'example-near-0.png',
        'example-seen-0.png',
        'example-unseen-0.png',
        'metrics.json',
        'pr-near.png',
        'pr-seen.png',
        'pr-unseen.png',
        'report.md',
        'model',
        'train-state-closed',
      ].sort(),
    );
    for (const f of files.filter((x) => x.endsWith('.png'))) {
      const bytes = await readFile(join(root, 'a', f));
      expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    }
    const metrics = JSON.parse(
      await readFile(join(root, 'a', 'metrics.json'), 'utf8'),
    ) as DemoMetrics;
    // training: closed-set stage, then DenseHybrid fine-tuning, with its loss terms; loss went down
    expect(metrics.training.closed.steps).toBe(QUICK_DEMO_OPTIONS.closedSteps);
    expect(metrics.training.denseHybrid.steps).toBe(QUICK_DEMO_OPTIONS.steps);
    const totals = metrics.training.closed.history.map((h) => h.loss['total']!);
    expect(totals).toHaveLength(QUICK_DEMO_OPTIONS.closedSteps!);
    expect(totals[totals.length - 1]).toBeLessThan(totals[0]!);
    expect(metrics.training.denseHybrid.history).toHaveLength(QUICK_DEMO_OPTIONS.steps!);
    expect(Object.keys(metrics.training.denseHybrid.history[0]!.loss).sort()).toEqual([
      'classification',
      'likelihood',
      'posterior',
      'total',
    ]);
    // metrics: three tracks, every score, percentages in range, finite thresholds
    expect(metrics.tracks.map((t) => t.track)).toEqual(['near', 'seen', 'unseen']);
    for (const t of metrics.tracks) {
      expect(Object.keys(t.scores)).toEqual([...DEMO_SCORES]);
      expect(t.closedMIoU).toBeGreaterThanOrEqual(0);
      expect(t.closedMIoU).toBeLessThanOrEqual(100);
      for (const m of Object.values(t.scores)) {
        for (const v of [m.ap, m.fpr95, m.auroc, m.openMIoU]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(100);
        }
        expect(Number.isFinite(m.threshold)).toBe(true);
      }
    }
    // the λ sweep: λ = 1 reproduces the hybrid score's AP
    for (const t of metrics.tracks) {
      const one = t.hybridWeightSweep.find((w) => w.lambda === 1)!;
      expect(one.ap).toBeCloseTo(t.scores['hybrid']!.ap, 0);
    }
    expect(metrics.findings.some((f) => /hybrid AP .* generative/.test(f))).toBe(true);
    // the report has a table row per score and track, and the summary table went to stdout
    const report = await readFile(join(root, 'a', 'report.md'), 'utf8');
    for (const s of DEMO_SCORES)
      expect(report.match(new RegExp(`^\\| ${s} \\|`, 'gm'))).toHaveLength(3);
    expect(report).toMatch(/^\| near \| [\d.]+ \/ [\d.]+ \|/m); // the λ sweep table
    expect(run.stdout).toMatch(
      /score\s+near AP\s+FPR95\s+AUROC\s+oIoU\s+seen AP\s+FPR95\s+AUROC\s+oIoU\s+unseen AP/,
    );
    expect(report).toMatch(/Anomalies: trousers \(Fashion-MNIST trousers\), dresses/);
    expect(run.stdout.split('\n').filter((l) => /^hybrid\s/.test(l))).toHaveLength(1);
  });

  it('pastes only Fashion-MNIST tops and footwear (classes 0, 2, 4, 5, 6, 7, 9) in training, never the unseen trousers, dresses, bags', async () => {
    // the quick demo's scenes, from its cache, with the real glyphs' class ids
    const options = { ...DEFAULT_DEMO_OPTIONS, ...QUICK_DEMO_OPTIONS, cacheDir: cache() };
    const data = await demoScenes(options, () => {});
    const negatives = data.scenes.negatives;
    const drawn = new Set<number>();
    const pixels = new Proxy(negatives.pixels, {
      get(target, key) {
        if (typeof key === 'string' && /^\d+$/.test(key)) drawn.add(Math.floor(Number(key) / 784));
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const scenes = { ...data.scenes, negatives: { ...negatives, pixels } };
    const stream = mixedContentDemoBatches(scenes, 0, { batchSize: 8, seed: 0 });
    for (let i = 0; i < 20; i++) await stream.next();
    await stream.return();
    const classes = new Set([...drawn].map((i) => negatives.classes[i]));
    expect([...classes].sort()).toEqual([0, 2, 4, 5, 6, 7, 9]);
  });

  it('leaves its trained model in <out>/model, which `densehybrid infer --checkpoint <out>` scores with', async () => {
    // the model folder is the DenseHybrid stage's training state: a model file (config format
    // densehybrid/model, version 1), the class names, Adam's state and the step
    const ckpt = await loadCheckpoint(join(root, 'a', 'model'));
    const K = (ckpt.config['backbone'] as { numClasses: number }).numClasses;
    expect(ckpt.config['format']).toBe('densehybrid/model');
    expect(ckpt.config['version']).toBe(1);
    expect(ckpt.meta['classNames']).toHaveLength(K);
    expect(ckpt.meta['step']).toBe(QUICK_DEMO_OPTIONS.steps);
    expect(ckpt.optimizer?.name).toBe('adam');
    expect(ckpt.optimizer?.step).toBe(QUICK_DEMO_OPTIONS.steps);
    // a 32×32 input image
    const side = 32;
    const rgb = Buffer.alloc(side * side * 3);
    for (let i = 0; i < side * side; i++) {
      const x = i % side;
      const y = Math.floor(i / side);
      rgb.set([(x * 8) % 256, (y * 8) % 256, Math.abs(x - y) * 8 > 64 ? 230 : 20], i * 3);
    }
    await sharp(rgb, { raw: { width: side, height: side, channels: 3 } })
      .png()
      .toFile(join(root, 'scene.png'));
    let stderr = '';
    const code = await runCli(
      [
        'infer',
        '--checkpoint',
        join(root, 'a'),
        join(root, 'scene.png'),
        '--out',
        join(root, 'maps'),
        '--threshold',
        '0',
      ],
      { stdout: () => {}, stderr: (t) => (stderr += t), isTTY: false, cwd: root },
    );
    expect(stderr).not.toMatch(/densehybrid infer:/);
    expect(code).toBe(0);
    expect((await readdir(join(root, 'maps'))).sort()).toEqual([
      'infer.json',
      'scene.heatmap.png',
      'scene.openset.png',
      'scene.overlay.png',
      'scene.scores.npy',
    ]);
    // the scores infer wrote are the hybrid score of the checkpoint's model, rebuilt here
    // independently from its config and weights (float16 in the .npy)
    const npy = await readNpy(join(root, 'maps', 'scene.scores.npy'));
    expect(npy.shape).toEqual([side, side]);
    const { architecture, ...backboneOptions } = ckpt.config['backbone'] as {
      architecture: string;
    } & LadderDenseNetOptions;
    expect(architecture).toBe('ladderDenseNet');
    const model = createDenseHybridModel({
      backbone: ladderDenseNet(backboneOptions),
      head: datasetPosteriorHead({
        channels: (ckpt.config['head'] as { channels: number }).channels,
      }),
    });
    try {
      restoreVariables(model.variables, ckpt);
      const expected = tf.tidy(() => {
        const x = tf.div(tf.tensor4d(Float32Array.from(rgb), [1, side, side, 3]), 255);
        const { logits, posteriorLogits } = model.predict(x as tf.Tensor4D);
        return hybridScore(logits, posteriorLogits).dataSync();
      });
      const got = Array.from(npy.data);
      expect(got).toHaveLength(expected.length);
      let worst = 0;
      for (let i = 0; i < got.length; i++) {
        const e = expected[i]!;
        worst = Math.max(worst, Math.abs(got[i]! - e) / Math.max(1, Math.abs(e)));
      }
      expect(worst).toBeLessThan(2e-3);
      expect(new Set(got).size).toBeGreaterThan(1); // a map, not a constant
    } finally {
      model.dispose();
      disposeCheckpoint(ckpt);
    }
  });

  it('an interrupted demo resumes where it stopped and ends with the same training and metrics', async () => {
    const reference = JSON.parse(
      await readFile(join(root, 'a', 'metrics.json'), 'utf8'),
    ) as DemoMetrics;
    const controller = new AbortController();
    const options = {
      ...DEFAULT_DEMO_OPTIONS,
      ...QUICK_DEMO_OPTIONS,
      out: join(root, 'b'),
      cacheDir: cache(),
    };
    const first = await runDemo(options, {
      log: () => {},
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    expect(first.completed).toBe(false);
    expect(first.trainedSteps).toBe(2);
    expect(await readdir(join(root, 'b.partial'))).toContain('train-state-closed');
    const second = await demo(['--out', 'b']);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resuming closed-set training at step 2\/3/);
    const resumed = JSON.parse(
      await readFile(join(root, 'b', 'metrics.json'), 'utf8'),
    ) as DemoMetrics;
    expect(resumed.training.closed).toEqual(reference.training.closed);
    expect(resumed.training.denseHybrid).toEqual(reference.training.denseHybrid);
    expect(resumed.tracks).toEqual(reference.tracks);
  });

  it('refuses to resume an interrupted demo with other settings (exit 2); --fresh starts over', async () => {
    const controller = new AbortController();
    const options = {
      ...DEFAULT_DEMO_OPTIONS,
      ...QUICK_DEMO_OPTIONS,
      out: join(root, 'c'),
      cacheDir: cache(),
    };
    const first = await runDemo(options, {
      log: () => {},
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 1) controller.abort();
      },
    });
    expect(first.completed).toBe(false);
    const other = await demo(['--out', 'c', '--seed', '3']);
    expect(other.code).toBe(2);
    expect(other.stderr.split('\n').filter((l) => l.startsWith('densehybrid'))).toEqual([
      `densehybrid demo: --out ${join(root, 'c')} holds an interrupted demo of another run (stored vs now: seed differs: 0 vs 3); rerun with --fresh to start over`,
    ]);
    const fresh = await demo(['--out', 'c', '--seed', '3', '--fresh']);
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).not.toMatch(/resuming/);
  });

  it('reports bad flags as a one-line usage error', async () => {
    const run = await demo(['--steps', 'many']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('withoutBoundaryBand ignores exactly the pixels within r of the other class', () => {
    // 5×5 image: one anomaly pixel at the centre, one ignore pixel in a corner
    const binary = new Uint8Array(25);
    binary[12] = 1;
    binary[0] = 255;
    const out = withoutBoundaryBand(binary, 5, 1);
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 5; x++) {
        const near = Math.abs(x - 2) <= 1 && Math.abs(y - 2) <= 1;
        expect(out[y * 5 + x], `${x},${y}`).toBe(near || (x === 0 && y === 0) ? 255 : 0);
      }
    }
    // a second image is independent of the first (no band bleeding across images)
    const two = withoutBoundaryBand(Uint8Array.from([...binary, ...new Uint8Array(25)]), 5, 1);
    expect([...two.subarray(25)].every((v) => v === 0)).toBe(true);
  });
});

describe('hybridFindings', () => {
  it('compares with enough decimals that different values never read as equal', () => {
    const m = (ap: number, fpr95: number) => ({
      ap,
      fpr95,
      auroc: 90,
      threshold: 0,
      openMIoU: 50,
      anomalyIoU: 30,
    });
    const scores = Object.fromEntries(DEMO_SCORES.map((s) => [s, m(40, 20)]));
    const track = {
      track: 'near',
      scores: {
        ...scores,
        hybrid: m(44.04, 10.71),
        generative: m(44.31, 10.74),
        discriminative: m(40.7, 14.4),
        'max-softmax': m(52, 10.71),
      },
      hybridWeightSweep: [{ lambda: 1, ap: 44.04, fpr95: 10.71 }],
    } as unknown as TrackMetrics;
    const lines = hybridFindings([track]);
    expect(lines[0]).toBe('near: hybrid AP 44.0 < generative 44.3; FPR95 10.71 ≤ 10.74');
    expect(lines[1]).toBe('near: hybrid AP 44.0 ≥ discriminative 40.7; FPR95 10.7 ≤ 14.4');
    expect(lines[2]).toBe('near: hybrid AP 44.0 < max-softmax 52.0; FPR95 10.7 ≤ 10.7');
    expect(lines[3]).toMatch(/^near: the better component is generative; hybrid is 0\.3 AP below/);
  });
});
