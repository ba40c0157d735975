import type * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  isTraceableSegmentationModel,
  type Shape4,
  type TraceableSegmentationModel,
} from '@densehybrid/backbones';
import {
  DEFAULT_DATASET_POSTERIOR_HEAD_OPTIONS,
  SCORE_NAMES,
  loadModel,
  modelConfig,
  type DenseHybridModel,
  type Detector,
  type ModelConfig,
  type ModelMeta,
  type ScoreName,
} from '@densehybrid/core';
import {
  ONNX_FORMAT,
  ONNX_FORMAT_VERSION,
  ONNX_IR_VERSION,
  ONNX_LAYOUTS,
  ONNX_OPSET,
  contractProps,
  scoreOutputName,
  type OnnxContract,
  type OnnxLayout,
} from './contract.js';
import { GraphBuilder } from './graph.js';
import { OnnxOps, TRACE_SIZES, bilinear, resolveSizes, type OnnxValue } from './ops.js';
import { TENSOR_TYPES, encodeModel, type ValueInfoMessage } from './proto.js';

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /**
   * Anomaly scores computed inside the graph (names of core's `SCORES`), one float32 output
   * `score_<name>` (`-` → `_`) each, `[N, H, W]` at the input size.
   * @default ['hybrid']
   */
  readonly scores?: readonly ScoreName[];
  /**
   * Also output the class logits at the input size (`logits`, `[N, H, W, K]` in NHWC).
   * @default true
   */
  readonly logits?: boolean;
  /**
   * Also output the posterior logits g at the input size (`posterior_logits`, `[N, H, W, 1]`).
   * @default true
   */
  readonly posteriorLogits?: boolean;
  /**
   * Layout of the input (`images`) and of the logits outputs: `NHWC` (`[N, H, W, 3]`, as tfjs
   * and image buffers) or `NCHW` (`[N, 3, H, W]`, as PyTorch).
   * @default 'NHWC'
   */
  readonly layout?: OnnxLayout;
  /**
   * Fix the input to `[H, W]` (a static graph). Without it height and width are dynamic: every
   * resize and pooling grid is computed from `Shape` nodes.
   * @default dynamic
   */
  readonly inputSize?: readonly [number, number];
  /**
   * Batch-norm ε of the dataset-posterior head (not stored on the head object; `loadModel`
   * builds heads with the default).
   * @default 1e-5
   */
  readonly headEpsilon?: number;
  /** Model meta to store (class names, calibrated threshold, …). @default the detector's / `{ classNames: [] }` */
  readonly meta?: ModelMeta;
}

/** Default options of {@link exportOnnx}. */
export const DEFAULT_EXPORT_ONNX_OPTIONS = {
  scores: ['hybrid'],
  logits: true,
  posteriorLogits: true,
  layout: 'NHWC',
  headEpsilon: DEFAULT_DATASET_POSTERIOR_HEAD_OPTIONS.epsilon,
} as const satisfies ExportOnnxOptions;

/**
 * What {@link exportOnnx} exports: a checkpoint folder or run folder (loaded with core's
 * `loadModel`, and disposed again), a loaded {@link Detector}, or a DenseHybrid model.
 */
export type OnnxExportSource = string | Detector | DenseHybridModel;

const FN = 'exportOnnx';
/** Suffixes of the dataset-posterior head's variables (core's `datasetPosteriorHead`). */
const HEAD_KEYS = [
  'bn.weight',
  'bn.bias',
  'bn.running_mean',
  'bn.running_var',
  'conv.weight',
  'conv.bias',
] as const;

function checkOptions(
  options: ExportOnnxOptions,
): Required<Omit<ExportOnnxOptions, 'inputSize' | 'meta'>> {
  if (options === null || typeof options !== 'object') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected an options object, got ${describeValue(options)}`,
    );
  }
  const d = DEFAULT_EXPORT_ONNX_OPTIONS;
  const scores = options.scores ?? d.scores;
  if (
    !Array.isArray(scores) ||
    scores.some((s) => !(SCORE_NAMES as readonly string[]).includes(s as string)) ||
    new Set(scores).size !== scores.length
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected options.scores to be distinct names of ${SCORE_NAMES.join(', ')}, got ${describeValue(scores)}`,
    );
  }
  const layout = options.layout ?? d.layout;
  if (!ONNX_LAYOUTS.includes(layout)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected options.layout to be one of ${ONNX_LAYOUTS.map((l) => `'${l}'`).join(', ')}, got ${describeValue(layout)}`,
    );
  }
  const size = options.inputSize;
  if (
    size !== undefined &&
    (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0))
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected options.inputSize to be [H, W] with positive integers, got ${describeValue(size)}`,
    );
  }
  const headEpsilon = options.headEpsilon ?? d.headEpsilon;
  if (typeof headEpsilon !== 'number' || !(headEpsilon > 0) || !Number.isFinite(headEpsilon)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected options.headEpsilon to be a finite number > 0, got ${describeValue(headEpsilon)}`,
    );
  }
  for (const flag of ['logits', 'posteriorLogits'] as const) {
    const v = options[flag];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${FN}: expected options.${flag} to be a boolean, got ${describeValue(v)}`,
      );
    }
  }
  return {
    scores,
    layout,
    headEpsilon,
    logits: options.logits ?? d.logits,
    posteriorLogits: options.posteriorLogits ?? d.posteriorLogits,
  };
}

/** The head's variables by suffix; throws when the head is not core's `datasetPosteriorHead`. */
function headVariables(model: DenseHybridModel): Record<(typeof HEAD_KEYS)[number], tf.Variable> {
  const found: Partial<Record<(typeof HEAD_KEYS)[number], tf.Variable>> = {};
  for (const [name, v] of model.head.variables) {
    const key = HEAD_KEYS.find((k) => name.endsWith(`.${k}`));
    if (key !== undefined) found[key] = v;
  }
  const missing = HEAD_KEYS.filter((k) => found[k] === undefined);
  if (missing.length > 0) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected the dataset-posterior head of core's datasetPosteriorHead (variables <name>.${HEAD_KEYS.join(', <name>.')}), got one without ${missing.join(', ')}`,
    );
  }
  return found as Record<(typeof HEAD_KEYS)[number], tf.Variable>;
}

const readVariable = async (v: tf.Variable): Promise<Float32Array> => {
  const data = await v.data();
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
};

/** Emits the backbone on `ops` for an NCHW input of (trace) size `size`. */
function traceBackbone(
  backbone: TraceableSegmentationModel,
  ops: OnnxOps,
  input: string,
  size: readonly [number, number],
): { preLogits: OnnxValue; logits: OnnxValue } {
  const shape: Shape4 = [1, size[0], size[1], 3];
  return backbone.applyOps(ops, ops.input(input, shape));
}

/** Smallest square input every layer of the backbone gives a non-empty output for (≤ 64). */
function minimumSize(backbone: TraceableSegmentationModel): number {
  for (let s = 1; s <= 64; s++) {
    const ops = new OnnxOps(new GraphBuilder(), 'record', readVariable, FN);
    const out = traceBackbone(backbone, ops, 'x', [s, s]);
    const ok =
      [out.preLogits, out.logits].every((v) => v.shape[1] >= 1 && v.shape[2] >= 1) &&
      ops.minSpatial >= 1;
    if (ok) return s;
  }
  return 64;
}

/** Scores on upsampled NCHW logits S `[N,K,H,W]` and posterior logits G `[N,1,H,W]`, each `[N,1,H,W]`. */
function scoreGraph(g: GraphBuilder, s: string, post: string) {
  const axes = g.int64([1]);
  const memo = new Map<string, string>();
  const once = (key: string, make: () => string): string => {
    let v = memo.get(key);
    if (v === undefined) {
      v = make();
      memo.set(key, v);
    }
    return v;
  };
  const max = () =>
    once('max', () => g.op('ReduceMax', [s], { axes: { ints: [1] }, keepdims: { i: 1 } }));
  // logsumexp(s) = m + ln Σ exp(s − m), m = max s
  const lse = () =>
    once('lse', () =>
      g.op('Add', [
        max(),
        g.op('Log', [
          g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [s, max()])]), axes], { keepdims: { i: 1 } }),
        ]),
      ]),
    );
  const softmax = () => once('softmax', () => g.op('Softmax', [s], { axis: { i: 1 } }));
  const builders: Record<ScoreName, () => string> = {
    // ln σ(g) − logsumexp(s), ln σ(g) = −softplus(−g)
    hybrid: () => g.op('Sub', [g.op('Neg', [g.op('Softplus', [g.op('Neg', [post])])]), lse()]),
    generative: () => g.op('Neg', [lse()]),
    discriminative: () => g.op('Sigmoid', [post]),
    'max-softmax': () =>
      g.op('Sub', [
        g.float([1], []),
        g.op('ReduceMax', [softmax()], { axes: { ints: [1] }, keepdims: { i: 1 } }),
      ]),
    'max-logit': () => g.op('Neg', [max()]),
    // −Σ p ln p = logsumexp(s) − Σ p s
    entropy: () =>
      g.op('Sub', [
        lse(),
        g.op('ReduceSum', [g.op('Mul', [softmax(), s]), axes], { keepdims: { i: 1 } }),
      ]),
  };
  return builders;
}

/**
 * Exports a DenseHybrid detector — backbone, dataset-posterior head, the bilinear upsampling to
 * the input size and the chosen anomaly scores — as one ONNX graph (opset 17, IR 8), written
 * with this package's own exporter: the backbone's forward pass (written once against the
 * backbones' `Ops`) is traced into ONNX nodes, weights become initializers, and the input
 * contract (layout, `[0, 1]` RGB, in-graph normalisation, size limits), class names and the
 * model file's meta (e.g. a calibrated threshold) go into `metadata_props` (see
 * {@link OnnxContract}). Height and width are dynamic unless `inputSize` is given.
 *
 * Inputs: `images` float32 `[N, H, W, 3]` (NHWC) or `[N, 3, H, W]` (NCHW), RGB in [0, 1].
 * Outputs: `score_<name>` float32 `[N, H, W]` per score, `closed` int32 `[N, H, W]`, and unless
 * switched off `logits` (`[N, H, W, K]`) and `posterior_logits` (`[N, H, W, 1]`) at the input
 * size, in the input's layout.
 *
 * @param source - a run or checkpoint folder, a loaded detector, or a DenseHybrid model (not
 *   disposed; a folder's model is loaded and disposed here).
 * @param options - see {@link ExportOnnxOptions}.
 * @returns the `.onnx` file's bytes.
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `INVALID_INPUT` for a model whose
 *   backbone cannot be traced, `MODEL_LOAD` / `IO` for a folder that does not load
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { exportOnnx } from '@densehybrid/onnx';
 * const bytes = await exportOnnx('runs/sh', { scores: ['hybrid', 'max-softmax'] });
 * await writeFile('model.onnx', bytes);
 * ```
 */
export async function exportOnnx(
  source: OnnxExportSource,
  options: ExportOnnxOptions = {},
): Promise<Uint8Array> {
  const o = checkOptions(options);
  if (typeof source === 'string') {
    const detector = await loadModel(source);
    try {
      return await exportModel(
        detector.model,
        detector.config,
        options.meta ?? detector.meta,
        o,
        options.inputSize,
      );
    } finally {
      detector.dispose();
    }
  }
  const s = source as Partial<Detector> & Partial<DenseHybridModel>;
  if (
    s !== null &&
    typeof s === 'object' &&
    s.model !== undefined &&
    s.meta !== undefined &&
    s.config !== undefined
  ) {
    return exportModel(s.model, s.config, options.meta ?? s.meta, o, options.inputSize);
  }
  if (s !== null && typeof s === 'object' && s.backbone !== undefined && s.head !== undefined) {
    const model = source as DenseHybridModel;
    return exportModel(
      model,
      modelConfig(model),
      options.meta ?? { classNames: [] },
      o,
      options.inputSize,
    );
  }
  throw new DenseHybridError(
    'INVALID_INPUT',
    `${FN}: expected a checkpoint folder, a detector (loadModel) or a DenseHybrid model, got ${describeValue(source)}`,
  );
}

async function exportModel(
  model: DenseHybridModel,
  config: ModelConfig,
  meta: ModelMeta,
  o: ReturnType<typeof checkOptions>,
  inputSize: readonly [number, number] | undefined,
): Promise<Uint8Array> {
  const backbone = model.backbone;
  if (!isTraceableSegmentationModel(backbone)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected a backbone of @densehybrid/backbones (its forward pass on Ops: applyOps), got one without applyOps (${describeValue(backbone.config?.architecture)})`,
    );
  }
  const head = headVariables(model);
  const K = model.numClasses;
  const channels = head['bn.weight'].shape[0] as number;
  if (channels !== backbone.preLogitChannels) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${FN}: expected a head on ${backbone.preLogitChannels} pre-logit channels, got ${channels}`,
    );
  }
  const nhwc = o.layout === 'NHWC';
  const norm = backbone.inputNormalization;
  // the backbone's input value: the same name in the recording traces and the graph
  const input = nhwc || norm ? 'backbone_input' : 'images';
  // 1. size rules: two recording traces (dynamic), or the fixed size
  let rules: ReturnType<typeof resolveSizes>;
  if (inputSize === undefined) {
    const [a, b] = TRACE_SIZES.map((size) => {
      const ops = new OnnxOps(new GraphBuilder(), 'record', readVariable, FN);
      traceBackbone(backbone, ops, input, size);
      return ops;
    }) as [OnnxOps, OnnxOps];
    if (a.log.join('\n') !== b.log.join('\n')) {
      const i = a.log.findIndex((l, k) => l !== b.log[k]);
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${FN}: expected the backbone to run the same operations at every input size, got ${describeValue(a.log[i] ?? null)} and ${describeValue(b.log[i] ?? null)} at op ${i} for ${TRACE_SIZES.map((s) => s.join('×')).join(' and ')}; export with a fixed inputSize`,
      );
    }
    rules = resolveSizes(FN, a.sizeCalls, b.sizeCalls);
  } else {
    const ops = new OnnxOps(new GraphBuilder(), 'record', readVariable, FN);
    const out = traceBackbone(backbone, ops, input, inputSize);
    if (!(out.logits.shape[1] >= 1 && out.logits.shape[2] >= 1 && ops.minSpatial >= 1)) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${FN}: expected options.inputSize large enough for the network, got ${inputSize.join('×')}`,
      );
    }
    rules = resolveSizes(FN, ops.sizeCalls, ops.sizeCalls);
  }
  const minSize = inputSize === undefined ? minimumSize(backbone) : 1;

  // 2. the graph
  const g = new GraphBuilder();
  let x = 'images';
  if (nhwc) x = g.op('Transpose', [x], { perm: { ints: [0, 3, 1, 2] } }, norm ? undefined : input);
  if (norm) {
    // (x − mean) / std, as the backbone's apply (the same two float32 operations)
    const centred = g.op('Sub', [x, g.float([...norm.mean], [1, 3, 1, 1])]);
    x = g.op('Div', [centred, g.float([...norm.std], [1, 3, 1, 1])], {}, input);
  }
  const ops = new OnnxOps(g, rules, readVariable, FN);
  const { preLogits, logits } = traceBackbone(
    backbone,
    ops,
    x,
    inputSize ?? (TRACE_SIZES[0] as [number, number]),
  );
  // dataset-posterior head g: BN → ReLU → Conv1×1 (one logit)
  const param = (key: (typeof HEAD_KEYS)[number], dims: readonly number[]) =>
    g.initializer(`head.${key}`, 'float', dims, async () =>
      GraphBuilder.floatBytes(await readVariable(head[key])),
    );
  const bn = g.op(
    'BatchNormalization',
    [
      preLogits.name,
      param('bn.weight', [channels]),
      param('bn.bias', [channels]),
      param('bn.running_mean', [channels]),
      param('bn.running_var', [channels]),
    ],
    { epsilon: { f: o.headEpsilon } },
  );
  const posterior = g.op(
    'Conv',
    [g.op('Relu', [bn]), param('conv.weight', [1, channels, 1, 1]), param('conv.bias', [1])],
    {
      kernel_shape: { ints: [1, 1] },
    },
    'posterior_logits_low',
  );
  // both upsampled bilinearly to the input size, as DenseHybridModel.predict: half-pixel centres
  // (align_corners=False), or align_corners=True where the backbone says so (WideResNet-38)
  const align = backbone.upsampleAlignCorners ?? false;
  const size = ops.spatialSize(x);
  const s = bilinear(g, logits.name, size, align, 'logits_nchw');
  const post = bilinear(g, posterior, size, align, 'posterior_logits_nchw');
  const outputs: ValueInfoMessage[] = [];
  const [H, W]: readonly [number | string, number | string] = inputSize ?? ['height', 'width'];
  const map = (c: number | string) =>
    (nhwc ? ['batch', H, W, c] : ['batch', c, H, W]) as (number | string)[];
  const squeeze = g.int64([1]);
  const builders = scoreGraph(g, s, post);
  const scoreNames: Partial<Record<ScoreName, string>> = {};
  for (const name of o.scores) {
    const out = scoreOutputName(name);
    g.op('Squeeze', [builders[name](), squeeze], {}, out);
    outputs.push({
      name: out,
      elemType: TENSOR_TYPES.float,
      dims: ['batch', H, W],
      docString: `${name} anomaly score, higher = more anomalous`,
    });
    scoreNames[name] = out;
  }
  g.op(
    'Cast',
    [g.op('ArgMax', [s], { axis: { i: 1 }, keepdims: { i: 0 } })],
    { to: { i: TENSOR_TYPES.int32 } },
    'closed',
  );
  outputs.push({
    name: 'closed',
    elemType: TENSOR_TYPES.int32,
    dims: ['batch', H, W],
    docString: 'closed-set prediction argmax_k s_k',
  });
  const toLayout = (v: string, out: string) =>
    nhwc
      ? g.op('Transpose', [v], { perm: { ints: [0, 2, 3, 1] } }, out)
      : g.op('Identity', [v], {}, out);
  if (o.logits) {
    toLayout(s, 'logits');
    outputs.push({
      name: 'logits',
      elemType: TENSOR_TYPES.float,
      dims: map(K),
      docString: 'class logits at the input size',
    });
  }
  if (o.posteriorLogits) {
    toLayout(post, 'posterior_logits');
    outputs.push({
      name: 'posterior_logits',
      elemType: TENSOR_TYPES.float,
      dims: map(1),
      docString: 'posterior logits g, sigmoid(g) = P(d_out|x)',
    });
  }
  const classNames =
    Array.isArray(meta.classNames) && meta.classNames.length === K
      ? meta.classNames
      : Array.from({ length: K }, (_, k) => `class ${k}`);
  const contract: OnnxContract = {
    format: ONNX_FORMAT,
    version: ONNX_FORMAT_VERSION,
    input: {
      name: 'images',
      layout: o.layout,
      dtype: 'float32',
      channels: 'RGB',
      range: [0, 1],
      normalization: norm ?? null,
      dynamic: inputSize === undefined,
      size: inputSize ? [inputSize[0], inputSize[1]] : null,
      minSize,
      sizeMultiple: 1,
    },
    outputs: {
      layout: o.layout,
      logits: o.logits ? 'logits' : null,
      posteriorLogits: o.posteriorLogits ? 'posterior_logits' : null,
      closed: 'closed',
      scores: scoreNames,
    },
    numClasses: K,
    classNames,
    outputStride: backbone.outputStride,
    config,
    meta,
  };
  const architecture = String(backbone.config.architecture);
  return encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET,
    producerName: 'densehybrid',
    producerVersion: `@densehybrid/onnx ${ONNX_FORMAT_VERSION}`,
    docString: `DenseHybrid detector (${architecture}, K=${K}): backbone, dataset-posterior head, bilinear upsampling, scores ${o.scores.join(', ')}`,
    graph: {
      name: `densehybrid_${architecture}`,
      nodes: g.nodes,
      initializers: await g.initializers(),
      inputs: [
        { name: 'images', elemType: TENSOR_TYPES.float, dims: map(3), docString: 'RGB in [0, 1]' },
      ],
      outputs,
    },
    metadata: contractProps(contract),
  });
}
