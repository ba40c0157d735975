import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  ParamStore,
  segmentationModel,
  checkInt,
  checkIntList,
  checkRange,
  roundHalfEven,
  type BatchNormParams,
  type ConvParams,
  type Ops,
} from './layers.js';
import type { SegmentationModel } from './model.js';

/** Named size presets of {@link ladderDenseNet}. */
export type LadderDenseNetPreset = 'tiny' | 'small' | 'densenet121';

/** Every preset name, for option validation and CLIs. */
export const LADDER_DENSENET_PRESETS: readonly LadderDenseNetPreset[] = [
  'tiny',
  'small',
  'densenet121',
];

/** The architecture fields a preset fixes (all overridable through {@link LadderDenseNetOptions}). */
export interface LadderDenseNetArchitecture {
  /** DenseNet growth rate k (channels each dense layer adds). */
  readonly growthRate: number;
  /** Dense layers per block (4 blocks: strides 4, 8, 16, 32). */
  readonly blockConfig: readonly number[];
  /** Channels of the stem convolution. */
  readonly numInitFeatures: number;
  /** Bottleneck width multiplier: the 1×1 conv of a dense layer has `bnSize·growthRate` channels. */
  readonly bnSize: number;
  /** Transition compression: channels after a transition = `floor(channels·compression)`. */
  readonly compression: number;
  /** Spatial pyramid pooling width (bottleneck and output channels); each level has `sppSize / sppGrids.length`. */
  readonly sppSize: number;
  /** SPP grid heights; widths follow the aspect ratio (`max(1, round(ar·g))`, as the authors). */
  readonly sppGrids: readonly number[];
  /** Output channels of the three upsampling modules (strides 16, 8, 4); the last is the pre-logit width. */
  readonly upSizes: readonly number[];
}

/**
 * Preset architectures. `densenet121` is the authors' LDN-121 (torchvision DenseNet-121 encoder:
 * growth 32, blocks 6-12-24-16, 64 stem features, bn_size 4, compression 0.5; SPP 512 with grids
 * 8-4-2-1; upsampling 256-256-128). `small` and `tiny` keep the same topology, narrower and shallower,
 * for CPU training at 64–256 px.
 */
export const LADDER_DENSENET_PRESET_ARCHITECTURES: Readonly<
  Record<LadderDenseNetPreset, LadderDenseNetArchitecture>
> = {
  tiny: {
    growthRate: 12,
    blockConfig: [2, 2, 2, 2],
    numInitFeatures: 16,
    bnSize: 4,
    compression: 0.5,
    sppSize: 64,
    sppGrids: [8, 4, 2, 1],
    upSizes: [64, 32, 128],
  },
  small: {
    growthRate: 16,
    blockConfig: [3, 6, 12, 8],
    numInitFeatures: 32,
    bnSize: 4,
    compression: 0.5,
    sppSize: 256,
    sppGrids: [8, 4, 2, 1],
    upSizes: [128, 128, 128],
  },
  densenet121: {
    growthRate: 32,
    blockConfig: [6, 12, 24, 16],
    numInitFeatures: 64,
    bnSize: 4,
    compression: 0.5,
    sppSize: 512,
    sppGrids: [8, 4, 2, 1],
    upSizes: [256, 256, 128],
  },
};

/** Options of {@link ladderDenseNet}. Architecture fields override the preset's. */
export interface LadderDenseNetOptions extends Partial<LadderDenseNetArchitecture> {
  /**
   * Size preset.
   * @default 'tiny'
   */
  readonly preset?: LadderDenseNetPreset;
  /**
   * Number of known classes K (logit channels).
   * @default 19
   */
  readonly numClasses?: number;
  /**
   * Batch-norm momentum of the running statistics (PyTorch convention:
   * `running = (1 − m)·running + m·batch`). The authors' LDN code uses 0.01.
   * @default 0.1
   */
  readonly batchNormMomentum?: number;
  /**
   * Batch-norm epsilon.
   * @default 1e-5
   */
  readonly batchNormEpsilon?: number;
  /**
   * Seed of the weight initialisation (Kaiming normal for convs).
   * @default 0
   */
  readonly seed?: number;
}

/** Default options of {@link ladderDenseNet}. */
export const DEFAULT_LADDER_DENSENET_OPTIONS = {
  preset: 'tiny',
  numClasses: 19,
  batchNormMomentum: 0.1,
  batchNormEpsilon: 1e-5,
  seed: 0,
} as const satisfies LadderDenseNetOptions;

/** The fully resolved configuration a ladder DenseNet stores (and is rebuilt from). */
export interface LadderDenseNetConfig extends LadderDenseNetArchitecture {
  readonly architecture: 'ladderDenseNet';
  readonly preset: LadderDenseNetPreset;
  readonly numClasses: number;
  readonly batchNormMomentum: number;
  readonly batchNormEpsilon: number;
  readonly seed: number;
  readonly [key: string]: unknown;
}

/** A ladder-style DenseNet; `config` rebuilds it via {@link ladderDenseNet}. */
export interface LadderDenseNet extends SegmentationModel {
  readonly config: LadderDenseNetConfig;
}

interface BnReluConv {
  readonly norm: BatchNormParams;
  readonly conv: ConvParams;
}

interface LdnParams {
  readonly conv0: ConvParams;
  readonly norm0: BatchNormParams;
  readonly blocks: readonly (readonly {
    readonly unit1: BnReluConv;
    readonly unit2: BnReluConv;
  }[])[];
  readonly transitions: readonly BnReluConv[];
  readonly sppBottleneck: BnReluConv;
  readonly sppLevels: readonly BnReluConv[];
  readonly sppFuse: BnReluConv;
  readonly upsample: readonly { readonly bottleneck: BnReluConv; readonly blend: BnReluConv }[];
  readonly logits: BnReluConv;
  readonly sppGrids: readonly number[];
}

const FN = 'ladderDenseNet';

function resolveConfig(options: LadderDenseNetOptions): LadderDenseNetConfig {
  if (options === null || typeof options !== 'object') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected an options object, got ${describeValue(options)}`,
    );
  }
  const preset = options.preset ?? DEFAULT_LADDER_DENSENET_OPTIONS.preset;
  if (!LADDER_DENSENET_PRESETS.includes(preset)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected preset to be one of ${LADDER_DENSENET_PRESETS.map((p) => `'${p}'`).join(', ')}, got ${describeValue(preset)}`,
    );
  }
  const base = LADDER_DENSENET_PRESET_ARCHITECTURES[preset];
  const config: LadderDenseNetConfig = {
    architecture: 'ladderDenseNet',
    preset,
    numClasses: options.numClasses ?? DEFAULT_LADDER_DENSENET_OPTIONS.numClasses,
    growthRate: options.growthRate ?? base.growthRate,
    blockConfig: [...(options.blockConfig ?? base.blockConfig)],
    numInitFeatures: options.numInitFeatures ?? base.numInitFeatures,
    bnSize: options.bnSize ?? base.bnSize,
    compression: options.compression ?? base.compression,
    sppSize: options.sppSize ?? base.sppSize,
    sppGrids: [...(options.sppGrids ?? base.sppGrids)],
    upSizes: [...(options.upSizes ?? base.upSizes)],
    batchNormMomentum:
      options.batchNormMomentum ?? DEFAULT_LADDER_DENSENET_OPTIONS.batchNormMomentum,
    batchNormEpsilon: options.batchNormEpsilon ?? DEFAULT_LADDER_DENSENET_OPTIONS.batchNormEpsilon,
    seed: options.seed ?? DEFAULT_LADDER_DENSENET_OPTIONS.seed,
  };
  checkInt(FN, 'numClasses', config.numClasses, 1);
  checkInt(FN, 'growthRate', config.growthRate, 1);
  checkIntList(FN, 'blockConfig', config.blockConfig, 1, 4);
  checkInt(FN, 'numInitFeatures', config.numInitFeatures, 1);
  checkInt(FN, 'bnSize', config.bnSize, 1);
  checkInt(FN, 'sppSize', config.sppSize, 1);
  checkIntList(FN, 'sppGrids', config.sppGrids, 1);
  checkIntList(FN, 'upSizes', config.upSizes, 1, 3);
  checkInt(FN, 'seed', config.seed, 0);
  if (config.sppSize % config.sppGrids.length !== 0) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${FN}: expected sppSize divisible by the number of SPP grids (${config.sppGrids.length}), got ${config.sppSize}`,
    );
  }
  checkRange(FN, 'compression', config.compression, 0, 1);
  checkRange(FN, 'batchNormMomentum', config.batchNormMomentum, 0, 1);
  checkRange(FN, 'batchNormEpsilon', config.batchNormEpsilon, 0, 1);
  return config;
}

function buildParams(config: LadderDenseNetConfig, store: ParamStore): LdnParams {
  const unit = (name: string, inC: number, outC: number, k: number, bias = false): BnReluConv => ({
    norm: store.batchNorm(`${name}.norm`, inC),
    conv: store.conv(`${name}.conv`, inC, outC, k, { bias }),
  });
  const f = 'backbone.features';
  const conv0 = store.conv(`${f}.conv0`, 3, config.numInitFeatures, 7, { stride: 2, pad: 3 });
  const norm0 = store.batchNorm(`${f}.norm0`, config.numInitFeatures);
  let channels = config.numInitFeatures;
  const blocks: { unit1: BnReluConv; unit2: BnReluConv }[][] = [];
  const transitions: BnReluConv[] = [];
  const skipChannels: number[] = [];
  const width = config.bnSize * config.growthRate;
  config.blockConfig.forEach((numLayers, b) => {
    const layers: { unit1: BnReluConv; unit2: BnReluConv }[] = [];
    for (let l = 0; l < numLayers; l++) {
      const p = `${f}.denseblock${b + 1}.denselayer${l + 1}`;
      const inC = channels + l * config.growthRate;
      layers.push({
        unit1: {
          norm: store.batchNorm(`${p}.norm1`, inC),
          conv: store.conv(`${p}.conv1`, inC, width, 1),
        },
        unit2: {
          norm: store.batchNorm(`${p}.norm2`, width),
          conv: store.conv(`${p}.conv2`, width, config.growthRate, 3),
        },
      });
    }
    blocks.push(layers);
    channels += numLayers * config.growthRate;
    if (b < config.blockConfig.length - 1) {
      skipChannels.push(channels);
      const out = Math.floor(channels * config.compression);
      transitions.push(unit(`${f}.transition${b + 1}`, channels, out, 1));
      channels = out;
    }
  });
  const s = 'spp.spp.spp';
  const level = config.sppSize / config.sppGrids.length;
  const sppBottleneck = unit(`${s}.spp_bn`, channels, config.sppSize, 1);
  const sppLevels = config.sppGrids.map((_, i) => unit(`${s}.spp${i}`, config.sppSize, level, 1));
  const sppFuse = unit(
    `${s}.spp_fuse`,
    config.sppSize + level * config.sppGrids.length,
    config.sppSize,
    1,
  );
  channels = config.sppSize;
  const upsample = config.upSizes.map((out, i) => {
    const p = `upsample.upsample_layers.upsample_${i}`;
    const skip = skipChannels[skipChannels.length - 1 - i] as number;
    const m = {
      bottleneck: unit(`${p}.bottleneck`, skip, channels, 1),
      blend: unit(`${p}.blend_conv`, channels, out, 3),
    };
    channels = out;
    return m;
  });
  const logits = unit('logits', channels, config.numClasses, 1, true);
  return {
    conv0,
    norm0,
    blocks,
    transitions,
    sppBottleneck,
    sppLevels,
    sppFuse,
    upsample,
    logits,
    sppGrids: config.sppGrids,
  };
}

/** BN → ReLU → Conv, the unit of the authors' LDN (`_BNReluConv`). */
function bnReluConv<T>(ops: Ops<T>, u: BnReluConv, x: T): T {
  return ops.conv(ops.relu(ops.batchNorm(x, u.norm)), u.conv);
}

/** The LDN forward pass, written once for tensors and for FLOP counting. */
function forward<T>(ops: Ops<T>, p: LdnParams, images: T): { preLogits: T; logits: T } {
  let x = ops.relu(ops.batchNorm(ops.conv(images, p.conv0), p.norm0));
  x = ops.maxPool(x, 2, 2, 0); // the authors' stem pool: 2×2, stride 2 (torchvision: 3×3)
  const skips: T[] = [];
  p.blocks.forEach((layers, b) => {
    const features: T[] = [x];
    for (const layer of layers) {
      const y = bnReluConv(ops, layer.unit2, bnReluConv(ops, layer.unit1, ops.concat(features)));
      features.push(y);
    }
    x = ops.concat(features);
    const transition = p.transitions[b];
    if (transition !== undefined) {
      skips.push(x); // lateral skip: the block output before its transition
      x = ops.avgPool(bnReluConv(ops, transition, x), 3, 2, 1);
    }
  });
  // Spatial pyramid pooling on the last block (stride 32).
  const [, h, w] = ops.shape(x);
  const aspect = w / h;
  const bottleneck = bnReluConv(ops, p.sppBottleneck, x);
  const levels: T[] = [bottleneck];
  p.sppLevels.forEach((unit, i) => {
    const g = p.sppGrids[i] as number;
    const pooled = ops.adaptiveAvgPool(bottleneck, g, Math.max(1, roundHalfEven(aspect * g)));
    levels.push(ops.resize(bnReluConv(ops, unit, pooled), h, w));
  });
  x = bnReluConv(ops, p.sppFuse, ops.concat(levels));
  // Ladder-style upsampling: resize to the skip's exact size, add its 1×1 projection, blend 3×3.
  p.upsample.forEach((m, i) => {
    const skip = bnReluConv(ops, m.bottleneck, skips[skips.length - 1 - i] as T);
    const [, sh, sw] = ops.shape(skip);
    x = bnReluConv(ops, m.blend, ops.add(ops.resize(x, sh, sw), skip));
  });
  return { preLogits: x, logits: bnReluConv(ops, p.logits, x) };
}

/**
 * Builds a ladder-style DenseNet (LDN; Krešo, Šegvić, Krapac; the backbone of DenseHybrid): a
 * DenseNet encoder (stem conv 7×7/2 + max-pool 2×2/2, four dense blocks with transitions that
 * average-pool 3×3/2), spatial pyramid pooling on the last block, and three upsampling modules
 * that add 1×1-projected lateral skips of blocks 3, 2, 1 (strides 16, 8, 4), each followed by a
 * 3×3 blend. Every unit is BN → ReLU → Conv, as in the authors' code. `preLogits` are the output
 * of the last upsampling module (stride 4, `upSizes[2]` = 128 channels in every preset); `logits`
 * = BN → ReLU → Conv1×1 on them (K channels, stride 4, not upsampled).
 *
 * Parameter names are the authors' `state_dict` keys (`backbone.features.conv0.weight`,
 * `spp.spp.spp.spp_bn.norm.running_mean`, `upsample.upsample_layers.upsample_0.blend_conv.conv.weight`,
 * `logits.conv.bias`, …); conv weights are stored HWIO.
 *
 * For an `H×W` input the pre-logits are `floor(ceil(H/2)/2) × floor(ceil(W/2)/2)` (any H, W ≥ 1).
 *
 * @param options - preset and overrides; see {@link LadderDenseNetOptions}.
 * @returns the model; call `dispose()` to free its variables.
 * @throws DenseHybridError `INVALID_OPTION` for an unknown preset or invalid sizes.
 * @example
 * ```ts
 * const model = ladderDenseNet({ preset: 'tiny', numClasses: 3 });
 * const { preLogits, logits } = model.apply(tf.zeros([1, 97, 131, 3]));
 * console.log(preLogits.shape, logits.shape); // [1, 24, 33, 128] [1, 24, 33, 3]
 * tf.dispose([preLogits, logits]);
 * model.dispose();
 * ```
 */
export function ladderDenseNet(options: LadderDenseNetOptions = {}): LadderDenseNet {
  const config = resolveConfig(options);
  const store = new ParamStore(config.seed, config.batchNormMomentum, config.batchNormEpsilon);
  const params = buildParams(config, store);
  const upSizes = config.upSizes;
  return segmentationModel({
    fn: FN,
    config,
    store,
    preLogitChannels: upSizes[upSizes.length - 1] as number,
    preLogitStride: 4,
    outputStride: 4,
    forward: (ops, images) => forward(ops, params, images),
  });
}
