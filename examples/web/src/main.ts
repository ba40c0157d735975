/**
 * The page: load a model (file, drop or `?model=` URL), drop or pick an image, show the anomaly
 * heatmap with its scale and the open-set label map with its legend; the threshold slider
 * re-labels without running the model again.
 *
 * URL parameters: `model` (a URL, relative to the page or absolute), `ep` (auto | webgpu | wasm),
 * `threads` (wasm threads), `max` (longest image side fed to a model with dynamic size,
 * default 1024), `score` (the output shown first).
 *
 * Tests and scripts read the state from `window.__densehybrid` (see {@link PageApi}).
 */
import { openSetPrediction } from '@densehybrid/metrics-openiou';
import type { ThresholdRule } from '@densehybrid/metrics-openiou';
import { imageTensor, modelContract, outputRoles } from './contract.js';
import type { ModelContract, OutputRoles } from './contract.js';
import { readOnnxModelInfo } from './onnx-metadata.js';
import type { OnnxModelInfo } from './onnx-metadata.js';
import {
  drawColorbar,
  heatmapPixels,
  labelPalette,
  labelPixels,
  scoreRange,
  UNKNOWN_COLOR,
} from './render.js';
import type { ScoreRange } from './render.js';
import type * as ort from 'onnxruntime-web';
import { EXECUTION_PREFERENCES, configureRuntime, createSession } from './runtime.js';
import type { ExecutionPreference, OrtModule } from './runtime.js';

/** Longest image side fed to a model with dynamic height and width. */
const DEFAULT_MAX_SIDE = 1024;

interface LoadedModel {
  readonly name: string;
  readonly info: OnnxModelInfo;
  readonly contract: ModelContract;
  readonly roles: OutputRoles;
  readonly session: ort.InferenceSession;
  /** The ONNX Runtime build the session belongs to (its Tensor class feeds it). */
  readonly ort: OrtModule;
  readonly backend: 'webgpu' | 'wasm';
  readonly inputName: string;
  readonly inputShape: readonly (number | string)[];
  readonly notes: readonly string[];
}

/** One image's outputs, kept so that the score select and the slider need no new run. */
interface ImageResult {
  readonly width: number;
  readonly height: number;
  /** Score map per score output, `width*height`. */
  readonly maps: ReadonlyMap<string, Float32Array>;
  /** argmax of the logits (`0..K-1`), or undefined without a logits output. */
  readonly closed: Uint8Array | undefined;
  readonly numClasses: number;
  readonly timings: {
    readonly preprocessMs: number;
    readonly runMs: number;
    readonly totalMs: number;
  };
}

/** What `window.__densehybrid` holds. */
export interface PageApi {
  status: 'idle' | 'loading-model' | 'ready' | 'running' | 'done' | 'error';
  error: string | undefined;
  /** Where the model runs. */
  backend: 'webgpu' | 'wasm' | undefined;
  threads: number;
  crossOriginIsolated: boolean;
  /** Lines about the model: contract read or assumed, fallbacks. */
  notes: string[];
  model:
    | {
        name: string;
        inputName: string;
        inputShape: (number | string)[];
        outputs: string[];
        /** Score names the page offers (the score select), the default first. */
        scores: string[];
        logitsOutput: string | undefined;
        closedOutput: string | undefined;
        contract: ModelContract;
        metadata: Record<string, string>;
      }
    | undefined;
  /** The shown result: the selected score map, closed and open-set labels. */
  result:
    | {
        width: number;
        height: number;
        score: string;
        scores: Float32Array;
        closed: Uint8Array | undefined;
        labels: Uint8Array | Uint16Array | undefined;
        numClasses: number;
        range: ScoreRange;
        threshold: number;
        thresholdRule: ThresholdRule;
        unknownShare: number | undefined;
        timings: ImageResult['timings'];
      }
    | undefined;
  loadModel(source: string | Blob): Promise<void>;
  runImage(image: Blob): Promise<void>;
  setThreshold(value: number): void;
  setScore(name: string): void;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: expected #${id} in index.html`);
  return el as T;
};

const params = new URLSearchParams(location.search);
const epParam = params.get('ep') ?? 'auto';
const preference: ExecutionPreference = (EXECUTION_PREFERENCES as readonly string[]).includes(
  epParam,
)
  ? (epParam as ExecutionPreference)
  : 'auto';
const threadsParam = Number(params.get('threads') ?? NaN);
const maxSideParam = Number(params.get('max') ?? NaN);
const maxSide =
  Number.isInteger(maxSideParam) && maxSideParam > 0 ? maxSideParam : DEFAULT_MAX_SIDE;

const threads = configureRuntime(
  Number.isInteger(threadsParam) && threadsParam > 0 ? { threads: threadsParam } : {},
);

const api: PageApi = {
  status: 'idle',
  error: undefined,
  backend: undefined,
  threads,
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  notes: [],
  model: undefined,
  result: undefined,
  loadModel,
  runImage,
  setThreshold,
  setScore,
};
(window as unknown as { __densehybrid: PageApi }).__densehybrid = api;

let model: LoadedModel | undefined;
let image: Blob | undefined;
let result: ImageResult | undefined;
let shownScore: string | undefined;
let threshold = 0;
let thresholdRule: ThresholdRule = 'greater';
let busy: Promise<void> = Promise.resolve();

const status = (text: string): void => {
  $('status').textContent = text;
};

function fail(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  api.status = 'error';
  api.error = message;
  const el = $('error');
  el.textContent = message;
  el.hidden = false;
  console.error(error);
}

function clearError(): void {
  api.error = undefined;
  $('error').hidden = true;
}

/** Runs tasks one after another (a drop during a run waits for it). */
function serial(task: () => Promise<void>): Promise<void> {
  busy = busy.then(task).catch(fail);
  return busy;
}

function loadModel(source: string | Blob): Promise<void> {
  return serial(async () => {
    clearError();
    api.status = 'loading-model';
    const name =
      typeof source === 'string' ? source : source instanceof File ? source.name : 'model.onnx';
    status(`loading ${name} …`);
    let bytes: Uint8Array;
    if (typeof source === 'string') {
      const url = new URL(source, location.href);
      const response = await fetch(url).catch((error: Error) => {
        throw new Error(`loadModel: expected to fetch ${url.href}, got ${error.message}`);
      });
      if (!response.ok)
        throw new Error(
          `loadModel: expected ${url.href} to answer 200, got ${response.status} ${response.statusText}`,
        );
      bytes = new Uint8Array(await response.arrayBuffer());
    } else bytes = new Uint8Array(await source.arrayBuffer());
    const info = readOnnxModelInfo(bytes);
    const loaded = await createSession(bytes, preference);
    const session = loaded.session;
    const inputName = session.inputNames[0];
    if (inputName === undefined || session.inputNames.length !== 1)
      throw new Error(
        `loadModel: expected a model with one image input, got inputs ${session.inputNames.join(', ') || 'none'}`,
      );
    const meta = session.inputMetadata[0];
    const inputShape = meta !== undefined && meta.isTensor ? [...meta.shape] : [];
    const contract = modelContract(info.metadata, inputShape);
    const roles = outputRoles(session.outputNames, contract);
    if (roles.scores.length === 0)
      throw new Error(
        `loadModel: expected a score output besides the logits, got outputs ${session.outputNames.join(', ')}`,
      );
    if (model) await model.session.release().catch(() => undefined);
    const notes = [
      ...loaded.notes,
      ...contract.notes,
      ...(roles.logits === undefined
        ? ['no logits output: the open-set map is not available']
        : []),
    ];
    model = {
      name,
      info,
      contract,
      roles,
      session,
      ort: loaded.ort,
      backend: loaded.backend,
      inputName,
      inputShape,
      notes,
    };
    api.backend = loaded.backend;
    api.notes = [...notes];
    api.model = {
      name,
      inputName,
      inputShape: [...inputShape],
      outputs: [...session.outputNames],
      scores: roles.scores.map((s) => s.name),
      logitsOutput: roles.logits,
      closedOutput: roles.closed,
      contract,
      metadata: { ...info.metadata },
    };
    const select = $<HTMLSelectElement>('score');
    select.replaceChildren(
      ...roles.scores.map((s) =>
        Object.assign(document.createElement('option'), {
          value: s.name,
          textContent: s.name === s.output ? s.name : `${s.name} (${s.output})`,
        }),
      ),
    );
    const wanted = params.get('score');
    const names = roles.scores.map((s) => s.name);
    shownScore = wanted !== null && names.includes(wanted) ? wanted : names[0];
    select.value = shownScore ?? '';
    select.disabled = roles.scores.length < 2;
    $('notes').textContent = [
      `model: ${name} (${(bytes.length / 1e6).toFixed(2)} MB, ${info.producerName ?? 'unknown producer'} ${info.producerVersion ?? ''}, opset ${info.opsets[''] ?? '?'})`,
      `input: ${inputName} [${inputShape.join(', ')}], ${contract.input.layout}, ${contract.input.channels}, range [${contract.input.range.join(', ')}], mean [${contract.input.mean.join(', ')}], std [${contract.input.std.join(', ')}]`,
      `outputs: ${session.outputNames.join(', ')}`,
      ...notes,
      'metadata_props:',
      ...Object.entries(info.metadata).map(([k, v]) => `  ${k} = ${v}`),
    ].join('\n');
    const where =
      loaded.backend === 'webgpu' ? 'WebGPU' : `wasm, ${threads} thread${threads === 1 ? '' : 's'}`;
    status(`${name} loaded, on ${where}; drop or pick an image`);
    const notesEl = $('model-notes');
    notesEl.textContent = notes.map((n) => `note: ${n}`).join('\n');
    notesEl.hidden = notes.length === 0;
    api.status = 'ready';
    if (image) await infer(image);
  });
}

function runImage(blob: Blob): Promise<void> {
  image = blob;
  return serial(async () => {
    clearError();
    if (!model) {
      status('image loaded; now load a model (file, drop, or ?model=URL)');
      drawInputPreview(blob).catch(fail);
      return;
    }
    await infer(blob);
  });
}

/** The size the model gets: its fixed size, else the image's, at most `maxSide`, rounded to the size multiple. */
function targetSize(
  width: number,
  height: number,
  m: LoadedModel,
): [number, number, string | undefined] {
  const [hAxis, wAxis] = m.contract.input.layout === 'NCHW' ? [2, 3] : [1, 2];
  const fixed = m.contract.exported?.size;
  const fh = fixed?.[0] ?? m.inputShape[hAxis];
  const fw = fixed?.[1] ?? m.inputShape[wAxis];
  if (typeof fh === 'number' && typeof fw === 'number' && fh > 0 && fw > 0)
    return [
      fw,
      fh,
      fw !== width || fh !== height
        ? `resized ${width}×${height} to the model's fixed ${fw}×${fh}`
        : undefined,
    ];
  const minSide = m.contract.exported?.minSize ?? 1;
  const scale = Math.max(
    Math.min(1, maxSide / Math.max(width, height)),
    minSide / Math.min(width, height),
  );
  const k = m.contract.input.sizeMultiple;
  const fit = (v: number): number =>
    Math.max(Math.ceil(minSide / k) * k, Math.round((v * scale) / k) * k);
  const w = fit(width);
  const h = fit(height);
  return [
    w,
    h,
    w !== width || h !== height ? `resized ${width}×${height} to ${w}×${h}` : undefined,
  ];
}

async function decode(blob: Blob): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch (error) {
    throw new Error(
      `runImage: expected an image the browser can decode, got ${blob.type || 'a file of unknown type'} (${(error as Error).message})`,
    );
  }
}

async function drawInputPreview(blob: Blob): Promise<void> {
  const bitmap = await decode(blob);
  const canvas = $<HTMLCanvasElement>('input');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d')?.drawImage(bitmap, 0, 0);
  bitmap.close();
}

function scoreMap(
  tensor: ort.Tensor,
  name: string,
): { width: number; height: number; data: Float32Array } {
  const d = tensor.dims;
  let hw: [number, number] | undefined;
  if (d.length === 4 && d[0] === 1 && d[1] === 1) hw = [d[2] as number, d[3] as number];
  else if (d.length === 4 && d[0] === 1 && d[3] === 1) hw = [d[1] as number, d[2] as number];
  else if (d.length === 3 && d[0] === 1) hw = [d[1] as number, d[2] as number];
  else if (d.length === 2) hw = [d[0] as number, d[1] as number];
  if (hw === undefined || tensor.type !== 'float32')
    throw new Error(
      `runImage: expected output ${name} to be a float32 score map [1, H, W] or [1, 1, H, W], got ${tensor.type} [${d.join(', ')}]`,
    );
  return { height: hw[0], width: hw[1], data: new Float32Array(tensor.data as Float32Array) };
}

/** An int32 closed-set output `[1, H, W]` as labels `0..K-1`. */
function closedLabels(
  tensor: ort.Tensor,
  width: number,
  height: number,
  numClasses: number,
): Uint8Array {
  const d = tensor.dims;
  const ok = d.length === 3 && d[0] === 1 && d[1] === height && d[2] === width;
  if (!ok || (tensor.type !== 'int32' && tensor.type !== 'int64' && tensor.type !== 'uint8'))
    throw new Error(
      `runImage: expected the closed-set output as int32 [1, ${height}, ${width}], got ${tensor.type} [${d.join(', ')}]`,
    );
  if (!(numClasses >= 1 && numClasses <= 255))
    throw new Error(`runImage: expected 1..255 classes in the model's contract, got ${numClasses}`);
  const src = tensor.data as ArrayLike<number | bigint>;
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) {
    const v = Number(src[i]);
    if (!(v >= 0 && v < numClasses))
      throw new Error(
        `runImage: expected closed-set labels in 0..${numClasses - 1}, got ${v} at pixel ${i}`,
      );
    out[i] = v;
  }
  return out;
}

/** argmax over the class axis of NCHW or NHWC logits (first maximum wins, as tf.argMax). */
function argmaxLogits(
  tensor: ort.Tensor,
  width: number,
  height: number,
  inputLayout: 'NCHW' | 'NHWC',
): { closed: Uint8Array; numClasses: number } {
  const d = tensor.dims;
  const nchw = d.length === 4 && d[2] === height && d[3] === width;
  const nhwc = d.length === 4 && d[1] === height && d[2] === width;
  if ((!nchw && !nhwc) || tensor.type !== 'float32')
    throw new Error(
      `runImage: expected float32 logits [1, K, ${height}, ${width}] or [1, ${height}, ${width}, K], got ${tensor.type} [${d.join(', ')}]`,
    );
  const channelsFirst = nchw && nhwc ? inputLayout === 'NCHW' : nchw;
  const K = (channelsFirst ? d[1] : d[3]) as number;
  if (K > 255) throw new Error(`runImage: expected at most 255 classes, got ${K}`);
  const n = width * height;
  const x = tensor.data as Float32Array;
  const closed = new Uint8Array(n);
  if (channelsFirst) {
    const best = x.slice(0, n);
    for (let k = 1; k < K; k++) {
      const o = k * n;
      for (let i = 0; i < n; i++) {
        const v = x[o + i] as number;
        if (v > (best[i] as number)) {
          best[i] = v;
          closed[i] = k;
        }
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      let b = x[i * K] as number;
      let arg = 0;
      for (let k = 1; k < K; k++) {
        const v = x[i * K + k] as number;
        if (v > b) {
          b = v;
          arg = k;
        }
      }
      closed[i] = arg;
    }
  }
  return { closed, numClasses: K };
}

async function infer(blob: Blob): Promise<void> {
  const m = model;
  if (!m) return;
  api.status = 'running';
  const t0 = performance.now();
  const bitmap = await decode(blob);
  const [w, h, resized] = targetSize(bitmap.width, bitmap.height, m);
  const canvas = $<HTMLCanvasElement>('input');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('runImage: expected a 2D canvas');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const pixels = ctx.getImageData(0, 0, w, h, { colorSpace: 'srgb' });
  const input = imageTensor(pixels.data, w, h, m.contract.input);
  status(`running ${m.name} on ${w}×${h} …`);
  const t1 = performance.now();
  const feeds = { [m.inputName]: new m.ort.Tensor('float32', input.data, input.dims) };
  // the closed-set labels: the graph's own argmax where it has one, else the logits' argmax here
  const labelsFrom = m.roles.closed ?? m.roles.logits;
  const fetches = [
    ...m.roles.scores.map((s) => s.output),
    ...(labelsFrom === undefined ? [] : [labelsFrom]),
  ];
  const out = await m.session.run(feeds, fetches);
  const t2 = performance.now();
  const maps = new Map<string, Float32Array>();
  let size: { width: number; height: number } | undefined;
  for (const { name, output } of m.roles.scores) {
    const map = scoreMap(out[output] as ort.Tensor, output);
    if (size && (map.width !== size.width || map.height !== size.height))
      throw new Error(
        `runImage: expected every score output at ${size.width}×${size.height}, got ${output} at ${map.width}×${map.height}`,
      );
    size = map;
    maps.set(name, map.data);
  }
  const { width, height } = size as { width: number; height: number };
  let closed: Uint8Array | undefined;
  let numClasses = m.contract.exported?.numClasses ?? m.contract.classNames?.length ?? 0;
  if (m.roles.closed !== undefined) {
    closed = closedLabels(out[m.roles.closed] as ort.Tensor, width, height, numClasses);
  } else if (m.roles.logits !== undefined) {
    const layout = m.contract.exported?.outputLayout ?? m.contract.input.layout;
    const a = argmaxLogits(out[m.roles.logits] as ort.Tensor, width, height, layout);
    closed = a.closed;
    numClasses = a.numClasses;
  }
  for (const t of Object.values(out)) t.dispose();
  const t3 = performance.now();
  result = {
    width,
    height,
    maps,
    closed,
    numClasses,
    timings: { preprocessMs: t1 - t0, runMs: t2 - t1, totalMs: t3 - t0 },
  };
  const stored = m.contract.threshold;
  showScore(shownScore ?? (m.roles.scores[0]?.name as string), true);
  const where =
    m.backend === 'webgpu' ? 'WebGPU' : `wasm (${threads} thread${threads === 1 ? '' : 's'})`;
  status(
    `${m.name}: ${width}×${height} in ${Math.round(t2 - t1)} ms on ${where}${resized ? ` — ${resized}` : ''}${
      stored === undefined
        ? ' — no calibrated threshold in the model: the slider starts at this image’s 95th percentile'
        : ''
    }`,
  );
  api.status = 'done';
}

/** The q-quantile of the finite values (nearest rank). */
function quantile(values: Float32Array, q: number): number {
  const v = values.filter(Number.isFinite).sort();
  return v.length === 0 ? 0 : (v[Math.min(v.length - 1, Math.floor(q * v.length))] as number);
}

function showScore(name: string, fresh: boolean): void {
  const r = result;
  const m = model;
  if (!r || !m) return;
  const scores = r.maps.get(name);
  if (!scores) return;
  shownScore = name;
  const range = scoreRange(scores);
  const stored = m.contract.threshold;
  if (fresh || api.result?.score !== name) {
    const usable = stored !== undefined && (stored.score === undefined || stored.score === name);
    threshold = usable ? stored.value : quantile(scores, 0.95);
    thresholdRule = usable ? stored.thresholdRule : 'greater';
  }
  const heat = $<HTMLCanvasElement>('heatmap');
  heat.width = r.width;
  heat.height = r.height;
  heat
    .getContext('2d')
    ?.putImageData(new ImageData(heatmapPixels(scores, range), r.width, r.height), 0, 0);
  $('heatmap-caption').textContent =
    `${name} score, ${fmt(range.min)} … ${fmt(range.max)} (higher = more anomalous; blue mark: threshold)`;
  const slider = $<HTMLInputElement>('threshold');
  slider.min = String(range.min);
  slider.max = String(range.max);
  slider.step = String((range.max - range.min) / 1000 || 1e-6);
  slider.value = String(threshold);
  slider.disabled = r.closed === undefined;
  api.result = {
    width: r.width,
    height: r.height,
    score: name,
    scores,
    closed: r.closed,
    labels: undefined,
    numClasses: r.numClasses,
    range,
    threshold,
    thresholdRule,
    unknownShare: undefined,
    timings: r.timings,
  };
  relabel();
  drawLegend(r.numClasses, m.contract.classNames);
}

function relabel(): void {
  const r = result;
  const shown = api.result;
  if (!r || !shown) return;
  drawColorbar($<HTMLCanvasElement>('colorbar'), shown.range, threshold);
  $('threshold-value').textContent = fmt(threshold);
  const canvas = $<HTMLCanvasElement>('openset');
  canvas.width = r.width;
  canvas.height = r.height;
  if (r.closed === undefined) {
    $('unknown-share').textContent = '';
    $('openset-caption').textContent = 'open-set labels: the model has no logits output';
    return;
  }
  const labels = openSetPrediction(r.closed, shown.scores, threshold, r.numClasses, {
    thresholdRule,
  });
  let unknown = 0;
  for (const l of labels) if (l === r.numClasses) unknown++;
  const share = unknown / labels.length;
  canvas
    .getContext('2d')
    ?.putImageData(new ImageData(labelPixels(labels, r.numClasses), r.width, r.height), 0, 0);
  $('unknown-share').textContent =
    `${(100 * share).toFixed(1)} % unknown (score ${thresholdRule === 'greater' ? '>' : '≥'} threshold)`;
  $('openset-caption').textContent =
    'open-set labels: argmax of the logits, unknown (white) where the score passes the threshold';
  shown.labels = labels;
  shown.threshold = threshold;
  shown.thresholdRule = thresholdRule;
  shown.unknownShare = share;
}

function drawLegend(numClasses: number, names: readonly string[] | undefined): void {
  const palette = labelPalette(numClasses);
  const entries: [string, readonly number[]][] = [
    ...palette.map((c, k): [string, readonly number[]] => [
      names !== undefined && names.length === numClasses ? (names[k] as string) : `class ${k}`,
      c,
    ]),
    ['unknown', UNKNOWN_COLOR],
  ];
  $('legend').replaceChildren(
    ...entries.map(([name, c]) => {
      const li = document.createElement('li');
      li.textContent = name;
      li.style.setProperty('--swatch', `rgb(${c.join(',')})`);
      return li;
    }),
  );
}

function setThreshold(value: number): void {
  threshold = value;
  relabel();
}

function setScore(name: string): void {
  showScore(name, false);
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(2) : v.toFixed(3);

// wiring
$<HTMLInputElement>('threshold').addEventListener('input', (e) =>
  setThreshold(Number((e.target as HTMLInputElement).value)),
);
$<HTMLSelectElement>('score').addEventListener('change', (e) =>
  setScore((e.target as HTMLSelectElement).value),
);
$<HTMLInputElement>('model-file').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void loadModel(file);
});
$<HTMLInputElement>('image-file').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void runImage(file);
});
$('model-load').addEventListener('click', () => {
  const url = $<HTMLInputElement>('model-url').value.trim();
  if (url) void loadModel(url);
});
const isModelFile = (f: File): boolean => f.name.toLowerCase().endsWith('.onnx');
window.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
window.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const files = [...(e.dataTransfer?.files ?? [])];
  const modelFile = files.find(isModelFile);
  const imageFile = files.find((f) => !isModelFile(f));
  if (modelFile) void loadModel(modelFile);
  if (imageFile) void runImage(imageFile);
});

const modelParam = params.get('model');
if (modelParam) {
  $<HTMLInputElement>('model-url').value = modelParam;
  void loadModel(modelParam);
}
