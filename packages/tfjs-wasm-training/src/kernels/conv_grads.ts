/**
 * Gradient configs for `Conv2D`, `FusedConv2D` and `DepthwiseConv2dNative` that accept
 * dilations > 1 (tfjs 4.22 asserts dilation 1), on every backend.
 *
 * - wasm (with this package's kernels): the backprop kernels take a `dilations` attribute.
 * - any other backend: a stride-1 dilated convolution equals
 *   `batchToSpace(conv(spaceToBatch(x, d), w, 'valid'), d)`, so its gradient is the undilated
 *   gradient taken on the space-to-batch images (tfjs' own kernels), mapped back.
 *
 * `tf.fused.conv2d` with a linear activation (what `tf.layers` Conv2D uses) records its
 * gradient with `customGrad` under the scope name `fusedConv2d__op`, without attributes; the
 * FusedConv2D forward kernels are wrapped to remember the attributes of each output, keyed by
 * its data id, and the gradient registered under that scope name reads them back.
 * @internal
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor, Tensor4D, TensorInfo } from '@tensorflow/tfjs-core';

type Pair = [number, number];
type Shape4 = [number, number, number, number];

interface ConvAttrs {
  strides: number | Pair;
  dilations?: number | Pair | null;
  pad: unknown;
  dimRoundingMode?: unknown;
  dataFormat?: string;
  activation?: string;
  leakyreluAlpha?: number;
}

/** Set by register.ts: whether the wasm backprop kernels honour a `dilations` attribute. */
let wasmDilatedKernels = false;
/** @internal */
export function setWasmDilatedKernels(on: boolean): void {
  wasmDilatedKernels = on;
}

function pair(v: number | Pair | null | undefined): Pair {
  if (v == null) return [1, 1];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function runKernel(name: string, inputs: Record<string, Tensor>, attrs: object): Tensor {
  return tf.engine().runKernel(name, inputs as never, attrs as NamedAttrMap) as Tensor;
}

/** `[∂x, ∂w]` of `conv(x, w)` (regular or depthwise) at `dy`, for any dilation. @internal */
function convGradients(
  x: Tensor4D,
  filter: Tensor4D,
  dy: Tensor4D,
  a: ConvAttrs,
  depthwise: boolean,
): { x: () => Tensor; filter: () => Tensor } {
  const dilations = pair(a.dilations);
  const dilated = dilations[0] > 1 || dilations[1] > 1;
  const names = depthwise
    ? ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']
    : ['Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const [inputName, filterName] = names as [string, string];
  const common = {
    strides: a.strides,
    pad: a.pad,
    dimRoundingMode: a.dimRoundingMode,
    ...(depthwise ? { dilations } : { dataFormat: a.dataFormat ?? 'NHWC' }),
  };
  if (!dilated || (wasmDilatedKernels && tf.getBackend() === 'wasm')) {
    const extra = dilated ? { dilations } : {};
    return {
      x: () => runKernel(inputName, { dy, filter }, { ...common, ...extra, inputShape: x.shape }),
      filter: () =>
        runKernel(filterName, { x, dy }, { ...common, ...extra, filterShape: filter.shape }),
    };
  }
  const s = spaceToBatchPlan(x.shape as Shape4, filter.shape as Shape4, a, dilations, depthwise);
  const undilated = {
    ...common,
    strides: 1,
    pad: 'valid',
    dimRoundingMode: undefined,
    ...(depthwise ? { dilations: 1 } : {}),
  };
  return {
    x: () =>
      tf.tidy(() => {
        const dys = tf.spaceToBatchND(dy, dilations, s.dyPad);
        const xsShape = [x.shape[0] * dilations[0] * dilations[1], s.hs, s.ws, x.shape[3]];
        const dxs = runKernel(
          inputName,
          { dy: dys, filter },
          { ...undilated, inputShape: xsShape },
        );
        return tf.batchToSpaceND(dxs, dilations, s.xPad);
      }),
    filter: () =>
      tf.tidy(() => {
        const xs = tf.spaceToBatchND(x, dilations, s.xPad);
        const dys = tf.spaceToBatchND(dy, dilations, s.dyPad);
        return runKernel(
          filterName,
          { x: xs, dy: dys },
          { ...undilated, filterShape: filter.shape },
        );
      }),
  };
}

/** Paddings that turn a stride-1 dilated conv into an undilated 'valid' one on space-to-batch images. */
function spaceToBatchPlan(
  xShape: Shape4,
  filterShape: Shape4,
  a: ConvAttrs,
  d: Pair,
  depthwise: boolean,
): { xPad: number[][]; dyPad: number[][]; hs: number; ws: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    1,
    d,
    a.pad as 'same',
    a.dimRoundingMode as 'floor' | undefined,
    depthwise,
  );
  const { top, bottom, left, right } = info.padInfo;
  const hp = xShape[1] + top + bottom;
  const wp = xShape[2] + left + right;
  const eh = (d[0] - (hp % d[0])) % d[0];
  const ew = (d[1] - (wp % d[1])) % d[1];
  return {
    xPad: [
      [top, bottom + eh],
      [left, right + ew],
    ],
    dyPad: [
      [0, eh],
      [0, ew],
    ],
    hs: (hp + eh) / d[0],
    ws: (wp + ew) / d[1],
  };
}

function checkStridesOrDilations(name: string, a: ConvAttrs): void {
  const s = pair(a.strides);
  const d = pair(a.dilations);
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1))
    throw new Error(
      `gradient of ${name}: either strides or dilations must be 1, got strides ${String(s)} and dilations ${String(d)}`,
    );
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC')
    throw new Error(`gradient of ${name}: only dataFormat NHWC is supported, got ${a.dataFormat}`);
}

/** Conv2D gradient accepting dilations. @internal */
export const conv2DGradConfig: GradConfig = {
  kernelName: 'Conv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [Tensor4D, Tensor4D];
    const a = attrs as unknown as ConvAttrs;
    checkStridesOrDilations('conv2D', a);
    return convGradients(x, filter, dy as Tensor4D, a, false);
  },
};

/** DepthwiseConv2dNative gradient accepting dilations. @internal */
export const depthwiseConv2dNativeGradConfig: GradConfig = {
  kernelName: 'DepthwiseConv2dNative',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [Tensor4D, Tensor4D];
    const a = attrs as unknown as ConvAttrs;
    checkStridesOrDilations('depthwiseConv2dNative', a);
    return convGradients(x, filter, dy as Tensor4D, a, true);
  },
};

/** ∂L/∂(pre-activation) of a fused activation, from the output `y`. */
function activationGrad(dy: Tensor, y: Tensor, a: ConvAttrs): Tensor {
  const act = a.activation ?? 'linear';
  if (act === 'linear') return dy;
  if (act === 'relu') return tf.mul(dy, tf.step(y));
  throw new Error(`gradient of fused conv2d: activation ${act} is not supported (linear or relu)`);
}

function biasGrad(bias: Tensor, dyAct: Tensor): Tensor {
  const axes = tf.backend_util.getReductionAxes(bias.shape, dyAct.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(dyAct, axes) : dyAct, bias.shape);
}

function fusedGradients(
  dy: Tensor,
  x: Tensor4D,
  filter: Tensor4D,
  y: Tensor,
  bias: Tensor | undefined,
  a: ConvAttrs,
): { x: () => Tensor; filter: () => Tensor; bias?: () => Tensor } {
  checkStridesOrDilations('fused conv2d', a);
  const dyAct = activationGrad(dy, y, a);
  const g = convGradients(x, filter, dyAct as Tensor4D, a, false);
  return bias ? { ...g, bias: () => biasGrad(bias, dyAct) } : g;
}

/**
 * FusedConv2D gradient (for a direct `runKernel('FusedConv2D')` under a tape; `tf.fused.conv2d`
 * goes through {@link fusedConv2dOpGradConfig}). The bias is not saved (it may be absent, and
 * saving an absent input fails in the forward pass): its gradient assumes the usual 1-D bias.
 * @internal
 */
export const fusedConv2DGradConfig: GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [Tensor4D, Tensor4D, Tensor];
    const a = attrs as unknown as ConvAttrs;
    checkStridesOrDilations('fused conv2d', a);
    const dyAct = activationGrad(dy as Tensor, y, a);
    const g = convGradients(x, filter, dyAct as Tensor4D, a, false);
    return { ...g, bias: () => tf.sum(dyAct, [0, 1, 2]) };
  },
};

/** Attributes of recent FusedConv2D outputs, keyed by data id (see module comment). */
const fusedAttrs = new WeakMap<object, ConvAttrs>();
/**
 * Fallback for backends whose `Identity` copies (a saved clone then has a new data id): the
 * attributes by `x, filter → y` shapes, or `null` once two convolutions with these shapes had
 * different attributes (then the shapes cannot tell them apart).
 */
const fusedAttrsByShape = new Map<string, ConvAttrs | null>();
const shapeKey = (x: readonly number[], f: readonly number[], y: readonly number[]): string =>
  `${x.join(',')}|${f.join(',')}|${y.join(',')}`;
const sameAttrs = (a: ConvAttrs, b: ConvAttrs): boolean =>
  JSON.stringify([a.strides, a.pad, a.dilations, a.dimRoundingMode, a.activation]) ===
  JSON.stringify([b.strides, b.pad, b.dilations, b.dimRoundingMode, b.activation]);

function recordFusedAttrs(
  x: TensorInfo,
  filter: TensorInfo,
  y: TensorInfo,
  attrs: ConvAttrs,
): void {
  fusedAttrs.set(y.dataId, attrs);
  const key = shapeKey(x.shape, filter.shape, y.shape);
  const known = fusedAttrsByShape.get(key);
  if (known === undefined) fusedAttrsByShape.set(key, attrs);
  else if (known !== null && !sameAttrs(known, attrs)) fusedAttrsByShape.set(key, null);
}

/** Wraps the FusedConv2D kernel of every backend that has one, once. @internal */
export function wrapFusedConv2DKernels(): void {
  const backends = new Set<string>([...Object.keys(tf.engine().registryFactory), 'wasm', 'cpu']);
  for (const backendName of backends) {
    const k = tf.getKernel('FusedConv2D', backendName);
    if (!k || (k.kernelFunc as { densehybridWrapped?: boolean }).densehybridWrapped) continue;
    const inner = k.kernelFunc;
    const wrapped = ((args: Parameters<typeof inner>[0]) => {
      const out = inner(args);
      const first = (Array.isArray(out) ? out[0] : out) as TensorInfo;
      const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
      recordFusedAttrs(x, filter, first, args.attrs as unknown as ConvAttrs);
      return out;
    }) as typeof inner & { densehybridWrapped?: boolean };
    wrapped.densehybridWrapped = true;
    tf.unregisterKernel('FusedConv2D', backendName);
    tf.registerKernel({ ...k, kernelFunc: wrapped });
  }
}

/**
 * Gradient of `tf.fused.conv2d`'s customGrad node (scope `fusedConv2d__op`); saved tensors are
 * `[filter, x4D, y, bias?]`, inputs are `0: x4D, 1: filter, 2: bias`.
 * @internal
 */
export const fusedConv2dOpGradConfig: GradConfig = {
  kernelName: 'fusedConv2d__op',
  gradFunc: (dy, saved) => {
    const [filter, x, y, bias] = saved as [Tensor4D, Tensor4D, Tensor, Tensor | undefined];
    const a =
      fusedAttrs.get(y.dataId) ?? fusedAttrsByShape.get(shapeKey(x.shape, filter.shape, y.shape));
    if (!a)
      throw new Error(
        `gradient of fused conv2d: the attributes of this convolution were not recorded; call registerTrainingKernels() after the "${tf.getBackend()}" backend is registered`,
      );
    const g = fusedGradients(tf.reshape(dy as Tensor, y.shape), x, filter, y, bias, a);
    return g.bias ? { 0: g.x, 1: g.filter, 2: g.bias } : { 0: g.x, 1: g.filter };
  },
};
