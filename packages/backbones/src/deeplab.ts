import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  ParamStore,
  segmentationModel,
  checkInt,
  checkRange,
  type BatchNormParams,
  type ConvParams,
  type Ops,
} from './layers.js';
import type { SegmentationModel } from './model.js';

/** ResNet encoders of {@link deeplabV3Plus}. */
export type ResNetEncoder = 'resnet18' | 'resnet50';

/** Every encoder name. */
export const RESNET_ENCODERS: readonly ResNetEncoder[] = ['resnet18', 'resnet50'];

/** Options of {@link deeplabV3Plus}. */
export interface DeepLabV3PlusOptions {
  /**
   * ResNet encoder (torchvision `resnet18` / `resnet50`).
   * @default 'resnet18'
   */
  readonly encoder?: ResNetEncoder;
  /**
   * DeepLab's output stride of the encoder: 16 dilates layer4 (ASPP rates 6/12/18), 8 dilates
   * layer3 and layer4 (rates 12/24/36).
   * @default 16
   */
  readonly outputStride?: 8 | 16;
  /**
   * Number of known classes K.
   * @default 19
   */
  readonly numClasses?: number;
  /**
   * Width of the first ResNet stage (64 in torchvision; smaller values give a CPU-friendly
   * network that no longer matches ImageNet weights).
   * @default 64
   */
  readonly baseWidth?: number;
  /**
   * ASPP branch width and its 1×1 bottleneck output (`bot_aspp`).
   * @default 256
   */
  readonly asppChannels?: number;
  /**
   * Width of the projection of the stride-4 skip (`bot_fine`).
   * @default 48
   */
  readonly lowLevelChannels?: number;
  /**
   * Width of the two 3×3 decoder convolutions (`final`).
   * @default 256
   */
  readonly decoderChannels?: number;
  /**
   * Normalise inputs with the ImageNet mean/std inside the network, as the authors' DeepLabV3+
   * does (inputs stay `[0, 1]` RGB).
   * @default true
   */
  readonly normalizeInput?: boolean;
  /** Batch-norm momentum (PyTorch convention). @default 0.1 */
  readonly batchNormMomentum?: number;
  /** Batch-norm epsilon. @default 1e-5 */
  readonly batchNormEpsilon?: number;
  /** Seed of the weight initialisation. @default 0 */
  readonly seed?: number;
}

/** Default options of {@link deeplabV3Plus}. */
export const DEFAULT_DEEPLAB_V3_PLUS_OPTIONS = {
  encoder: 'resnet18',
  outputStride: 16,
  numClasses: 19,
  baseWidth: 64,
  asppChannels: 256,
  lowLevelChannels: 48,
  decoderChannels: 256,
  normalizeInput: true,
  batchNormMomentum: 0.1,
  batchNormEpsilon: 1e-5,
  seed: 0,
} as const satisfies DeepLabV3PlusOptions;

/** The resolved configuration of a DeepLabV3+ (rebuilds it via {@link deeplabV3Plus}). */
export type DeepLabV3PlusConfig = { readonly architecture: 'deeplabV3Plus' } & {
  readonly [K in keyof typeof DEFAULT_DEEPLAB_V3_PLUS_OPTIONS]-?: NonNullable<
    DeepLabV3PlusOptions[K]
  >;
} & { readonly [key: string]: unknown };

/** A DeepLabV3+; `config` rebuilds it via {@link deeplabV3Plus}. */
export interface DeepLabV3Plus extends SegmentationModel {
  readonly config: DeepLabV3PlusConfig;
}

interface ConvBn {
  readonly conv: ConvParams;
  readonly bn: BatchNormParams;
}

interface Block {
  readonly units: readonly ConvBn[];
  readonly downsample: ConvBn | undefined;
}

interface DeepLabParams {
  readonly stem: ConvBn;
  readonly layers: readonly (readonly Block[])[];
  readonly imagePool: ConvBn;
  readonly aspp: readonly ConvBn[];
  readonly botAspp: ConvParams;
  readonly botFine: ConvParams;
  readonly final: readonly ConvBn[];
  readonly classifier: ConvParams;
}

const FN = 'deeplabV3Plus';
/** ImageNet RGB mean / std (torchvision), what the DeepLabV3+ networks normalise with. @internal */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/** @internal */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

function resolveConfig(options: DeepLabV3PlusOptions): DeepLabV3PlusConfig {
  if (options === null || typeof options !== 'object') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected an options object, got ${describeValue(options)}`,
    );
  }
  const config: DeepLabV3PlusConfig = {
    architecture: 'deeplabV3Plus',
    ...DEFAULT_DEEPLAB_V3_PLUS_OPTIONS,
    ...(Object.fromEntries(
      Object.entries(options).filter(([, v]) => v !== undefined),
    ) as DeepLabV3PlusOptions),
  } as DeepLabV3PlusConfig;
  if (!RESNET_ENCODERS.includes(config.encoder)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected encoder to be one of ${RESNET_ENCODERS.map((e) => `'${e}'`).join(', ')}, got ${describeValue(config.encoder)}`,
    );
  }
  if (config.outputStride !== 8 && config.outputStride !== 16) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected outputStride to be 8 or 16, got ${describeValue(config.outputStride)}`,
    );
  }
  checkInt(FN, 'numClasses', config.numClasses, 1);
  checkInt(FN, 'baseWidth', config.baseWidth, 1);
  checkInt(FN, 'asppChannels', config.asppChannels, 1);
  checkInt(FN, 'lowLevelChannels', config.lowLevelChannels, 1);
  checkInt(FN, 'decoderChannels', config.decoderChannels, 1);
  checkInt(FN, 'seed', config.seed, 0);
  checkRange(FN, 'batchNormMomentum', config.batchNormMomentum, 0, 1);
  checkRange(FN, 'batchNormEpsilon', config.batchNormEpsilon, 0, 1);
  return config;
}

function buildParams(config: DeepLabV3PlusConfig, store: ParamStore): DeepLabParams {
  const convBn = (
    conv: string,
    bn: string,
    inC: number,
    outC: number,
    k: number,
    o: { stride?: number; dilation?: number } = {},
  ): ConvBn => ({
    conv: store.conv(conv, inC, outC, k, o),
    bn: store.batchNorm(bn, outC),
  });
  const bottleneck = config.encoder === 'resnet50';
  const expansion = bottleneck ? 4 : 1;
  const depths = bottleneck ? [3, 4, 6, 3] : [2, 2, 2, 2];
  // torchvision replace_stride_with_dilation: OS16 → [F, F, T], OS8 → [F, T, T] for layer2..4.
  const dilate =
    config.outputStride === 8 ? [false, false, true, true] : [false, false, false, true];
  const w0 = config.baseWidth;
  const stem = convBn('conv1', 'bn1', 3, w0, 7, { stride: 2 });
  let inC = w0;
  let dilation = 1;
  const layers = depths.map((depth, li) => {
    const planes = w0 * 2 ** li;
    let stride = li === 0 ? 1 : 2;
    const previousDilation = dilation;
    if (dilate[li]) {
      dilation *= stride;
      stride = 1;
    }
    const blocks: Block[] = [];
    for (let b = 0; b < depth; b++) {
      const p = `layer${li + 1}.${b}`;
      const s = b === 0 ? stride : 1;
      const d = b === 0 ? previousDilation : dilation;
      const outC = planes * expansion;
      const units = bottleneck
        ? [
            convBn(`${p}.conv1`, `${p}.bn1`, inC, planes, 1),
            convBn(`${p}.conv2`, `${p}.bn2`, planes, planes, 3, { stride: s, dilation: d }),
            convBn(`${p}.conv3`, `${p}.bn3`, planes, outC, 1),
          ]
        : [
            convBn(`${p}.conv1`, `${p}.bn1`, inC, planes, 3, { stride: s, dilation: d }),
            convBn(`${p}.conv2`, `${p}.bn2`, planes, planes, 3, { dilation }),
          ];
      const downsample =
        b === 0 && (s !== 1 || inC !== outC)
          ? convBn(`${p}.downsample.0`, `${p}.downsample.1`, inC, outC, 1, { stride: s })
          : undefined;
      blocks.push({ units, downsample });
      inC = outC;
    }
    return blocks;
  });
  const a = config.asppChannels;
  const rates = config.outputStride === 8 ? [12, 24, 36] : [6, 12, 18];
  const imagePool = convBn('aspp.img_conv.0', 'aspp.img_conv.1', inC, a, 1);
  const aspp = [
    convBn('aspp.features.0.0', 'aspp.features.0.1', inC, a, 1),
    ...rates.map((r, i) =>
      convBn(`aspp.features.${i + 1}.0`, `aspp.features.${i + 1}.1`, inC, a, 3, { dilation: r }),
    ),
  ];
  const botAspp = store.conv('bot_aspp', a * (2 + rates.length), a, 1);
  const botFine = store.conv('bot_fine', w0 * expansion, config.lowLevelChannels, 1);
  const d = config.decoderChannels;
  const final = [
    convBn('final.0', 'final.1', config.lowLevelChannels + a, d, 3),
    convBn('final.3', 'final.4', d, d, 3),
  ];
  const classifier = store.conv('final.6', d, config.numClasses, 1);
  return { stem, layers, imagePool, aspp, botAspp, botFine, final, classifier };
}

const convBnRelu = <T>(ops: Ops<T>, u: ConvBn, x: T): T =>
  ops.relu(ops.batchNorm(ops.conv(x, u.conv), u.bn));

/** The DeepLabV3+ forward pass, written once for tensors and for FLOP counting. */
function forward<T>(ops: Ops<T>, p: DeepLabParams, images: T): { preLogits: T; logits: T } {
  let x = ops.maxPool(convBnRelu(ops, p.stem, images), 3, 2, 1);
  let low: T | undefined;
  for (const blocks of p.layers) {
    for (const block of blocks) {
      let y = x;
      block.units.forEach((u, i) => {
        y = ops.batchNorm(ops.conv(y, u.conv), u.bn);
        if (i < block.units.length - 1) y = ops.relu(y);
      });
      const identity =
        block.downsample === undefined
          ? x
          : ops.batchNorm(ops.conv(x, block.downsample.conv), block.downsample.bn);
      x = ops.relu(ops.add(y, identity));
    }
    low ??= x; // layer1 output: the stride-4 skip
  }
  // ASPP: image pooling first, then the 1×1 and the three dilated 3×3 branches (authors' order).
  const [, h, w] = ops.shape(x);
  const pooled = convBnRelu(ops, p.imagePool, ops.adaptiveAvgPool(x, 1, 1));
  const branches = [ops.resize(pooled, h, w, true), ...p.aspp.map((u) => convBnRelu(ops, u, x))];
  const up = ops.conv(ops.concat(branches), p.botAspp);
  const lowLevel = low as T;
  const [, lh, lw] = ops.shape(lowLevel);
  const preLogits = ops.concat([ops.conv(lowLevel, p.botFine), ops.resize(up, lh, lw, true)]);
  let y = preLogits;
  for (const u of p.final) y = convBnRelu(ops, u, y);
  return { preLogits, logits: ops.conv(y, p.classifier) };
}

/**
 * Builds DeepLabV3+ with a torchvision ResNet-18/50 encoder (output stride 8 or 16 through
 * dilated layer3/layer4), ASPP (image pooling + 1×1 + three dilated 3×3 branches, rates 6/12/18
 * at stride 16, doubled at 8), and the decoder of the authors' code: the ASPP output projected to
 * `asppChannels` (`bot_aspp`), upsampled (bilinear, align_corners=True) to the stride-4 layer1
 * map and concatenated after its 48-channel projection (`bot_fine`); then two 3×3 conv-BN-ReLU and
 * a 1×1 classifier (`final.*`).
 *
 * `preLogits` is that concatenation — `lowLevelChannels + asppChannels` = 304 channels — where
 * the authors attach the dataset-posterior head. With a ResNet it lies at **stride 4** (the
 * authors' WideResNet-38 trunk has its skip at stride 2). `logits` are at stride 4 too. The
 * network normalises `[0, 1]` inputs with ImageNet statistics itself (`normalizeInput`).
 *
 * Encoder names are torchvision's (`conv1.weight`, `layer3.0.downsample.1.running_var`, …), head
 * names the authors' (`aspp.features.1.0.weight`, `bot_fine.weight`, `final.6.weight`); conv
 * weights are stored HWIO. Training dilated convolutions needs gradients for dilated `conv2d`,
 * which tfjs lacks; `registerTrainingKernels()` of `@densehybrid/tfjs-wasm-training` adds them.
 *
 * @param options - see {@link DeepLabV3PlusOptions}.
 * @returns the model; call `dispose()` to free its variables.
 * @throws DenseHybridError `INVALID_OPTION` for an unknown encoder, output stride or bad sizes.
 * @example
 * ```ts
 * const model = deeplabV3Plus({ encoder: 'resnet18', outputStride: 16, numClasses: 19 });
 * const { preLogits, logits } = model.apply(tf.zeros([1, 97, 131, 3]));
 * console.log(preLogits.shape, logits.shape); // [1, 25, 33, 304] [1, 25, 33, 19]
 * tf.dispose([preLogits, logits]);
 * model.dispose();
 * ```
 */
export function deeplabV3Plus(options: DeepLabV3PlusOptions = {}): DeepLabV3Plus {
  const config = resolveConfig(options);
  const store = new ParamStore(config.seed, config.batchNormMomentum, config.batchNormEpsilon);
  const params = buildParams(config, store);
  return segmentationModel({
    fn: FN,
    config,
    store,
    preLogitChannels: config.lowLevelChannels + config.asppChannels,
    preLogitStride: 4,
    outputStride: 4,
    forward: (ops, images) => forward(ops, params, images),
    ...(config.normalizeInput
      ? { inputNormalization: { mean: IMAGENET_MEAN, std: IMAGENET_STD } }
      : {}),
  });
}
