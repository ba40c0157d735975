import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { ModelConfig, ModelMeta, ScoreName } from '@densehybrid/core';
import type { InputNormalization } from '@densehybrid/backbones';

/**
 * The input contract and output names of an exported detector, stored as JSON in the ONNX file's
 * `metadata_props` under {@link CONTRACT_KEY} (with human-readable copies under
 * `densehybrid.input.*`), so that any runtime — ONNX Runtime in Node, onnxruntime-web in a
 * browser, Python — can feed the model correctly without this package.
 */

/** `metadata_props` key of the format name (value {@link ONNX_FORMAT}). */
export const FORMAT_KEY = 'densehybrid.format';
/** `metadata_props` key of the JSON {@link OnnxContract}. */
export const CONTRACT_KEY = 'densehybrid.contract';
/** The format name of exported detectors. */
export const ONNX_FORMAT = 'densehybrid/onnx';
/** The version of {@link OnnxContract} written. */
export const ONNX_FORMAT_VERSION = 1;
/** ONNX opset of the exported graphs (default domain). */
export const ONNX_OPSET = 17;
/** ONNX IR version of the exported files (the one of opset 17, ONNX 1.12). */
export const ONNX_IR_VERSION = 8;

/** Tensor layouts of the input (and of the logits outputs). */
export const ONNX_LAYOUTS = ['NHWC', 'NCHW'] as const;
/** One of {@link ONNX_LAYOUTS}. */
export type OnnxLayout = (typeof ONNX_LAYOUTS)[number];

/** What an exported detector expects and returns (the JSON under {@link CONTRACT_KEY}). */
export interface OnnxContract {
  readonly format: typeof ONNX_FORMAT;
  readonly version: typeof ONNX_FORMAT_VERSION;
  readonly input: {
    /** Graph input name. */
    readonly name: string;
    /** `NHWC` (`[N, H, W, 3]`) or `NCHW` (`[N, 3, H, W]`). */
    readonly layout: OnnxLayout;
    readonly dtype: 'float32';
    /** RGB, 8-bit values divided by 255. */
    readonly channels: 'RGB';
    readonly range: readonly [0, 1];
    /**
     * The normalisation the **graph** applies itself (`(x − mean) / std`); feed `[0, 1]` RGB in
     * either case. null: the network takes raw `[0, 1]` RGB.
     */
    readonly normalization: InputNormalization | null;
    /** Height and width are dynamic (`height`, `width`), or fixed to `size`. */
    readonly dynamic: boolean;
    /** `[H, W]` when not dynamic. */
    readonly size: readonly [number, number] | null;
    /** Smallest height and width the network accepts. */
    readonly minSize: number;
    /** Height and width must be multiples of this (1: any size). */
    readonly sizeMultiple: number;
  };
  readonly outputs: {
    /** Layout of `logits` and `posteriorLogits` (the input's). */
    readonly layout: OnnxLayout;
    /** Class logits at the input resolution (`[N, H, W, K]` NHWC), or null when not exported. */
    readonly logits: string | null;
    /** Posterior logits g (σ(g) = P(d_out|x)) at the input resolution, `[N, H, W, 1]` NHWC. */
    readonly posteriorLogits: string | null;
    /** Closed-set prediction argmax_k s_k, int32 `[N, H, W]`. */
    readonly closed: string;
    /** Output name of each exported score, float32 `[N, H, W]`, higher = more anomalous. */
    readonly scores: Readonly<Partial<Record<ScoreName, string>>>;
  };
  /** Known classes K. */
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Output stride of the network's logits before the upsampling to the input size. */
  readonly outputStride: number;
  /** The model file's config (backbone architecture) it was exported from. */
  readonly config: ModelConfig | null;
  /** The model file's meta (dataset, steps, calibrated threshold, …). */
  readonly meta: ModelMeta;
}

/** Human-readable `metadata_props` beside the JSON contract. */
export function contractProps(contract: OnnxContract): Record<string, string> {
  const n = contract.input.normalization;
  const i = contract.input;
  return {
    [FORMAT_KEY]: ONNX_FORMAT,
    [CONTRACT_KEY]: JSON.stringify(contract),
    'densehybrid.input.layout': i.layout,
    'densehybrid.input.range': `float32 RGB in [0, 1] (8-bit values / 255)`,
    'densehybrid.input.normalization':
      n === null
        ? 'none: the network takes [0, 1] RGB'
        : `inside the graph: (x - mean) / std with mean ${JSON.stringify(n.mean)}, std ${JSON.stringify(n.std)}; feed [0, 1] RGB`,
    'densehybrid.input.size': i.dynamic
      ? `dynamic height and width, each >= ${i.minSize}${i.sizeMultiple > 1 ? ` and a multiple of ${i.sizeMultiple}` : ''}`
      : `fixed ${i.size?.[0]}x${i.size?.[1]} (HxW)`,
    'densehybrid.scores': Object.keys(contract.outputs.scores).join(','),
  };
}

/**
 * Reads the contract from an ONNX file's `metadata_props`.
 * @throws DenseHybridError `MODEL_LOAD` when the file is not an exported DenseHybrid detector of
 *   a known version
 */
export function readContract(
  fn: string,
  source: string,
  metadata: Readonly<Record<string, string>>,
): OnnxContract {
  const format = metadata[FORMAT_KEY];
  const text = metadata[CONTRACT_KEY];
  let contract: Partial<OnnxContract> | undefined;
  try {
    contract = text === undefined ? undefined : (JSON.parse(text) as Partial<OnnxContract>);
  } catch {
    contract = undefined;
  }
  if (
    format !== ONNX_FORMAT ||
    contract === undefined ||
    contract.format !== ONNX_FORMAT ||
    contract.version !== ONNX_FORMAT_VERSION ||
    contract.input === undefined ||
    contract.outputs === undefined
  ) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected an ONNX file exported by @densehybrid/onnx (metadata ${FORMAT_KEY} "${ONNX_FORMAT}", contract version ${ONNX_FORMAT_VERSION}) in ${source}, got ${format === undefined ? 'no such metadata' : `${describeValue(format)} version ${describeValue(contract?.version ?? null)}`}`,
    );
  }
  return contract as OnnxContract;
}

/** ONNX output name of a score. */
export const scoreOutputName = (name: ScoreName): string => `score_${name.replace(/-/g, '_')}`;
