import type * as tf from '@tensorflow/tfjs-core';
import type { BatchNormParams, ConvParams, Ops, Shape4 } from '@densehybrid/backbones';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { GraphBuilder } from './graph.js';

/**
 * The ONNX implementation of the backbones' {@link Ops}: each call appends ONNX nodes (NCHW, as
 * ONNX's Conv and pooling operators want) instead of computing, so an architecture written once
 * against `Ops` — the same code `apply` runs on tensors and `flops` on shapes — becomes a graph.
 *
 * Sizes. The architectures compute resize targets and pooling grids as numbers from
 * `ops.shape(x)` (LDN: "resize to the skip's size", SPP grids "g × round(g·W/H)"). An ONNX graph
 * with dynamic height and width must compute them from `Shape` nodes instead. So the exporter
 * traces the forward pass at two input sizes ({@link TRACE_SIZES}) in recording mode, and
 * explains each size argument by the first rule that gives its value at *both* sizes: a
 * constant; the spatial size of a tensor the architecture read with `shape()` (most recent first);
 * for pooling grids, the aspect rule `max(1, roundHalfEven(g·W/H))` of the pooled tensor. The
 * graph is then emitted once with those rules as Shape/arithmetic nodes, in int64 (no float64:
 * ONNX Runtime Web's WebGPU build has no float64 kernels; see {@link aspectGrid}). A forward pass whose
 * operations differ between the two sizes (branching on the size), or a size no rule explains,
 * is refused: export it at a fixed size (`inputSize`).
 */

/** A value of the graph being built: its name and its NHWC shape at the trace size. */
export interface OnnxValue {
  readonly name: string;
  /** `[N, H, W, C]` at the size being traced (the graph value itself is NCHW). */
  readonly shape: Shape4;
}

/** Input sizes `[H, W]` of the two recording traces: odd, aspect ≈ 1 and ≈ 2.4, no coincident sizes. */
export const TRACE_SIZES: readonly [readonly [number, number], readonly [number, number]] = [
  [1003, 1009],
  [601, 1457],
];

/** What a recording trace saw at one size-taking call. */
type SizeCall =
  | {
      readonly kind: 'resize';
      readonly size: readonly [number, number];
      /** Tensors read with `shape()` so far, most recent last: name and spatial size. */
      readonly seen: readonly { readonly name: string; readonly size: readonly [number, number] }[];
    }
  | {
      readonly kind: 'pool';
      readonly size: readonly [number, number];
      /** Spatial size of the pooled tensor. */
      readonly input: readonly [number, number];
    };

/** How one pooling-grid dimension follows from the pooled tensor's size. */
type GridRule =
  | { readonly kind: 'const'; readonly value: number }
  /** `max(1, roundHalfEven(other · this/other size))`, `other` the constant of the other dim. */
  | { readonly kind: 'aspect'; readonly other: number }
  | { readonly kind: 'same' };

/** The resolved size rule of one call. */
export type SizeRule =
  | { readonly kind: 'resize-like'; readonly like: string }
  | { readonly kind: 'resize-const'; readonly size: readonly [number, number] }
  | { readonly kind: 'pool'; readonly height: GridRule; readonly width: GridRule };

/** Python's round() (half to even), as the backbones' `roundHalfEven`. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const aspectValue = (other: number, self: number, otherSize: number): number =>
  Math.max(1, roundHalfEven((self / otherSize) * other));

function gridRule(
  fn: string,
  a: { value: number; self: number; otherSize: number; otherValue: number },
  b: { value: number; self: number; otherSize: number; otherValue: number },
): GridRule {
  if (a.value === b.value) return { kind: 'const', value: a.value };
  if (a.value === a.self && b.value === b.self) return { kind: 'same' };
  if (
    a.otherValue === b.otherValue &&
    a.value === aspectValue(a.otherValue, a.self, a.otherSize) &&
    b.value === aspectValue(b.otherValue, b.self, b.otherSize)
  )
    return { kind: 'aspect', other: a.otherValue };
  throw new DenseHybridError(
    'INVALID_INPUT',
    `${fn}: expected each pooling grid to be a constant, the pooled size or max(1, round(g·W/H)), got ${a.value} and ${b.value} at the two trace sizes; export with a fixed inputSize`,
  );
}

/**
 * Explains every size argument of two recording traces (see the module comment).
 * @throws DenseHybridError `INVALID_INPUT` naming the call no rule explains
 */
export function resolveSizes(
  fn: string,
  a: readonly SizeCall[],
  b: readonly SizeCall[],
): SizeRule[] {
  return a.map((ca, i) => {
    const cb = b[i] as SizeCall;
    if (ca.kind === 'resize' && cb.kind === 'resize') {
      for (let j = ca.seen.length - 1; j >= 0; j--) {
        const sa = ca.seen[j] as (typeof ca.seen)[number];
        const sb = cb.seen.find((s) => s.name === sa.name);
        if (
          sb !== undefined &&
          sa.size[0] === ca.size[0] &&
          sa.size[1] === ca.size[1] &&
          sb.size[0] === cb.size[0] &&
          sb.size[1] === cb.size[1]
        )
          return { kind: 'resize-like', like: sa.name };
      }
      if (ca.size[0] === cb.size[0] && ca.size[1] === cb.size[1])
        return { kind: 'resize-const', size: ca.size };
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected every resize target to be the size of a tensor the network read with shape() or a constant, got ${ca.size.join('×')} and ${cb.size.join('×')} at the two trace sizes (call ${i}); export with a fixed inputSize`,
      );
    }
    if (ca.kind === 'pool' && cb.kind === 'pool') {
      const dim = (c: typeof ca, d: 0 | 1) => ({
        value: c.size[d],
        self: c.input[d],
        otherSize: c.input[1 - d] as number,
        otherValue: c.size[1 - d] as number,
      });
      return {
        kind: 'pool',
        height: gridRule(fn, dim(ca, 0), dim(cb, 0)),
        width: gridRule(fn, dim(ca, 1), dim(cb, 1)),
      };
    }
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected the same operations at both trace sizes, got ${ca.kind} and ${cb.kind} at size call ${i}`,
    );
  });
}

/** Output size of a conv/pool along one axis (PyTorch floor mode), as the backbones compute it. */
function convOutSize(size: number, kernel: number, stride: number, pad: number, dilation = 1) {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Reads a variable as float32 (async: webgpu-safe). */
type VariableReader = (v: tf.Variable) => Promise<Float32Array>;

/** HWIO `[kh, kw, in, out]` → OIHW `[out, in, kh, kw]`. */
function hwioToOihw(w: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) {
        const src = ((y * kw + x) * ci + i) * co;
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = w[src + o] as number;
      }
  return out;
}

/**
 * {@link Ops} on ONNX graph values. `mode` is `'record'` (size arguments are recorded and taken
 * as constants) or the resolved rules of {@link resolveSizes}.
 */
export class OnnxOps implements Ops<OnnxValue> {
  /** Every op with its inputs and parameters, to compare the operations of two traces. */
  readonly log: string[] = [];
  /** Size-taking calls, in order (recording mode). */
  readonly sizeCalls: SizeCall[] = [];
  private readonly seen: { name: string; size: [number, number] }[] = [];
  /** Smallest height or width of any value so far (< 1: the input is too small). */
  minSpatial = Infinity;
  private values = 0;
  private sizeIndex = 0;
  private readonly names = new Map<tf.Variable, string>();
  private readonly spatial = new Map<string, string>();

  constructor(
    private readonly g: GraphBuilder,
    private readonly mode: 'record' | readonly SizeRule[],
    private readonly read: VariableReader,
    private readonly fn: string,
  ) {}

  /** A new stable value name (counted per op, independent of helper nodes). */
  private next(op: string): string {
    this.values += 1;
    return `v${this.values}_${op}`;
  }

  private value(name: string, shape: Shape4): OnnxValue {
    this.minSpatial = Math.min(this.minSpatial, shape[1], shape[2]);
    return { name, shape };
  }

  /** Stable initializer name of a variable: its parameter name without the store's scope. */
  private param(v: tf.Variable, convert?: (data: Float32Array) => Float32Array): string {
    let name = this.names.get(v);
    if (name === undefined) {
      const slash = v.name.indexOf('/');
      name = slash >= 0 ? v.name.slice(slash + 1) : v.name;
      this.names.set(v, name);
    }
    const dims = convert
      ? [v.shape[3] as number, v.shape[2] as number, v.shape[0] as number, v.shape[1] as number]
      : v.shape;
    return this.g.initializer(name, 'float', dims, async () => {
      const data = await this.read(v);
      return GraphBuilder.floatBytes(convert ? convert(data) : data);
    });
  }

  /** An int64 `[2]` value: the spatial size (H, W) of `x` (cached per value). */
  spatialSize(x: string): string {
    let s = this.spatial.get(x);
    if (s === undefined) {
      s = this.g.op('Shape', [x], { start: { i: 2 }, end: { i: 4 } });
      this.spatial.set(x, s);
    }
    return s;
  }

  /** The graph's input value, already NCHW. */
  input(name: string, shape: Shape4): OnnxValue {
    return this.value(name, shape);
  }

  shape(x: OnnxValue): Shape4 {
    this.seen.push({ name: x.name, size: [x.shape[1], x.shape[2]] });
    return x.shape;
  }

  conv(x: OnnxValue, c: ConvParams): OnnxValue {
    const [n, h, w] = x.shape;
    const oh = convOutSize(h, c.kernel, c.stride, c.pad, c.dilation);
    const ow = convOutSize(w, c.kernel, c.stride, c.pad, c.dilation);
    const weight = this.param(c.weight, (d) =>
      hwioToOihw(d, c.kernel, c.kernel, c.inChannels, c.outChannels),
    );
    const inputs = [x.name, weight, ...(c.bias ? [this.param(c.bias)] : [])];
    this.log.push(`conv(${inputs.join(',')};${c.kernel},${c.stride},${c.pad},${c.dilation})`);
    const out = this.g.op(
      'Conv',
      inputs,
      {
        kernel_shape: { ints: [c.kernel, c.kernel] },
        strides: { ints: [c.stride, c.stride] },
        pads: { ints: [c.pad, c.pad, c.pad, c.pad] },
        dilations: { ints: [c.dilation, c.dilation] },
        group: { i: 1 },
      },
      this.next('conv'),
    );
    return this.value(out, [n, oh, ow, c.outChannels]);
  }

  batchNorm(x: OnnxValue, b: BatchNormParams): OnnxValue {
    const inputs = [
      x.name,
      this.param(b.weight),
      this.param(b.bias),
      this.param(b.runningMean),
      this.param(b.runningVar),
    ];
    this.log.push(`bn(${inputs.join(',')};${b.epsilon})`);
    const out = this.g.op(
      'BatchNormalization',
      inputs,
      { epsilon: { f: b.epsilon } },
      this.next('bn'),
    );
    return this.value(out, x.shape);
  }

  relu(x: OnnxValue): OnnxValue {
    this.log.push(`relu(${x.name})`);
    return this.value(this.g.op('Relu', [x.name], {}, this.next('relu')), x.shape);
  }

  add(a: OnnxValue, b: OnnxValue): OnnxValue {
    this.log.push(`add(${a.name},${b.name})`);
    return this.value(this.g.op('Add', [a.name, b.name], {}, this.next('add')), a.shape);
  }

  concat(xs: readonly OnnxValue[]): OnnxValue {
    const first = xs[0] as OnnxValue;
    if (xs.length === 1) return first;
    this.log.push(`concat(${xs.map((x) => x.name).join(',')})`);
    const out = this.g.op(
      'Concat',
      xs.map((x) => x.name),
      { axis: { i: 1 } },
      this.next('concat'),
    );
    return this.value(out, [
      first.shape[0],
      first.shape[1],
      first.shape[2],
      xs.reduce((s, x) => s + x.shape[3], 0),
    ]);
  }

  private mismatch(got: string, expected: string): never {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${this.fn}: expected the same operations in every trace, got a ${got} where the recording had a ${expected}`,
    );
  }

  private nextSizeRule(call: SizeCall): SizeRule | undefined {
    if (this.mode === 'record') {
      this.sizeCalls.push(call);
      return undefined;
    }
    const rule = this.mode[this.sizeIndex];
    this.sizeIndex += 1;
    if (rule === undefined)
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${this.fn}: expected the same operations in every trace, got more size-taking calls than recorded`,
      );
    return rule;
  }

  resize(x: OnnxValue, height: number, width: number, alignCorners = false): OnnxValue {
    const rule = this.nextSizeRule({
      kind: 'resize',
      size: [height, width],
      seen: this.seen.map((s) => ({ name: s.name, size: s.size })),
    });
    this.log.push(`resize(${x.name};${alignCorners})`);
    const out = this.next('resize');
    const shape: Shape4 = [x.shape[0], height, width, x.shape[3]];
    // recording: the target as a constant (only the op sequence matters)
    const target =
      rule?.kind === 'resize-like'
        ? this.spatialSize(rule.like)
        : this.g.int64(rule?.kind === 'resize-const' ? [...rule.size] : [height, width]);
    if (rule !== undefined && rule.kind === 'pool') this.mismatch('resize', 'pooling');
    bilinear(this.g, x.name, target, alignCorners, out);
    return this.value(out, shape);
  }

  maxPool(x: OnnxValue, kernel: number, stride: number, pad: number): OnnxValue {
    return this.pool('MaxPool', x, kernel, stride, pad);
  }

  avgPool(x: OnnxValue, kernel: number, stride: number, pad: number): OnnxValue {
    return this.pool('AveragePool', x, kernel, stride, pad);
  }

  private pool(op: string, x: OnnxValue, kernel: number, stride: number, pad: number) {
    this.log.push(`${op}(${x.name};${kernel},${stride},${pad})`);
    const out = this.g.op(
      op,
      [x.name],
      {
        kernel_shape: { ints: [kernel, kernel] },
        strides: { ints: [stride, stride] },
        pads: { ints: [pad, pad, pad, pad] },
        // AveragePool: count_include_pad=0 is ONNX's default and PyTorch's count_include_pad=False
      },
      this.next(op === 'MaxPool' ? 'maxpool' : 'avgpool'),
    );
    const [n, h, w, c] = x.shape;
    return this.value(out, [
      n,
      convOutSize(h, kernel, stride, pad),
      convOutSize(w, kernel, stride, pad),
      c,
    ]);
  }

  adaptiveAvgPool(x: OnnxValue, height: number, width: number): OnnxValue {
    const rule = this.nextSizeRule({
      kind: 'pool',
      size: [height, width],
      input: [x.shape[1], x.shape[2]],
    });
    this.log.push(`adaptiveAvgPool(${x.name})`);
    const out = this.next('adaptivepool');
    const shape: Shape4 = [x.shape[0], height, width, x.shape[3]];
    if (rule !== undefined && rule.kind !== 'pool') this.mismatch('pooling', 'resize');
    const rh: GridRule = rule?.kind === 'pool' ? rule.height : { kind: 'const', value: height };
    const rw: GridRule = rule?.kind === 'pool' ? rule.width : { kind: 'const', value: width };
    if (rh.kind === 'const' && rw.kind === 'const' && rh.value === 1 && rw.value === 1) {
      this.g.op('ReduceMean', [x.name], { axes: { ints: [2, 3] }, keepdims: { i: 1 } }, out);
      return this.value(out, shape);
    }
    // pooled = P_h · X · P_wᵀ with PyTorch's adaptive windows (see adaptivePoolMatrix)
    const size = this.spatialSize(x.name);
    const dims = {
      h: this.g.op('Gather', [size, this.g.int64([0], [])], { axis: { i: 0 } }),
      w: this.g.op('Gather', [size, this.g.int64([1], [])], { axis: { i: 0 } }),
    };
    const grid = (r: GridRule, self: string, other: string): string => {
      if (r.kind === 'const') return this.g.int64([r.value], []);
      if (r.kind === 'same') return self;
      if (aspectRuleIsExact(r.other)) return aspectGrid(this.g, self, other, r.other);
      // a grid whose float64 rule differs from the exact one at some half-way ratio: the float64
      // nodes, so that the graph still equals tfjs and PyTorch (ONNX Runtime Web's WebGPU build
      // cannot run them; none of the presets' grids needs them)
      const f64 = (v: string) => this.g.op('Cast', [v], { to: { i: 11 } });
      const ratio = this.g.op('Div', [f64(self), f64(other)]);
      const scaled = this.g.op('Mul', [ratio, this.g.double([r.other], [])]);
      const rounded = this.g.op('Round', [scaled]); // ONNX Round: half to even
      const atLeast1 = this.g.op('Max', [rounded, this.g.double([1], [])]);
      return this.g.op('Cast', [atLeast1], { to: { i: 7 } });
    };
    const gh = grid(rh, dims.h, dims.w);
    const gw = grid(rw, dims.w, dims.h);
    const ph = adaptivePoolMatrix(this.g, dims.h, gh); // [gh, H]
    const pwT = this.g.op('Transpose', [adaptivePoolMatrix(this.g, dims.w, gw)], {
      perm: { ints: [1, 0] },
    }); // [W, gw]
    const rows = this.g.op('MatMul', [ph, x.name]); // [N, C, gh, W]
    this.g.op('MatMul', [rows, pwT], {}, out); // [N, C, gh, gw]
    return this.value(out, shape);
  }
}

/**
 * The aspect rule of a pooling grid, `max(1, round(grid · self / other))` with Python's round
 * (half to even), in int64 arithmetic only (`Mul`, `Add`, `Div`, `Mod`, `Sub`, `Max`: every
 * ONNX Runtime build runs them, WebGPU's included, which has no float64 kernels). `self` and
 * `other` are positive int64 tensors of one shape or broadcastable ones (scalars in the exported
 * graphs). With a = grid·self and b = other: u = ⌊(2a + b) / 2b⌋ is round half up; the ratio is
 * half-way exactly when 2b divides 2a + b, and then half to even takes u − (u mod 2).
 *
 * @example
 * aspectGrid(g, w, h, 4); // int64 max(1, round(4·W/H)), W and H int64 scalars
 */
export function aspectGrid(g: GraphBuilder, self: string, other: string, grid: number): string {
  const [zero, one, two] = [g.int64([0], []), g.int64([1], []), g.int64([2], [])];
  const a = g.op('Mul', [self, g.int64([grid], [])]);
  const num = g.op('Add', [g.op('Mul', [a, two]), other]); // 2a + b
  const den = g.op('Mul', [other, two]); // 2b
  const up = g.op('Div', [num, den]); // round half up (non-negative: floor = truncation)
  const half = g.op('Max', [g.op('Sub', [one, g.op('Mod', [num, den])]), zero]); // 1 iff 2b | 2a + b
  const even = g.op('Sub', [up, g.op('Mul', [half, g.op('Mod', [up, two])])]);
  return g.op('Max', [even, one]);
}

/** Widths of the pooled tensor up to which {@link aspectRuleIsExact} vouches for the int64 rule. */
const ASPECT_EXACT_LIMIT = 1 << 16;

const exactGrids = new Map<number, boolean>();

/**
 * Whether the int64 rule of {@link aspectGrid} (the exact ratio, rounded half to even) gives
 * what the architectures compute in float64, `max(1, roundHalfEven((self / other) · grid))`
 * (tfjs, and PyTorch's `max(1, round(ar * g))`), for every `self ≤ limit` and every `other`.
 *
 * Why a finite check suffices: the float64 value is within a relative 2⁻⁵² of the exact one, and
 * an exact ratio that is not half-way lies at least 1/(2·other) from a rounding boundary, so both
 * round alike while self·grid < 2⁵⁰. A half-way ratio (2·self·grid/other odd) is decided by the
 * float rounding of fl(self/other)·grid, which depends on the fraction self/other alone; in
 * lowest terms p/q its denominator q divides 2·grid. So trying p = 1 … limit for each divisor q
 * of 2·grid covers every size. The presets' grids (8, 4, 2, 1) and e.g. 3, 5, 6, 9, 10, 12 are
 * exact; 7, 11, 13, 14, 15 are not (e.g. grid 7 at 29×14: fl(29/14)·7 = 14.500000000000002 → 15,
 * the exact 14.5 → 14). Results are cached per grid.
 *
 * @example
 * aspectRuleIsExact(8); // true
 * aspectRuleIsExact(7); // false
 */
export function aspectRuleIsExact(grid: number, limit = ASPECT_EXACT_LIMIT): boolean {
  const cached = limit === ASPECT_EXACT_LIMIT ? exactGrids.get(grid) : undefined;
  if (cached !== undefined) return cached;
  let exact = Number.isSafeInteger(grid) && grid >= 1 && grid * limit < 2 ** 50;
  for (let q = 1; exact && q <= 2 * grid; q++) {
    if ((2 * grid) % q !== 0) continue;
    for (let p = 1; p <= limit; p++) {
      const twice = (2 * p * grid) / q; // an integer (q | 2·grid): 2 · the exact ratio
      if (twice % 2 === 1 && aspectValue(grid, p, q) !== Math.max(1, halfEvenOfHalves(twice))) {
        exact = false;
        break;
      }
    }
  }
  if (limit === ASPECT_EXACT_LIMIT) exactGrids.set(grid, exact);
  return exact;
}

/** round(t / 2) half to even, for a positive odd integer t (the exact value t/2 is half-way). */
const halfEvenOfHalves = (t: number): number => {
  const down = (t - 1) / 2;
  return down % 2 === 0 ? down : down + 1;
};

/**
 * `[out, size]` float matrix whose row i averages positions `floor(i·size/out) …
 * ceil((i+1)·size/out) − 1` (PyTorch's adaptive pooling windows), from int64 scalars.
 */
function adaptivePoolMatrix(g: GraphBuilder, size: string, out: string): string {
  const zero = g.int64([0], []);
  const one = g.int64([1], []);
  const i = g.op('Range', [zero, out, one]); // [out]
  const j = g.op('Range', [zero, size, one]); // [size]
  const start = g.op('Div', [g.op('Mul', [i, size]), out]); // floor(i·size/out), non-negative
  const stop = g.op('Div', [
    g.op('Sub', [g.op('Add', [g.op('Mul', [g.op('Add', [i, one]), size]), out]), one]),
    out,
  ]); // ceil((i+1)·size/out)
  const col = g.op('Unsqueeze', [j, g.int64([0])]); // [1, size]
  const startCol = g.op('Unsqueeze', [start, g.int64([1])]); // [out, 1]
  const stopCol = g.op('Unsqueeze', [stop, g.int64([1])]);
  const inside = g.op('And', [
    g.op('GreaterOrEqual', [col, startCol]),
    g.op('Less', [col, stopCol]),
  ]);
  const count = g.op('Cast', [g.op('Sub', [stopCol, startCol])], { to: { i: 1 } });
  return g.op('Div', [g.op('Cast', [inside], { to: { i: 1 } }), count]);
}

/**
 * Bilinear resize of NCHW `x` to the int64 `[2]` spatial size `size`: PyTorch
 * `align_corners=False` (TensorFlow's half-pixel centres) or `align_corners=True`.
 */
export function bilinear(
  g: GraphBuilder,
  x: string,
  size: string,
  alignCorners: boolean,
  output?: string,
): string {
  const sizes = g.op('Concat', [g.op('Shape', [x], { start: { i: 0 }, end: { i: 2 } }), size], {
    axis: { i: 0 },
  });
  return g.op(
    'Resize',
    [x, '', '', sizes],
    {
      mode: { s: 'linear' },
      coordinate_transformation_mode: { s: alignCorners ? 'align_corners' : 'half_pixel' },
    },
    output,
  );
}
