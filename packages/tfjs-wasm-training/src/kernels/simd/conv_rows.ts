/**
 * A direct 2-D convolution (NHWC input, HWIO filter, explicit and possibly negative padding,
 * strides, dilations) as WebAssembly SIMD kernels over the wasm backend's heap. It serves
 * tfjs' `Conv2D` forward and this package's input gradients (which are forward convolutions).
 *
 * `y[n, oy, ox, co] = Σ_{i, j, c} x[n, oy·s_h + i·d_h − p_t, ox·s_w + j·d_w − p_l, c] · w[i, j, c, co]`.
 * The inner kernel holds a block of 4 output pixels × 8 output channels in eight `f32x4`
 * registers; for every tap and input channel it loads 8 filter values (two vectors) and
 * broadcasts one input value per pixel. Taps outside the image are never visited: the driver
 * splits each output row into runs of pixels that see the same range of taps (the interior
 * and a few border pixels), so no padded copy of the input is made. Geometry constants (channel
 * counts, strides) are baked into a module per geometry, assembled at run time and cached.
 *
 * This file holds what any thread runs (the assembled kernels and the row driver, over a
 * plain-data {@link ConvPlan}); `conv.ts` is the entry the tfjs kernels call.
 * @internal
 */
import { FunctionBuilder, I32, V128 } from './wasm_asm.js';
import { kernelsFor, type Heap } from './heap.js';

/**
 * `(x, w, y, blocks, tapRows, tapCols, tapRowStride)`: addresses in bytes, counts ≥ 1,
 * `tapRowStride` = bytes between tap rows in the input (d_h · W · C_in · 4).
 */
type RunFn = (
  x: number,
  w: number,
  y: number,
  blocks: number,
  ti: number,
  tj: number,
  tapRowStride: number,
) => void;

interface Geometry {
  /** input channels */
  readonly ci: number;
  /** output channels (a multiple of 8) */
  readonly co: number;
  /** filter width */
  readonly kw: number;
  /** bytes between the input pixels of neighbouring outputs (s_w · C_in · 4) */
  readonly pixStride: number;
  /** bytes between tap columns in the input (d_w · C_in · 4) */
  readonly tapColStride: number;
}

/** One kernel: `pixels` output pixels (4 or 1) per block; see the module comment. */
function buildRun(g: Geometry, pixels: number, fused: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [X, W, Y, BLOCKS, TI, TJ, TAPROW] = [0, 1, 2, 3, 4, 5, 6] as const;
  const blk = f.local(I32);
  const bo = f.local(I32);
  const xb = f.local(I32);
  const yb = f.local(I32);
  const xi = f.local(I32);
  const wi = f.local(I32);
  const i = f.local(I32);
  const xj = f.local(I32);
  const wj = f.local(I32);
  const j = f.local(I32);
  const xc = f.local(I32);
  const wc = f.local(I32);
  const end = f.local(I32);
  const acc = Array.from({ length: 2 * pixels }, () => f.local(V128));
  const d0 = f.local(V128);
  const d1 = f.local(V128);
  const sp = f.local(V128);
  const wTap = g.ci * g.co * 4;
  f.get(X).set(xb);
  f.get(Y).set(yb);
  f.get(BLOCKS).set(blk);
  f.loop(() => {
    f.i32(0).set(bo);
    f.loop(() => {
      for (const a of acc) f.v128Zero().set(a);
      f.get(xb).set(xi);
      f.get(W).get(bo).i32(32).mul().add().set(wi);
      f.get(TI).set(i);
      f.loop(() => {
        f.get(xi).set(xj);
        f.get(wi).set(wj);
        f.get(TJ).set(j);
        f.loop(() => {
          f.get(xj)
            .tee(xc)
            .i32(g.ci * 4)
            .add()
            .set(end);
          f.get(wj).set(wc);
          f.loop(() => {
            f.get(wc).load(0).set(d0);
            f.get(wc).load(16).set(d1);
            for (let p = 0; p < pixels; p++) {
              f.get(xc)
                .loadSplat(p * g.pixStride)
                .set(sp);
              const a0 = acc[2 * p] as number;
              const a1 = acc[2 * p + 1] as number;
              f.mulAdd(a0, sp, d0, fused);
              f.mulAdd(a1, sp, d1, fused);
            }
            f.get(wc)
              .i32(g.co * 4)
              .add()
              .set(wc);
            f.get(xc).i32(4).add().tee(xc).get(end).ltU().brIf(0);
          });
          f.get(xj).i32(g.tapColStride).add().set(xj);
          f.get(wj).i32(wTap).add().set(wj);
          f.get(j).i32(1).sub().tee(j).brIf(0);
        });
        f.get(xi).get(TAPROW).add().set(xi);
        f.get(wi)
          .i32(g.kw * wTap)
          .add()
          .set(wi);
        f.get(i).i32(1).sub().tee(i).brIf(0);
      });
      for (let p = 0; p < pixels; p++) {
        f.get(yb)
          .get(bo)
          .i32(32)
          .mul()
          .add()
          .get(acc[2 * p] as number)
          .store(p * g.co * 4);
        f.get(yb)
          .get(bo)
          .i32(32)
          .mul()
          .add()
          .get(acc[2 * p + 1] as number)
          .store(p * g.co * 4 + 16);
      }
      f.get(bo)
        .i32(1)
        .add()
        .tee(bo)
        .i32(g.co / 8)
        .ltU()
        .brIf(0);
    });
    f.get(xb)
      .i32(pixels * g.pixStride)
      .add()
      .set(xb);
    f.get(yb)
      .i32(pixels * g.co * 4)
      .add()
      .set(yb);
    f.get(blk).i32(1).sub().tee(blk).brIf(0);
  });
  return f;
}

/** Pixels per block of the main kernel. */
const BLOCK = 4;

/** The first and one-past-last tap `t` with `0 ≤ o·stride + t·dilation − pad < size`. */
function tapRange(
  o: number,
  stride: number,
  dilation: number,
  pad: number,
  size: number,
  taps: number,
): [number, number] {
  const start = o * stride - pad;
  const lo = Math.max(0, Math.ceil(-start / dilation));
  const hi = Math.min(taps, Math.floor((size - 1 - start) / dilation) + 1);
  return [lo, Math.max(lo, hi)];
}

/** Everything a thread needs to run rows of one convolution (plain data: it is posted). */
export interface ConvPlan {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly ci: number;
  readonly co: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly oh: number;
  readonly ow: number;
  readonly fused: boolean;
}

/** The kernels of `plan`'s geometry over `heap`. @internal */
export function convKernels(heap: Heap, plan: ConvPlan): { run4: RunFn; run1: RunFn } {
  const g: Geometry = {
    ci: plan.ci,
    co: plan.co,
    kw: plan.kw,
    pixStride: plan.sw * plan.ci * 4,
    tapColStride: plan.dw * plan.ci * 4,
  };
  return kernelsFor<{ run4: RunFn; run1: RunFn }>(
    heap,
    `conv:${plan.ci}:${plan.co}:${plan.kw}:${plan.sw}:${plan.dw}:${plan.fused}`,
    () => ({ run4: buildRun(g, BLOCK, plan.fused), run1: buildRun(g, 1, plan.fused) }),
  );
}

/** Runs of output columns that see the same taps, and the taps of every output row. @internal */
export function tapPlan(p: ConvPlan) {
  const runs: { ox: number; len: number; lo: number; hi: number }[] = [];
  for (let ox = 0; ox < p.ow; ox++) {
    const [lo, hi] = tapRange(ox, p.sw, p.dw, p.padLeft, p.w, p.kw);
    const last = runs[runs.length - 1];
    if (last && last.lo === lo && last.hi === hi) last.len++;
    else runs.push({ ox, len: 1, lo, hi });
  }
  const rowTaps = Array.from({ length: p.oh }, (_, oy) =>
    tapRange(oy, p.sh, p.dh, p.padTop, p.h, p.kh),
  );
  const gaps = runs.some((r) => r.hi === r.lo) || rowTaps.some(([lo, hi]) => hi === lo);
  return { runs, rowTaps, gaps };
}

/**
 * Output rows `[rowStart, rowEnd)` (row = batch · out-height + out-row) of `plan`, with `x`,
 * `filter` and `y` at the given byte addresses of the kernels' memory. Every output value is
 * summed in the same order whichever rows a call covers, so splitting rows across threads gives
 * bit-identical results. Rows whose taps all fall outside the image are not written.
 * @internal
 */
export function convRows(
  kernels: { run4: RunFn; run1: RunFn },
  plan: ConvPlan,
  xBase: number,
  wBase: number,
  yBase: number,
  rowStart: number,
  rowEnd: number,
): void {
  const { run4, run1 } = kernels;
  const { h, w, ci, co, kw, sh, sw, dh, dw, oh, ow } = plan;
  const { runs, rowTaps } = tapPlan(plan);
  const tapRowStride = dh * w * ci * 4;
  const pixStride = sw * ci * 4;
  for (let row = rowStart; row < rowEnd; row++) {
    const b = Math.floor(row / oh);
    const oy = row - b * oh;
    const [iLo, iHi] = rowTaps[oy] as [number, number];
    if (iHi === iLo) continue;
    const iy = oy * sh + iLo * dh - plan.padTop;
    for (const r of runs) {
      if (r.hi === r.lo) continue;
      const ix = r.ox * sw + r.lo * dw - plan.padLeft;
      const xa = xBase + ((b * h + iy) * w + ix) * ci * 4;
      const wa = wBase + (iLo * kw + r.lo) * ci * co * 4;
      const ya = yBase + ((b * oh + oy) * ow + r.ox) * co * 4;
      const blocks = Math.floor(r.len / BLOCK);
      const rest = r.len - blocks * BLOCK;
      if (blocks > 0) run4(xa, wa, ya, blocks, iHi - iLo, r.hi - r.lo, tapRowStride);
      if (rest > 0)
        run1(
          xa + blocks * BLOCK * pixStride,
          wa,
          ya + blocks * BLOCK * co * 4,
          rest,
          iHi - iLo,
          r.hi - r.lo,
          tapRowStride,
        );
    }
  }
}
