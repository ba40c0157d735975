/**
 * The model's input contract (layout, value range, normalisation) and the meaning of its
 * outputs, from the ONNX `metadata_props` the exporter writes, with stated fallbacks.
 */
import { DenseHybridError, THRESHOLD_RULES } from '@densehybrid/metrics-openiou';
import type { ThresholdRule } from '@densehybrid/metrics-openiou';

/** How the model wants its image tensor. */
export interface InputContract {
  /** `NCHW` (channels first) or `NHWC`. */
  readonly layout: 'NCHW' | 'NHWC';
  /** Channel order of the image tensor. */
  readonly channels: 'RGB' | 'BGR';
  /** Pixel values 0..255 map linearly onto `[range[0], range[1]]`. */
  readonly range: readonly [number, number];
  /** Subtracted per channel after the range mapping (in the range's units). */
  readonly mean: readonly [number, number, number];
  /** Divides per channel after subtracting the mean. */
  readonly std: readonly [number, number, number];
  /** Height and width must be multiples of this (1: any size). */
  readonly sizeMultiple: number;
}

/** The contract assumed where the metadata says nothing: densehybrid's LDN models (raw [0,1] RGB). */
export const DEFAULT_INPUT_CONTRACT: InputContract = Object.freeze({
  layout: 'NCHW',
  channels: 'RGB',
  range: [0, 1] as const,
  mean: [0, 0, 0] as const,
  std: [1, 1, 1] as const,
  sizeMultiple: 1,
});

/** A calibrated open-set threshold stored with the model. */
export interface StoredThreshold {
  readonly value: number;
  readonly thresholdRule: ThresholdRule;
  /** The score it was calibrated for (undefined: not said). */
  readonly score: string | undefined;
}

/** What the page knows about a model: the contract and everything else the metadata says. */
export interface ModelContract {
  readonly input: InputContract;
  /** Which fields came from the metadata (the others are the defaults). */
  readonly fromMetadata: readonly (keyof InputContract)[];
  /** Class names 0..K-1, if stored. */
  readonly classNames: readonly string[] | undefined;
  readonly threshold: StoredThreshold | undefined;
  /** Output name of the default score, if the metadata names one. */
  readonly scoreOutput: string | undefined;
  /** Output name of the logits, if the metadata names one. */
  readonly logitsOutput: string | undefined;
  /**
   * The exporter's contract (`densehybrid.contract`, from `densehybrid export --format onnx`):
   * score name → output name, the closed-set output, the outputs' layout, size limits.
   */
  readonly exported:
    | {
        readonly scores: Readonly<Record<string, string>>;
        readonly closed: string | undefined;
        readonly outputLayout: 'NCHW' | 'NHWC';
        readonly numClasses: number;
        /** `[H, W]` of a static graph, else undefined (dynamic height and width). */
        readonly size: readonly [number, number] | undefined;
        readonly minSize: number;
      }
    | undefined;
  /** Lines for the user: what was read, what was assumed. */
  readonly notes: readonly string[];
}

/** `metadata_props` key of the exporter's JSON contract (packages/onnx: CONTRACT_KEY). */
const CONTRACT_KEY = 'densehybrid.contract';
/** The exporter's format name and the contract version this page reads. */
const EXPORT_FORMAT = 'densehybrid/onnx';
const EXPORT_FORMAT_VERSION = 1;

/**
 * Metadata keys, normalised: lower case, the `densehybrid` prefix and every separator removed,
 * JSON objects flattened (`densehybrid.input = {"layout": "NCHW"}` reads as `inputlayout`).
 * Each field lists the keys it accepts, most specific first.
 */
const KEYS = {
  layout: ['inputlayout', 'layout'],
  channels: ['inputchannelorder', 'inputchannels', 'channelorder', 'inputcolororder', 'channels'],
  range: ['inputvaluerange', 'inputrange', 'valuerange', 'range'],
  mean: [
    'inputnormalizationmean',
    'inputnormalisationmean',
    'normalizationmean',
    'normalisationmean',
    'inputmean',
    'mean',
  ],
  std: [
    'inputnormalizationstd',
    'inputnormalisationstd',
    'normalizationstd',
    'normalisationstd',
    'inputstd',
    'std',
  ],
  sizeMultiple: ['inputsizemultiple', 'sizemultiple', 'inputmultiple', 'inputstride'],
  classNames: ['classnames', 'classes', 'labels'],
  threshold: ['thresholdvalue', 'threshold'],
  thresholdRule: ['thresholdthresholdrule', 'thresholdrule'],
  thresholdScore: ['thresholdscore'],
  scoreOutput: ['outputsscore', 'scoreoutput', 'outputscore', 'score'],
  logitsOutput: ['outputslogits', 'logitsoutput', 'outputlogits'],
} as const;

const norm = (key: string): string =>
  key
    .toLowerCase()
    .replace(/^densehybrid/, '')
    .replace(/[^a-z0-9]/g, '');

/** Flattens metadata into normalised keys; JSON object values are expanded. */
function flatten(metadata: Readonly<Record<string, string>>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const put = (key: string, value: unknown): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) put(`${key}.${k}`, v);
      // the object itself stays readable too (e.g. a threshold object under `threshold`)
    }
    out.set(norm(key), value);
  };
  for (const [key, raw] of Object.entries(metadata)) {
    let value: unknown = raw;
    const t = raw.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      try {
        value = JSON.parse(t);
      } catch {
        // not JSON: the string itself
      }
    }
    put(key, value);
  }
  return out;
}

function lookup(
  flat: Map<string, unknown>,
  keys: readonly string[],
): [string, unknown] | undefined {
  for (const k of keys) if (flat.has(k)) return [k, flat.get(k)];
  return undefined;
}

/** Numbers of a JSON array or a string such as `0.485,0.456,0.406` or `[0, 255]` or `0..1`. */
function numbers(value: unknown): number[] | undefined {
  if (typeof value === 'number') return [value];
  const list = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value
          .replace(/[[\]()]/g, '')
          .split(/\s*(?:,|\.\.|:|;|\s|(?<=\d)-(?=\d))\s*/)
          .filter((s) => s !== '')
      : undefined;
  if (list === undefined || list.length === 0) return undefined;
  const out = list.map((v) => (typeof v === 'number' ? v : Number(v)));
  return out.every(Number.isFinite) ? out : undefined;
}

const bad = (what: string, value: unknown): DenseHybridError =>
  new DenseHybridError(
    'MODEL_LOAD',
    `modelContract: expected ${what}, got ${JSON.stringify(value)} in the model's metadata`,
  );

function triple(what: string, value: unknown): [number, number, number] {
  const v = numbers(value);
  if (v?.length === 1) return [v[0] as number, v[0] as number, v[0] as number];
  if (v?.length === 3) return v as [number, number, number];
  throw bad(`${what} as 1 or 3 numbers`, value);
}

/**
 * The model's contract from its `metadata_props`.
 *
 * Accepted keys (case and separators do not matter; a `densehybrid` prefix is optional; JSON
 * objects are read field by field): `input.layout` (`NCHW` | `NHWC`), `input.range` (`[0,1]`,
 * `[0,255]`, `0..1`), `input.mean` / `input.std` (1 or 3 numbers, in the range's units),
 * `input.channels` (`RGB` | `BGR`), `input.size_multiple`, `class_names` (JSON array),
 * `threshold` (a number or `{value, thresholdRule, score}`), `outputs.score`, `outputs.logits`.
 * A model from `densehybrid export --format onnx` carries all of it as one JSON contract under
 * `densehybrid.contract`, which is read exactly and wins over the keys above. Missing fields take {@link DEFAULT_INPUT_CONTRACT} and say so in `notes`; a missing layout
 * is taken from the input shape when only one of its axes has 3 channels.
 *
 * @param metadata the model's metadata_props
 * @param inputShape the image input's shape as ONNX Runtime reports it (symbolic dims are strings)
 * @throws DenseHybridError `MODEL_LOAD` for a value the page cannot use (e.g. layout `CHW`)
 * @example
 * ```ts
 * const c = modelContract({ 'densehybrid.input': '{"layout":"NHWC","range":[0,255]}' }, [1, 'h', 'w', 3]);
 * c.input.layout; // 'NHWC'
 * ```
 */
export function modelContract(
  metadata: Readonly<Record<string, string>>,
  inputShape: readonly (number | string)[] = [],
): ModelContract {
  if (metadata[CONTRACT_KEY] !== undefined) return exportedContract(metadata[CONTRACT_KEY]);
  const flat = flatten(metadata);
  const fromMetadata: (keyof InputContract)[] = [];
  const notes: string[] = [];
  const read = <T>(field: keyof InputContract, parse: (v: unknown) => T, fallback: T): T => {
    const hit = lookup(flat, KEYS[field]);
    if (hit === undefined) return fallback;
    fromMetadata.push(field);
    return parse(hit[1]);
  };

  let layout = read(
    'layout',
    (v) => {
      const s = String(v).toUpperCase();
      if (s !== 'NCHW' && s !== 'NHWC') throw bad('layout NCHW or NHWC', v);
      return s as 'NCHW' | 'NHWC';
    },
    undefined as 'NCHW' | 'NHWC' | undefined,
  );
  if (layout === undefined) {
    const c1 = inputShape[1] === 3;
    const c3 = inputShape[3] === 3;
    layout =
      c1 !== c3 && inputShape.length === 4 ? (c1 ? 'NCHW' : 'NHWC') : DEFAULT_INPUT_CONTRACT.layout;
    if (c1 !== c3 && inputShape.length === 4)
      notes.push(
        `layout ${layout}: not in the metadata, read from the input shape [${inputShape.join(', ')}]`,
      );
  }
  const channels = read(
    'channels',
    (v) => {
      const s = String(v).toUpperCase();
      if (s !== 'RGB' && s !== 'BGR') throw bad('channel order RGB or BGR', v);
      return s as 'RGB' | 'BGR';
    },
    DEFAULT_INPUT_CONTRACT.channels,
  );
  const range = read(
    'range',
    (v) => {
      const r = numbers(v);
      if (r?.length !== 2 || !((r[1] as number) > (r[0] as number)))
        throw bad('a value range [lo, hi] with lo < hi', v);
      return [r[0], r[1]] as [number, number];
    },
    DEFAULT_INPUT_CONTRACT.range,
  );
  const mean = read('mean', (v) => triple('mean', v), DEFAULT_INPUT_CONTRACT.mean);
  const std = read(
    'std',
    (v) => {
      const s = triple('std', v);
      if (!s.every((x) => x > 0)) throw bad('std > 0', v);
      return s;
    },
    DEFAULT_INPUT_CONTRACT.std,
  );
  const sizeMultiple = read(
    'sizeMultiple',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw bad('size multiple as a positive integer', v);
      return n;
    },
    DEFAULT_INPUT_CONTRACT.sizeMultiple,
  );

  const essentials: (keyof InputContract)[] = ['layout', 'range', 'mean', 'std'];
  const missing = essentials.filter((f) => !fromMetadata.includes(f));
  if (missing.length === essentials.length) {
    notes.push(
      `no input contract in this model's metadata: assuming ${layout}, RGB values in [0, 1], no mean/std (densehybrid's LDN convention); export with densehybrid export to store it`,
    );
  } else if (missing.length > 0) {
    notes.push(
      `not in the metadata, assumed: ${missing.map((f) => `${f} ${JSON.stringify(f === 'layout' ? layout : DEFAULT_INPUT_CONTRACT[f])}`).join(', ')}`,
    );
  }

  const classHit = lookup(flat, KEYS.classNames);
  let classNames: string[] | undefined;
  if (classHit !== undefined) {
    const v = classHit[1];
    classNames = Array.isArray(v)
      ? v.map(String)
      : typeof v === 'string'
        ? v.split(',').map((s) => s.trim())
        : undefined;
    if (classNames === undefined) throw bad('class names as a JSON array', v);
  }

  let threshold: StoredThreshold | undefined;
  const tHit = lookup(flat, KEYS.threshold);
  if (tHit !== undefined && tHit[1] !== null && tHit[1] !== '') {
    const value = Number(tHit[1]);
    if (!Number.isFinite(value)) throw bad('threshold as a finite number', tHit[1]);
    const ruleHit = lookup(flat, KEYS.thresholdRule);
    const rule = ruleHit === undefined ? 'greater-or-equal' : String(ruleHit[1]);
    if (!(THRESHOLD_RULES as readonly string[]).includes(rule))
      throw bad(`threshold rule ${THRESHOLD_RULES.join(' | ')}`, rule);
    const scoreHit = lookup(flat, KEYS.thresholdScore);
    threshold = {
      value,
      thresholdRule: rule as ThresholdRule,
      score: scoreHit === undefined ? undefined : String(scoreHit[1]),
    };
  }

  const str = (keys: readonly string[]): string | undefined => {
    const hit = lookup(flat, keys);
    return typeof hit?.[1] === 'string' ? hit[1] : undefined;
  };
  return {
    input: { layout, channels, range, mean, std, sizeMultiple },
    fromMetadata,
    classNames,
    threshold,
    scoreOutput: str(KEYS.scoreOutput),
    logitsOutput: str(KEYS.logitsOutput),
    exported: undefined,
    notes,
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The contract `densehybrid export --format onnx` writes (JSON under {@link CONTRACT_KEY}). */
function exportedContract(text: string): ModelContract {
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    throw bad(`${CONTRACT_KEY} to be JSON`, text.slice(0, 80));
  }
  if (!isRecord(c) || c['format'] !== EXPORT_FORMAT || c['version'] !== EXPORT_FORMAT_VERSION)
    throw bad(
      `${CONTRACT_KEY} of format "${EXPORT_FORMAT}" version ${EXPORT_FORMAT_VERSION} (a newer exporter? rebuild this page)`,
      isRecord(c) ? { format: c['format'], version: c['version'] } : c,
    );
  const input = c['input'];
  const outputs = c['outputs'];
  if (!isRecord(input) || !isRecord(outputs) || !isRecord(outputs['scores']))
    throw bad(`${CONTRACT_KEY} with input and outputs.scores`, Object.keys(c));
  const layout = String(input['layout']);
  const outputLayout = String(outputs['layout'] ?? layout);
  for (const l of [layout, outputLayout])
    if (l !== 'NCHW' && l !== 'NHWC') throw bad('layout NCHW or NHWC', l);
  const range = numbers(input['range']);
  if (range?.length !== 2 || !((range[1] as number) > (range[0] as number)))
    throw bad('input.range [lo, hi] with lo < hi', input['range']);
  if (input['channels'] !== undefined && input['channels'] !== 'RGB' && input['channels'] !== 'BGR')
    throw bad('input.channels RGB or BGR', input['channels']);
  const sizeMultiple = Number(input['sizeMultiple'] ?? 1);
  const minSize = Number(input['minSize'] ?? 1);
  const size = numbers(input['size']);
  const scores: Record<string, string> = {};
  for (const [name, output] of Object.entries(outputs['scores'])) scores[name] = String(output);
  const meta = isRecord(c['meta']) ? c['meta'] : {};
  const t = isRecord(meta['threshold']) ? meta['threshold'] : undefined;
  const threshold: StoredThreshold | undefined =
    t !== undefined && Number.isFinite(Number(t['value']))
      ? {
          value: Number(t['value']),
          // files written before thresholdRule existed mean greater-or-equal (core's StoredThreshold)
          thresholdRule: t['thresholdRule'] === 'greater' ? 'greater' : 'greater-or-equal',
          score: t['score'] === undefined ? undefined : String(t['score']),
        }
      : undefined;
  const classNames = Array.isArray(c['classNames']) ? c['classNames'].map(String) : undefined;
  const n = input['normalization'];
  const notes: string[] = [];
  if (isRecord(n))
    notes.push(
      `the graph normalises its input itself (mean ${JSON.stringify(n['mean'])}, std ${JSON.stringify(n['std'])}); fed [0, 1] RGB`,
    );
  const names = Object.keys(scores);
  return {
    input: {
      layout: layout as 'NCHW' | 'NHWC',
      channels: input['channels'] === 'BGR' ? 'BGR' : 'RGB',
      range: [range[0] as number, range[1] as number],
      // normalisation happens inside the exported graph: feed the range as it is
      mean: [0, 0, 0],
      std: [1, 1, 1],
      sizeMultiple: Number.isInteger(sizeMultiple) && sizeMultiple > 0 ? sizeMultiple : 1,
    },
    fromMetadata: ['layout', 'channels', 'range', 'mean', 'std', 'sizeMultiple'],
    classNames: classNames !== undefined && classNames.length > 0 ? classNames : undefined,
    threshold,
    scoreOutput: names[0] === undefined ? undefined : scores[names[0]],
    logitsOutput: typeof outputs['logits'] === 'string' ? outputs['logits'] : undefined,
    exported: {
      scores,
      closed: typeof outputs['closed'] === 'string' ? outputs['closed'] : undefined,
      outputLayout: outputLayout as 'NCHW' | 'NHWC',
      numClasses: Number(c['numClasses'] ?? classNames?.length ?? 0),
      size: size?.length === 2 ? [size[0] as number, size[1] as number] : undefined,
      minSize: Number.isInteger(minSize) && minSize > 0 ? minSize : 1,
    },
    notes,
  };
}

/** Score names of densehybrid, in the order the page prefers them as the default output. */
const SCORE_OUTPUT_NAMES = [
  'hybrid',
  'score',
  'scores',
  'anomaly_score',
  'generative',
  'discriminative',
  'max-softmax',
  'max_softmax',
  'max-logit',
  'max_logit',
  'entropy',
];

/** Which model outputs the page shows. */
export interface OutputRoles {
  /** Score maps the user can pick, the default first: the name shown and the output. */
  readonly scores: readonly { readonly name: string; readonly output: string }[];
  /** The logits output, if any. */
  readonly logits: string | undefined;
  /** An int32 closed-set output (argmax of the logits computed in the graph), if any. */
  readonly closed: string | undefined;
}

/**
 * Picks the score, logits and closed-set outputs: the exporter's contract, else the names the
 * metadata gives, else `logits` and the densehybrid score names (hybrid first), else every other
 * output as a score.
 *
 * @throws DenseHybridError `MODEL_LOAD` when a name in the metadata is not an output
 * @example
 * ```ts
 * outputRoles(['logits', 'posterior_logit', 'hybrid'], contract).scores[0]; // { name: 'hybrid', output: 'hybrid' }
 * ```
 */
export function outputRoles(outputNames: readonly string[], contract: ModelContract): OutputRoles {
  const check = (what: string, name: string | undefined): void => {
    if (name !== undefined && !outputNames.includes(name))
      throw new DenseHybridError(
        'MODEL_LOAD',
        `outputRoles: expected ${what} = ${JSON.stringify(name)} to be one of the model's outputs ${outputNames.join(', ')}`,
      );
  };
  const e = contract.exported;
  if (e !== undefined) {
    for (const [name, output] of Object.entries(e.scores)) check(`outputs.scores.${name}`, output);
    check('outputs.logits', contract.logitsOutput);
    check('outputs.closed', e.closed);
    return {
      scores: Object.entries(e.scores).map(([name, output]) => ({ name, output })),
      logits: contract.logitsOutput,
      closed: e.closed,
    };
  }
  check('outputs.score', contract.scoreOutput);
  check('outputs.logits', contract.logitsOutput);
  const logits = contract.logitsOutput ?? outputNames.find((n) => n.toLowerCase() === 'logits');
  const rank = (n: string): number => {
    if (n === contract.scoreOutput) return -1;
    const i = SCORE_OUTPUT_NAMES.indexOf(n.toLowerCase());
    return i === -1 ? SCORE_OUTPUT_NAMES.length : i;
  };
  const scores = outputNames
    .filter((n) => n !== logits)
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i)
    .map((x) => ({ name: x.n, output: x.n }));
  return { scores, logits, closed: undefined };
}

/** An image tensor's data and dims. */
export interface ImageTensor {
  readonly data: Float32Array;
  readonly dims: readonly [number, number, number, number];
}

/**
 * RGBA pixels (canvas `ImageData`) → the model's float32 input tensor, per the contract:
 * `x = ((lo + (hi − lo)·v/255) − mean[c]) / std[c]`.
 *
 * @param rgba `width*height*4` bytes
 * @example
 * ```ts
 * const t = imageTensor(imageData.data, imageData.width, imageData.height, contract.input);
 * new ort.Tensor('float32', t.data, t.dims);
 * ```
 */
export function imageTensor(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  contract: InputContract,
): ImageTensor {
  const n = width * height;
  if (rgba.length !== n * 4)
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `imageTensor: expected width*height*4 = ${n * 4} RGBA bytes, got ${rgba.length}`,
    );
  const [lo, hi] = contract.range;
  const scale = (hi - lo) / 255;
  const order = contract.channels === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const data = new Float32Array(n * 3);
  for (let c = 0; c < 3; c++) {
    const src = order[c] as number;
    const m = contract.mean[c] as number;
    const s = contract.std[c] as number;
    // identity contract ([0,1], no mean/std): v/255 exactly as tfjs' `div(x, 255)` rounds it
    const identity = lo === 0 && m === 0 && s === 1;
    for (let i = 0; i < n; i++) {
      const v = rgba[i * 4 + src] as number;
      const x = identity ? (v * (hi - lo)) / 255 : (lo + v * scale - m) / s;
      data[contract.layout === 'NCHW' ? c * n + i : i * 3 + c] = x;
    }
  }
  const dims: [number, number, number, number] =
    contract.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3];
  return { data, dims };
}
