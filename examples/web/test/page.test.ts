// The page in a real headless Chromium (Debian's `chromium`, driven by playwright-core, which
// downloads nothing when given the binary): it loads a model, gets a fixture image through the
// file input or a drop event, and its score map is read back from `window.__densehybrid` and
// compared with a reference computed outside the browser. Skips, saying why, without Chromium.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BACKBONE_NAMES, ladderDenseNet } from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  loadModel,
  saveModel,
} from '@densehybrid/core';
import type { Detector, ScoreResult } from '@densehybrid/core';
import { readImage, writePng } from '@densehybrid/data-mixing';
import { openSetPrediction } from '@densehybrid/metrics-openiou';
import { exportOnnx, loadOnnxDetector } from '@densehybrid/onnx';
// the ONNX parity test's preset configs (LDN presets full size, DeepLab / WRN-38 at reduced
// widths) and its calibrated weights: the same models as the Node parity, here in the browser
import {
  calibratedModel,
  testBackboneConfig,
  testImage,
  tfjsReference,
} from '../../../packages/onnx/test/helpers.js';
import { buildPage } from '../build.mjs';
import { startServer } from '../serve.mjs';
import type { PageApi } from '../src/main.js';

const HERE = import.meta.dirname;
const FIXTURES = join(HERE, 'fixtures');
/** Where the screenshot goes (CI keeps it as an artifact). */
const SCREENSHOT = resolve(HERE, '../../../artifacts/web-screenshot.png');

/** Chromium: `CHROMIUM_PATH`, else `chromium` (Debian), `chromium-browser` or `google-chrome` on PATH. */
function findChromium(): string | undefined {
  const env = process.env['CHROMIUM_PATH'];
  if (env) return existsSync(env) ? env : undefined;
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const name of ['chromium', 'chromium-browser', 'google-chrome'])
    for (const dir of [...dirs, '/usr/bin'])
      if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}
const CHROMIUM = findChromium();
if (CHROMIUM === undefined)
  console.warn(
    'examples/web page tests SKIPPED: no Chromium found (install it: apt-get install -y chromium; or set CHROMIUM_PATH)',
  );

/** The test image (the same formula as scripts/make-fixture-model.py), 40×24. */
const W = 40;
const H = 24;
function fixtureImage(): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      data.set(
        [(x * 37 + y * 11) % 256, (x * 5 + y * 23) % 256, (x * y * 7 + 50) % 256],
        (y * W + x) * 3,
      );
  return { data, width: W, height: H };
}

/** Class names of the tiny checkpoint. */
const CLASSES = ['road', 'car', 'sky'];

/**
 * A tiny LDN checkpoint in `dir` with random-looking weights (batch-norm statistics included, so
 * the exported graph's folded batch norms are exercised), loaded back as a detector.
 */
async function tinyCheckpoint(dir: string): Promise<Detector> {
  const backbone = ladderDenseNet({
    preset: 'tiny',
    numClasses: CLASSES.length,
    seed: 0,
    growthRate: 4,
    blockConfig: [1, 1, 1, 1],
    numInitFeatures: 8,
    sppSize: 8,
    sppGrids: [2, 1],
    upSizes: [8, 8, 8],
  });
  const model = createDenseHybridModel({
    backbone,
    head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: 1 }),
  });
  let i = 0;
  for (const [name, v] of model.variables) {
    if (v.dtype !== 'float32') continue;
    i++;
    const noise = tf.randomNormal(v.shape, 0, 0.2, 'float32', 100 + i);
    // variances stay positive
    v.assign(tf.tidy(() => (/var/.test(name) ? tf.add(tf.abs(noise), 0.5) : tf.add(v, noise))));
    noise.dispose();
  }
  await saveModel(dir, model, { classNames: CLASSES, dataset: 'fixture' });
  model.dispose();
  return loadModel(dir);
}

/** max |a − b| / max |b|: the maps' agreement relative to their scale. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

type Shown = NonNullable<PageApi['result']>;
interface ReadBack {
  status: PageApi['status'];
  error: string | undefined;
  backend: PageApi['backend'];
  notes: string[];
  result:
    | (Omit<Shown, 'scores' | 'closed' | 'labels'> & {
        scores: number[];
        closed: number[];
        labels: number[];
      })
    | undefined;
}

describe.skipIf(CHROMIUM === undefined)('the page in headless Chromium', () => {
  let work: string;
  let site: string;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startServer>>;
  let imagePath: string;
  let reference: ScoreResult;
  let storedThreshold: number;
  const external: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'densehybrid-web-'));
    site = join(work, 'site');
    await buildPage({ outdir: site, minify: false });
    await mkdir(join(site, 'models'));
    for (const f of ['tiny.onnx', 'tiny-nhwc.onnx', 'tiny-nometa.onnx'])
      await copyFile(join(FIXTURES, f), join(site, 'models', f));
    imagePath = join(work, 'fixture.png');
    await writePng(imagePath, fixtureImage());
    // Node's reference: tfjs (cpu backend) on the checkpoint the ONNX files are exported from
    await tf.setBackend('cpu');
    const detector = await tinyCheckpoint(join(work, 'checkpoint'));
    try {
      reference = await detector.score(await readImage(imagePath), 'hybrid');
      // a calibrated threshold between two of the reference's scores (no pixel sits on it)
      const sorted = Float32Array.from(reference.scores).sort();
      const k = Math.floor(0.7 * sorted.length);
      storedThreshold = ((sorted[k] as number) + (sorted[k + 1] as number)) / 2;
      const meta = {
        ...detector.meta,
        threshold: {
          value: storedThreshold,
          thresholdRule: 'greater' as const,
          score: 'hybrid' as const,
          tpr: 0.95,
          tprReached: 0.95,
          fpr: 0.1,
          fprRule: 'at-least' as const,
          calibratedOn: 'fixture (1 image)',
        },
      };
      // the default export (NHWC, dynamic height and width) and an NCHW one of fixed size
      await writeFile(join(site, 'models', 'exported.onnx'), await exportOnnx(detector, { meta }));
      await writeFile(
        join(site, 'models', 'exported-nchw-fixed.onnx'),
        await exportOnnx(detector, { meta, layout: 'NCHW', inputSize: [H, W] }),
      );
    } finally {
      detector.dispose();
    }
    server = await startServer({ dir: site, port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM as string,
      // WebGPU on SwiftShader (a CPU Vulkan), so that the WebGPU path runs without a GPU
      args: [
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        '--enable-features=Vulkan',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function open(query: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    page.on('request', (r) => {
      if (
        !r.url().startsWith(server.url) &&
        !r.url().startsWith('data:') &&
        !r.url().startsWith('blob:')
      )
        external.push(r.url());
    });
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(`${server.url}?${query}`);
    return page;
  }

  async function settle(page: Page, ...states: PageApi['status'][]): Promise<ReadBack> {
    await page.waitForFunction(
      (s) => {
        const d = (window as unknown as { __densehybrid?: PageApi }).__densehybrid;
        return d !== undefined && (s.includes(d.status) || d.status === 'error');
      },
      states,
      { timeout: 30_000 },
    );
    return page.evaluate(() => {
      const d = (window as unknown as { __densehybrid: PageApi }).__densehybrid;
      const r = d.result;
      return {
        status: d.status,
        error: d.error,
        backend: d.backend,
        notes: d.notes,
        result:
          r === undefined
            ? undefined
            : {
                ...r,
                scores: Array.from(r.scores),
                closed: Array.from(r.closed ?? []),
                labels: Array.from(r.labels ?? []),
              },
      };
    });
  }

  /** Drops the fixture image on the page, as a user dragging a file does. */
  async function dropImage(page: Page): Promise<void> {
    const bytes = [...(await readFile(imagePath))];
    const transfer = await page.evaluateHandle((b) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(b)], 'photo.png', { type: 'image/png' }));
      return dt;
    }, bytes);
    await page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
  }

  it('an exported checkpoint (dynamic size, NHWC) gives tfjs’ anomaly map in Node (≤ 1e-4 relative) on wasm; threshold, legend, screenshot', async () => {
    const page = await open('model=models/exported.onnx&ep=wasm');
    const ready = await settle(page, 'ready');
    expect(ready.error).toBeUndefined();
    expect(ready.backend).toBe('wasm');
    await page.setInputFiles('#image-file', imagePath);
    const done = await settle(page, 'done');
    expect(done.error).toBeUndefined();
    const r = done.result as NonNullable<ReadBack['result']>;
    expect([r.width, r.height, r.score]).toEqual([W, H, 'hybrid']);
    const err = relativeError(r.scores, reference.scores);
    console.log(
      `page (ONNX Runtime Web, wasm) vs Node (tfjs, same checkpoint): max relative error ${err.toExponential(2)}`,
    );
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(r.closed).toEqual(Array.from(reference.closed));
    // the calibrated threshold and its rule come from the model's metadata
    expect([r.threshold, r.thresholdRule]).toEqual([storedThreshold, 'greater']);
    const open3 = openSetPrediction(reference.closed, reference.scores, storedThreshold, 3, {
      thresholdRule: 'greater',
    });
    expect(r.labels).toEqual(Array.from(open3));
    expect(r.unknownShare).toBeCloseTo(0.3, 2);
    expect(await page.locator('#legend li').allTextContents()).toEqual([...CLASSES, 'unknown']);
    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`screenshot: ${SCREENSHOT}`);
    await page.close();
  });

  it('the same default export (dynamic size, no float64 op) gives the same map on WebGPU where there is an adapter, else on wasm saying why (image dropped); a fixed-size NCHW export on wasm too', async () => {
    const page = await open('model=models/exported.onnx');
    const ready = await settle(page, 'ready');
    expect(ready.error).toBeUndefined();
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return gpu !== undefined && (await gpu.requestAdapter()) !== null;
    });
    if (adapter) {
      // a WebGPU session that failed (e.g. on a float64 node) would have fallen back with a note
      expect(ready.notes).toEqual([]);
      expect(ready.backend).toBe('webgpu');
    } else {
      console.warn(
        'no WebGPU adapter in this Chromium (SwiftShader/Vulkan missing): checked the wasm fallback instead',
      );
      expect(ready.backend).toBe('wasm');
      expect(ready.notes.join('\n')).toMatch(/WebGPU.*; running on wasm/);
    }
    await dropImage(page);
    const done = await settle(page, 'done');
    expect(done.error).toBeUndefined();
    expect([done.result?.width, done.result?.height]).toEqual([W, H]);
    const err = relativeError(done.result?.scores ?? [], reference.scores);
    console.log(
      `page (ONNX Runtime Web, ${done.backend}, dynamic-size export) vs Node (tfjs, same checkpoint): max relative error ${err.toExponential(2)}`,
    );
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(done.result?.closed).toEqual(Array.from(reference.closed));
    await page.close();
    // the NCHW export of fixed size: the layout and the size come from its contract
    const fixed = await open('model=models/exported-nchw-fixed.onnx&ep=wasm');
    expect((await settle(fixed, 'ready')).error).toBeUndefined();
    await dropImage(fixed);
    const planar = await settle(fixed, 'done');
    expect(planar.error).toBeUndefined();
    const errFixed = relativeError(planar.result?.scores ?? [], reference.scores);
    console.log(
      `page (ONNX Runtime Web, wasm, fixed-size NCHW export) vs Node (tfjs): max relative error ${errFixed.toExponential(2)}`,
    );
    expect(errFixed).toBeLessThanOrEqual(1e-4);
    expect(planar.result?.closed).toEqual(Array.from(reference.closed));
    await fixed.close();
  });

  it('a model with plain metadata keys scores as float64 NumPy does (≤ 1e-4 relative); the slider relabels', async () => {
    const expected = JSON.parse(await readFile(join(FIXTURES, 'tiny.expected.json'), 'utf8')) as {
      hybrid: number[];
      closed: number[];
    };
    const page = await open('model=models/tiny.onnx&ep=wasm');
    const ready = await settle(page, 'ready');
    expect(ready.error).toBeUndefined();
    expect(ready.backend).toBe('wasm');
    await page.setInputFiles('#image-file', imagePath);
    const done = await settle(page, 'done');
    expect(done.error).toBeUndefined();
    const r = done.result as NonNullable<ReadBack['result']>;
    expect([r.width, r.height, r.score]).toEqual([W, H, 'hybrid']);
    const err = relativeError(r.scores, expected.hybrid);
    console.log(`page (wasm) vs NumPy float64: max relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(r.closed).toEqual(expected.closed);
    // no calibrated threshold: the slider starts at the 95th percentile, rule '>'
    expect(r.thresholdRule).toBe('greater');
    const sorted = [...r.scores].sort((a, b) => a - b);
    expect(r.threshold).toBe(sorted[Math.floor(0.95 * sorted.length)]);
    expect(r.labels).toEqual(
      Array.from(
        openSetPrediction(r.closed, r.scores, r.threshold, 3, { thresholdRule: 'greater' }),
      ),
    );
    // the slider: a lower threshold marks more pixels unknown (label K = 3), as openSetPrediction says
    const t = sorted[Math.floor(0.5 * sorted.length)] as number;
    await page.evaluate((v) => {
      const slider = document.getElementById('threshold') as HTMLInputElement;
      slider.value = String(v);
      slider.dispatchEvent(new Event('input'));
    }, t);
    const moved = (await settle(page, 'done')).result as NonNullable<ReadBack['result']>;
    const slid = Number(await page.inputValue('#threshold'));
    expect(moved.threshold).toBe(slid);
    expect(moved.labels).toEqual(
      Array.from(openSetPrediction(r.closed, r.scores, slid, 3, { thresholdRule: 'greater' })),
    );
    expect(moved.unknownShare).toBeCloseTo(
      moved.labels.filter((l) => l === 3).length / (W * H),
      12,
    );
    expect(moved.unknownShare as number).toBeGreaterThan(0.4);
    // the legend names the classes from the metadata, then unknown
    expect(await page.locator('#legend li').allTextContents()).toEqual([
      'road',
      'building',
      'sky',
      'unknown',
    ]);
    await page.close();
  });

  it('reads NHWC from the metadata and falls back to NCHW [0,1] without it, saying so (image dropped)', async () => {
    const expected = JSON.parse(await readFile(join(FIXTURES, 'tiny.expected.json'), 'utf8')) as {
      hybrid: number[];
    };
    for (const model of ['tiny-nhwc', 'tiny-nometa']) {
      const page = await open(`model=models/${model}.onnx&ep=wasm`);
      await settle(page, 'ready');
      await dropImage(page);
      const done = await settle(page, 'done');
      expect(done.error, model).toBeUndefined();
      expect(relativeError(done.result?.scores ?? [], expected.hybrid), model).toBeLessThanOrEqual(
        1e-4,
      );
      const notes = done.notes.join('\n');
      if (model === 'tiny-nometa') {
        expect(notes).toMatch(
          /no input contract in this model's metadata: assuming NCHW, RGB values in \[0, 1\]/,
        );
        expect(await page.textContent('#model-notes')).toMatch(
          /^note: no input contract in this model's metadata/m,
        );
        expect(await page.locator('#legend li').allTextContents()).toEqual([
          'class 0',
          'class 1',
          'class 2',
          'unknown',
        ]);
      } else expect(notes).not.toMatch(/no input contract/);
      await page.close();
    }
  });

  it('every backbone preset (BACKBONE_NAMES), exported, gives the same hybrid map in the page (wasm), in Node tfjs and in Node ONNX Runtime (≤ 1e-4 relative; one page, image dropped once)', async () => {
    // 64×48: the size the parity test calibrates its models on; PNG, so every runtime sees the
    // same 8-bit pixels
    const [pw, ph] = [64, 48];
    const png = join(work, 'presets.png');
    await writePng(png, testImage(pw, ph, 5));
    const image = await readImage(png);
    const page = await open('ep=wasm');
    // the image first: each model loaded after it runs on it at once
    const bytes = [...(await readFile(png))];
    const transfer = await page.evaluateHandle((b) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(b)], 'presets.png', { type: 'image/png' }));
      return dt;
    }, bytes);
    await page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
    const rows: {
      preset: string;
      mb: string;
      tfjs: string;
      ortNode: string;
      nodeNode: string;
      s: string;
    }[] = [];
    const tensorsBefore = tf.memory().numTensors;
    for (const name of BACKBONE_NAMES) {
      const t0 = performance.now();
      const model = calibratedModel(testBackboneConfig(name));
      let onnx: Uint8Array;
      let ref: Awaited<ReturnType<typeof tfjsReference>>;
      try {
        ref = await tfjsReference(model, image);
        onnx = await exportOnnx(model);
      } finally {
        model.dispose();
      }
      const ortNode = await loadOnnxDetector(onnx, { threads: 1 });
      let viaOrt: Float32Array;
      try {
        viaOrt = (await ortNode.detect(image, { scores: ['hybrid'] })).scores.hybrid;
      } finally {
        ortNode.dispose();
      }
      const url = `models/preset-${name}.onnx`;
      await writeFile(join(site, url), onnx);
      await page.fill('#model-url', url);
      await page.click('#model-load');
      // done for this model: its name is set while loading, before 'ready' and the run
      await page.waitForFunction(
        (u) => {
          const d = (window as unknown as { __densehybrid?: PageApi }).__densehybrid;
          return d?.status === 'error' || (d?.model?.name === u && d.status === 'done');
        },
        url,
        { timeout: 30_000 },
      );
      const got = await page.evaluate(() => {
        const d = (window as unknown as { __densehybrid: PageApi }).__densehybrid;
        const r = d.result;
        return {
          error: d.error,
          backend: d.backend,
          size: [r?.width, r?.height],
          score: r?.score,
          scores: Array.from(r?.scores ?? []),
        };
      });
      expect(got.error, name).toBeUndefined();
      expect([got.backend, got.score, ...got.size], name).toEqual(['wasm', 'hybrid', pw, ph]);
      // the map varies over the image (a constant map would agree trivially)
      expect(Math.max(...ref.scores.hybrid) - Math.min(...ref.scores.hybrid), name).toBeGreaterThan(
        0.05,
      );
      const eTfjs = relativeError(got.scores, ref.scores.hybrid);
      const eOrt = relativeError(got.scores, viaOrt);
      const eNode = relativeError(viaOrt, ref.scores.hybrid);
      rows.push({
        preset: name,
        mb: (onnx.length / 1e6).toFixed(1),
        tfjs: eTfjs.toExponential(2),
        ortNode: eOrt.toExponential(2),
        nodeNode: eNode.toExponential(2),
        s: ((performance.now() - t0) / 1000).toFixed(1),
      });
      expect(eTfjs, `${name}: page vs tfjs`).toBeLessThanOrEqual(1e-4);
      expect(eOrt, `${name}: page vs ONNX Runtime Node`).toBeLessThanOrEqual(1e-4);
      expect(eNode, `${name}: ONNX Runtime Node vs tfjs`).toBeLessThanOrEqual(1e-4);
    }
    await page.close();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    console.log(
      [
        `hybrid map, ${pw}×${ph}, max |Δ| / max |reference|:`,
        'preset               | MB   | page vs tfjs | page vs ORT-Node | ORT-Node vs tfjs | s',
        ...rows.map(
          (r) =>
            `${r.preset.padEnd(20)} | ${r.mb.padStart(4)} | ${r.tfjs.padStart(12)} | ${r.ortNode.padStart(16)} | ${r.nodeNode.padStart(16)} | ${r.s}`,
        ),
      ].join('\n'),
    );
  });

  it('says what is wrong with a file that is not a model, and loads nothing from elsewhere', async () => {
    const page = await open('model=index.html&ep=wasm');
    const failed = await settle(page, 'ready');
    expect(failed.status).toBe('error');
    expect(failed.error).toMatch(/readOnnxModelInfo: expected an ONNX model/);
    expect(await page.isVisible('#error')).toBe(true);
    await page.close();
    expect(external).toEqual([]);
  });
});
