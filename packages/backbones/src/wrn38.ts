import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  ParamStore,
  segmentationModel,
  checkInt,
  checkRange,
  bnRelu as bnReluOp,
  convBnRelu as convBnReluOp,
  dropout2d,
  stage,
  type BatchNormParams,
  type ConvParams,
  type Ops,
  type TraceableSegmentationModel,
} from './layers.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './deeplab.js';
import type { ApplyOptions, SegmentationOutput } from './model.js';

/** Options of {@link deeplabV3PlusWrn38}. */
export interface DeepLabV3PlusWrn38Options {
  /**
   * Number of known classes K (the authors' Fishyscapes model: the 19 Cityscapes classes).
   * @default 19
   */
  readonly numClasses?: number;
  /**
   * Divides every channel width (trunk, ASPP, decoder) — 2, 4, 8 or 16 give a CPU-sized network
   * of the same topology and parameter names for tests; anything but 1 no longer matches the
   * authors' weights.
   * @default 1
   */
  readonly widthDivisor?: 1 | 2 | 4 | 8 | 16;
  /**
   * Normalise `[0, 1]` RGB inputs with the ImageNet mean/std inside the network, as
   * `DeepWV3PlusTH` does.
   * @default true
   */
  readonly normalizeInput?: boolean;
  /** Batch-norm momentum (PyTorch convention; the authors' `Norm2d` uses PyTorch's 0.1). @default 0.1 */
  readonly batchNormMomentum?: number;
  /** Batch-norm epsilon. @default 1e-5 */
  readonly batchNormEpsilon?: number;
  /** Seed of the weight initialisation. @default 0 */
  readonly seed?: number;
}

/** Default options of {@link deeplabV3PlusWrn38}. */
export const DEFAULT_DEEPLAB_V3_PLUS_WRN38_OPTIONS = {
  numClasses: 19,
  widthDivisor: 1,
  normalizeInput: true,
  batchNormMomentum: 0.1,
  batchNormEpsilon: 1e-5,
  seed: 0,
} as const satisfies DeepLabV3PlusWrn38Options;

/** The resolved configuration of a {@link deeplabV3PlusWrn38} (rebuilds it). */
export type DeepLabV3PlusWrn38Config = { readonly architecture: 'deeplabV3PlusWrn38' } & {
  readonly [K in keyof typeof DEFAULT_DEEPLAB_V3_PLUS_WRN38_OPTIONS]-?: NonNullable<
    DeepLabV3PlusWrn38Options[K]
  >;
} & { readonly [key: string]: unknown };

/** DeepLabV3+ on a WideResNet-38 trunk; `config` rebuilds it via {@link deeplabV3PlusWrn38}. */
export interface DeepLabV3PlusWrn38 extends TraceableSegmentationModel {
  readonly config: DeepLabV3PlusWrn38Config;
}

/**
 * One stage (`mod2` … `mod7`) of WiderResNetA2-38 with `dilation=True`: block widths (two: basic
 * 3×3-3×3 blocks; three: 1×1-3×3-1×1 bottlenecks), number of blocks, stride of the first block,
 * dilation of every 3×3 conv, Dropout2d rate before the last conv (training only).
 */
interface StageSpec {
  readonly widths: readonly number[];
  readonly blocks: number;
  readonly stride: number;
  readonly dilation: number;
  readonly dropout: number;
}

/**
 * The trunk as DeepWV3Plus builds it (`wider_resnet38_a2(dilation=True)`): strides 2 (pool2),
 * 4 (pool3), 8 (first block of mod4); mod5 dilated ×2, mod6/mod7 ×4; output stride 8.
 */
const WRN38_STAGES: readonly StageSpec[] = [
  { widths: [128, 128], blocks: 3, stride: 1, dilation: 1, dropout: 0 },
  { widths: [256, 256], blocks: 3, stride: 1, dilation: 1, dropout: 0 },
  { widths: [512, 512], blocks: 6, stride: 2, dilation: 1, dropout: 0 },
  { widths: [512, 1024], blocks: 3, stride: 1, dilation: 2, dropout: 0 },
  { widths: [512, 1024, 2048], blocks: 1, stride: 1, dilation: 4, dropout: 0.3 },
  { widths: [1024, 2048, 4096], blocks: 1, stride: 1, dilation: 4, dropout: 0.5 },
];

/** A pre-activation ("identity mapping") residual block of WiderResNet. */
interface PreActBlock {
  /** `bn1`: BN + ReLU of the block input, shared by the residual branch and `proj_conv`. */
  readonly bn1: BatchNormParams;
  /** `convs.conv1`, `convs.conv2` [, `convs.conv3`]. */
  readonly convs: readonly ConvParams[];
  /** `convs.bn2` [, `convs.bn3`]: BN + ReLU before every conv but the first. */
  readonly bns: readonly BatchNormParams[];
  /** `proj_conv` (1×1, the block's stride) when the shape changes; else the identity shortcut. */
  readonly proj: ConvParams | undefined;
  readonly dropout: number;
}

interface ConvBn {
  readonly conv: ConvParams;
  readonly bn: BatchNormParams;
}

interface Wrn38Params {
  readonly stem: ConvParams;
  readonly stages: readonly (readonly PreActBlock[])[];
  readonly imagePool: ConvBn;
  readonly aspp: readonly ConvBn[];
  readonly botAspp: ConvParams;
  readonly botFine: ConvParams;
  readonly final: readonly ConvBn[];
  readonly classifier: ConvParams;
}

const FN = 'deeplabV3PlusWrn38';
const DIVISORS = [1, 2, 4, 8, 16] as const;
/** ASPP rates at output stride 8 (`_AtrousSpatialPyramidPoolingModule(output_stride=8)`: 2 × 6/12/18). */
const ASPP_RATES = [12, 24, 36] as const;

function resolveConfig(options: DeepLabV3PlusWrn38Options): DeepLabV3PlusWrn38Config {
  if (options === null || typeof options !== 'object') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected an options object, got ${describeValue(options)}`,
    );
  }
  const config = {
    architecture: 'deeplabV3PlusWrn38',
    ...DEFAULT_DEEPLAB_V3_PLUS_WRN38_OPTIONS,
    ...(Object.fromEntries(
      Object.entries(options).filter(([, v]) => v !== undefined),
    ) as DeepLabV3PlusWrn38Options),
  } as DeepLabV3PlusWrn38Config;
  checkInt(FN, 'numClasses', config.numClasses, 1);
  if (!(DIVISORS as readonly unknown[]).includes(config.widthDivisor)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected widthDivisor to be one of ${DIVISORS.join(', ')}, got ${describeValue(config.widthDivisor)}`,
    );
  }
  if (typeof config.normalizeInput !== 'boolean') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected normalizeInput to be a boolean, got ${describeValue(config.normalizeInput)}`,
    );
  }
  checkInt(FN, 'seed', config.seed, 0);
  checkRange(FN, 'batchNormMomentum', config.batchNormMomentum, 0, 1);
  checkRange(FN, 'batchNormEpsilon', config.batchNormEpsilon, 0, 1);
  return config;
}

function buildParams(config: DeepLabV3PlusWrn38Config, store: ParamStore): Wrn38Params {
  const d = config.widthDivisor;
  // WiderResNet's norm_act is Sequential(BN, ReLU): the BN's names end in `.0`.
  const normAct = (name: string, c: number): BatchNormParams => store.batchNorm(`${name}.0`, c);
  const stem = store.conv('mod1.conv1', 3, 64 / d, 3);
  let inC = 64 / d;
  const stages = WRN38_STAGES.map((s, i) => {
    const mod = `mod${i + 2}`;
    const widths = s.widths.map((w) => w / d);
    const blocks: PreActBlock[] = [];
    for (let b = 0; b < s.blocks; b++) {
      const p = `${mod}.block${b + 1}`;
      const stride = b === 0 ? s.stride : 1;
      const dil = { dilation: s.dilation };
      const outC = widths[widths.length - 1] as number;
      const bn1 = normAct(`${p}.bn1`, inC);
      // registration order of PyTorch's state_dict: bn1, convs.conv1, convs.bn2, convs.conv2, …
      const convs: ConvParams[] = [];
      const bns: BatchNormParams[] = [];
      const bottleneck = widths.length === 3;
      let c = inC;
      widths.forEach((width, j) => {
        if (j > 0) bns.push(normAct(`${p}.convs.bn${j + 1}`, c));
        const k = bottleneck && j !== 1 ? 1 : 3;
        const o = j === 0 ? { stride, ...(k === 3 ? dil : {}) } : k === 3 ? dil : {};
        convs.push(store.conv(`${p}.convs.conv${j + 1}`, c, width, k, o));
        c = width;
      });
      const proj =
        stride !== 1 || inC !== outC
          ? store.conv(`${p}.proj_conv`, inC, outC, 1, { stride })
          : undefined;
      blocks.push({ bn1, convs, bns, proj, dropout: s.dropout });
      inC = outC;
    }
    return blocks;
  });
  const convBn = (
    conv: string,
    bn: string,
    cin: number,
    cout: number,
    k: number,
    dilation = 1,
  ): ConvBn => ({
    conv: store.conv(conv, cin, cout, k, { dilation }),
    bn: store.batchNorm(bn, cout),
  });
  const a = 256 / d;
  const aspp = [
    convBn('aspp.features.0.0', 'aspp.features.0.1', inC, a, 1),
    ...ASPP_RATES.map((r, i) =>
      convBn(`aspp.features.${i + 1}.0`, `aspp.features.${i + 1}.1`, inC, a, 3, r),
    ),
  ];
  const imagePool = convBn('aspp.img_conv.0', 'aspp.img_conv.1', inC, a, 1);
  const botFine = store.conv('bot_fine', 128 / d, 48 / d, 1);
  const botAspp = store.conv('bot_aspp', a * (2 + ASPP_RATES.length), a, 1);
  const dec = 256 / d;
  const final = [
    convBn('final.0', 'final.1', 48 / d + a, dec, 3),
    convBn('final.3', 'final.4', dec, dec, 3),
  ];
  const classifier = store.conv('final.6', dec, config.numClasses, 1);
  return { stem, stages, imagePool, aspp, botAspp, botFine, final, classifier };
}

/** `ReLU(BN(x))` as one stage (one fused op in inference), `x` released after it when `release`. */
const bnRelu = <T>(ops: Ops<T>, x: T, bn: BatchNormParams, release: boolean): T =>
  stage(ops, () => bnReluOp(ops, x, bn), release ? [x] : []);

/** `ReLU(BN(conv(x)))` as one stage (BN folded into the conv in inference). */
const convBnRelu = <T>(
  ops: Ops<T>,
  x: T,
  c: ConvParams,
  bn: BatchNormParams,
  release: boolean,
): T => stage(ops, () => convBnReluOp(ops, x, c, bn), release ? [x] : []);

/** `conv(x)` as one stage, `x` released after it when `release`. */
const conv = <T>(ops: Ops<T>, x: T, c: ConvParams, release: boolean): T =>
  stage(ops, () => ops.conv(x, c), release ? [x] : []);

/**
 * `IdentityResidualBlock.forward`: `a = ReLU(BN(x))`; shortcut `proj_conv(a)` or `x`; residual
 * `conv1(a)`, then ReLU(BN) → conv for each further conv (Dropout2d before the last, in training);
 * output residual + shortcut (no activation: the next block pre-activates). Op by op as stages,
 * each input released once nothing later reads it — `x` included.
 */
function block<T>(ops: Ops<T>, b: PreActBlock, x: T): T {
  const a = bnRelu(ops, x, b.bn1, false);
  const shortcut = b.proj === undefined ? x : stage(ops, () => ops.conv(a, b.proj!), [x]);
  let y = a;
  b.bns.forEach((bn, i) => {
    y = convBnRelu(ops, y, b.convs[i] as ConvParams, bn, true);
  });
  if (b.dropout > 0) y = dropout2d(ops, y, b.dropout);
  y = conv(ops, y, b.convs[b.convs.length - 1] as ConvParams, true);
  const residual = y;
  return stage(ops, () => ops.add(residual, shortcut), [residual, shortcut]);
}

/**
 * `DeepWV3PlusTH.forward` up to (not including) the final upsampling, written once for tensors and
 * shapes. Every op runs as a {@link stage} and frees what no later op reads, so that in inference
 * only the live feature maps are kept: what lets this 137 M-parameter network run at megapixel
 * sizes in the 4 GiB wasm heap (`activationBytes` walks the same schedule).
 */
function forward<T>(ops: Ops<T>, p: Wrn38Params, images: T): { preLogits: T; logits: T } {
  let x = conv(ops, images, p.stem, false); // mod1, stride 1 (images: the caller's)
  let m2: T | undefined;
  p.stages.forEach((blocks, i) => {
    // pool2 before mod2, pool3 before mod3 (max 3×3/2, pad 1); mod1's output is released,
    // mod2's (the decoder's skip, stride 2) kept
    if (i < 2) {
      const input = x;
      x = stage(ops, () => ops.maxPool(input, 3, 2, 1), input === m2 ? [] : [input]);
    }
    for (const b of blocks) x = block(ops, b, x);
    if (i === 0) m2 = x;
  });
  const skip = m2 as T;
  // ASPP on mod7's raw residual sum (DeepWV3Plus drops WiderResNet's bn_out): image pooling first.
  const trunk = x;
  const up = stage(ops, () => {
    const [, h, w] = ops.shape(trunk);
    const pool = ops.adaptiveAvgPool(trunk, 1, 1);
    const pooled = convBnReluOp(ops, pool, p.imagePool.conv, p.imagePool.bn);
    const branches = [
      ops.resize(pooled, h, w, true),
      ...p.aspp.map((u) => convBnReluOp(ops, trunk, u.conv, u.bn)),
    ];
    return ops.conv(ops.concat(branches), p.botAspp);
  }, [trunk]);
  const [, sh, sw] = ops.shape(skip);
  // dec0 = [bot_fine(mod2), upsample(bot_aspp(aspp), mod2 size, align_corners=True)]: 304 ch
  const preLogits = stage(
    ops,
    () => ops.concat([ops.conv(skip, p.botFine), ops.resize(up, sh, sw, true)]),
    [up, skip],
  );
  let y = preLogits;
  for (const u of p.final) y = convBnRelu(ops, y, u.conv, u.bn, y !== preLogits);
  return { preLogits, logits: conv(ops, y, p.classifier, true) };
}

/**
 * DeepLabV3+ on a WideResNet-38 trunk: the authors' Fishyscapes model (`DeepWV3PlusTH` of
 * matejgrcic/DenseHybrid, built on NVIDIA semantic-segmentation's DeepWV3Plus), with their eval
 * forward pass and `state_dict` names, so their checkpoints load 1:1.
 *
 * - Trunk (WiderResNetA2-38, `dilation=True`): `mod1` 3×3 conv 3→64; `pool2` (max 3×3/2) → `mod2`
 *   (3 blocks, 128 ch, stride 2); `pool3` → `mod3` (3 × 256, stride 4); `mod4` (6 × 512, first
 *   block strided: stride 8); `mod5` (3 × 1024, dilation 2); `mod6` (bottleneck 512-1024-2048,
 *   dilation 4, Dropout2d 0.3 in training); `mod7` (1024-2048-4096, dilation 4, Dropout2d 0.5).
 *   Pre-activation blocks: `bn1` (BN + ReLU), `convs.conv1`, `convs.bn2`, `convs.conv2`
 *   [, `convs.bn3`, `convs.conv3`], `proj_conv` on the pre-activated input where the shape
 *   changes. No final BN: the ASPP reads mod7's residual sum.
 * - ASPP over 4096 channels at output stride 8 (image pooling + 1×1 + 3×3 at rates 12/24/36,
 *   256 each), `bot_aspp` 1280 → 256, bilinear `align_corners=True` upsampling to `mod2`'s size,
 *   concatenated after `bot_fine` (1×1, 128 → 48 on `mod2`): the 304-channel `dec0` at
 *   **stride 2** — `preLogits`, where the authors attach the dataset-posterior head
 *   (`logits_ood`: BN → ReLU → 1×1, two channels; `@densehybrid/core`'s one-logit head with
 *   w₁ − w₀, b₁ − b₀ is the same model).
 * - `final`: 2 × (3×3 conv-BN-ReLU, 256) and a 1×1 classifier (`final.6`, no bias): `logits` at
 *   stride 2. The authors upsample logits and the OOD logits to the input size with
 *   `align_corners=True`; `upsampleAlignCorners` is true so that `@densehybrid/core`'s `predict`
 *   does the same.
 * - Input: `[0, 1]` RGB, normalised with the ImageNet mean/std inside the network.
 *
 * 137.1 M parameters (K = 19; 137,105,154 with the authors' OOD head). Every block runs as one
 * inference stage that frees its intermediates, so `activationBytes(h, w)` — not the sum of all
 * activations — bounds the memory of `apply`; see the package README for what fits in wasm.
 *
 * @param options - see {@link DeepLabV3PlusWrn38Options}.
 * @returns the model; call `dispose()` to free its variables (548 MB of float32 weights).
 * @throws DenseHybridError `INVALID_OPTION` for a bad class count, width divisor or BN setting.
 * @example
 * ```ts
 * const model = deeplabV3PlusWrn38({ numClasses: 19 });
 * const { preLogits, logits } = model.apply(tf.zeros([1, 32, 48, 3]));
 * console.log(preLogits.shape, logits.shape); // [1, 16, 24, 304] [1, 16, 24, 19]
 * tf.dispose([preLogits, logits]);
 * model.dispose();
 * ```
 */
export function deeplabV3PlusWrn38(options: DeepLabV3PlusWrn38Options = {}): DeepLabV3PlusWrn38 {
  const config = resolveConfig(options);
  const store = new ParamStore(config.seed, config.batchNormMomentum, config.batchNormEpsilon);
  const params = buildParams(config, store);
  const model = segmentationModel({
    fn: FN,
    config,
    store,
    preLogitChannels: (48 + 256) / config.widthDivisor,
    preLogitStride: 2,
    outputStride: 2,
    upsampleAlignCorners: true,
    // 548 MB of filters: wasm would otherwise keep prepared copies of them (≈ 2×) between calls
    transientWeights: true,
    forward: (ops, images) => forward(ops, params, images),
    ...(config.normalizeInput
      ? { inputNormalization: { mean: IMAGENET_MEAN, std: IMAGENET_STD } }
      : {}),
  });
  return {
    ...model,
    apply(images: tf.Tensor4D, applyOptions?: ApplyOptions): SegmentationOutput {
      const shape = (images as Partial<tf.Tensor4D> | null)?.shape;
      const pixels =
        Array.isArray(shape) && shape.length === 4 ? shape[0] * shape[1] * shape[2] : 0;
      // fail at once, not with a wasm "memory access out of bounds" minutes into the pass
      if (
        config.widthDivisor === 1 &&
        pixels > WRN38_WASM_MAX_PIXELS &&
        tf.getBackend() === 'wasm'
      ) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${FN}.apply: expected at most ${WRN38_WASM_MAX_PIXELS} pixels per batch (1024×2048) on the wasm backend, whose heap is 4 GiB, got ${pixels} (${shape!.join('×')}); use the tensorflow backend (tfjs-node) or a smaller image`,
        );
      }
      return model.apply(images, applyOptions);
    },
  };
}

/**
 * The largest batch × height × width {@link deeplabV3PlusWrn38} runs on tfjs' wasm backend:
 * 1024×2048 (Cityscapes / Fishyscapes frames) was measured to fit its 4 GiB heap (3.7 GiB at the
 * peak, through `predict` and the hybrid score); larger inputs are refused on wasm.
 *
 * @example
 * ```ts
 * WRN38_WASM_MAX_PIXELS; // 2097152
 * ```
 */
export const WRN38_WASM_MAX_PIXELS = 1024 * 2048;
