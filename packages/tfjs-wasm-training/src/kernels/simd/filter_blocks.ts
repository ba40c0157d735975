/**
 * `∂L/∂w` of a regular 2-D convolution as a direct WebAssembly SIMD kernel over the wasm
 * backend's own heap.
 *
 * `∂w[kh, kw, ci, co] = Σ_{n, oy, ox} x[n, oy·s_h + kh·d_h − p_t, ox·s_w + kw·d_w − p_l, ci] ·
 * ∂y[n, oy, ox, co]`: for every filter tap, a sum of outer products of input pixels (C_in) and
 * output-gradient pixels (C_out). The inner kernel keeps a 4 × 8 block of `∂w` in eight `f32x4`
 * registers and streams pixels through it (four broadcast loads of `x`, two vector loads of
 * `∂y`, eight multiply-adds per pixel). The driver walks the output in chunks of rows (so the
 * chunk of `∂y` stays in cache while all taps use it), clips each tap's pixel range to the
 * image (padding contributes zeros), and pads channels to multiples of 4 (`x`) and 8 (`∂y`)
 * with copies only when needed.
 *
 * Compared with the previous formulation (a forward XNNPACK convolution of transposed operands,
 * whose contraction axis is only the batch), this needs no transposes and measures ~2× faster.
 *
 * This file holds what any thread runs (the assembled kernel and the channel-block driver,
 * over a plain-data {@link FilterPlan}); `filter_gradient.ts` is the entry the tfjs kernels
 * call.
 * @internal
 */
import { FunctionBuilder, I32, V128 } from './wasm_asm.js';
import { kernelsFor, type Heap } from './heap.js';

export type KernelFn = (
  x: number,
  dy: number,
  w: number,
  rows: number,
  cols: number,
  xRow: number,
  xCol: number,
  dyRow: number,
  dyCol: number,
  wRow: number,
  ci4: number,
  co8: number,
) => void;

/** The kernel's code: see the module comment. Parameters as {@link KernelFn}. */
function buildKernel(fused: boolean): FunctionBuilder {
  const f = new FunctionBuilder(Array<number>(12).fill(I32));
  const [X, DY, W, ROWS, COLS, XROW, XCOL, DYROW, DYCOL, WROW, CI4, CO8] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  ] as const;
  const bi = f.local(I32);
  const bo = f.local(I32);
  const r = f.local(I32);
  const xr = f.local(I32);
  const dr = f.local(I32);
  const xp = f.local(I32);
  const dp = f.local(I32);
  const pend = f.local(I32);
  const wp = f.local(I32);
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const d0 = f.local(V128);
  const d1 = f.local(V128);
  const sp = f.local(V128);
  /** Pushes the address of row `k` of the current 4 × 8 block of ∂w. */
  const wRowAddr = (k: number) => {
    f.get(wp);
    if (k > 0) f.get(WROW).i32(k).mul().add();
  };
  f.i32(0).set(bi);
  f.loop(() => {
    f.i32(0).set(bo);
    f.loop(() => {
      // wp = W + bi·4·wRow + bo·32
      f.get(W).get(bi).get(WROW).mul().i32(4).mul().add().get(bo).i32(32).mul().add().set(wp);
      for (let k = 0; k < 4; k++) {
        wRowAddr(k);
        f.load(0).set(acc[2 * k] as number);
        wRowAddr(k);
        f.load(16).set(acc[2 * k + 1] as number);
      }
      f.get(X).get(bi).i32(16).mul().add().set(xr);
      f.get(DY).get(bo).i32(32).mul().add().set(dr);
      f.get(ROWS).set(r);
      f.loop(() => {
        f.get(xr).set(xp);
        f.get(dr).tee(dp).get(COLS).get(DYCOL).mul().add().set(pend);
        f.loop(() => {
          f.get(dp).load(0).set(d0);
          f.get(dp).load(16).set(d1);
          for (let k = 0; k < 4; k++) {
            f.get(xp)
              .loadSplat(4 * k)
              .set(sp);
            const a0 = acc[2 * k] as number;
            const a1 = acc[2 * k + 1] as number;
            f.mulAdd(a0, sp, d0, fused);
            f.mulAdd(a1, sp, d1, fused);
          }
          f.get(xp).get(XCOL).add().set(xp);
          f.get(dp).get(DYCOL).add().tee(dp).get(pend).ltU().brIf(0);
        });
        f.get(xr).get(XROW).add().set(xr);
        f.get(dr).get(DYROW).add().set(dr);
        f.get(r).i32(1).sub().tee(r).brIf(0);
      });
      for (let k = 0; k < 4; k++) {
        wRowAddr(k);
        f.get(acc[2 * k] as number).store(0);
        wRowAddr(k);
        f.get(acc[2 * k + 1] as number).store(16);
      }
      f.get(bo).i32(1).add().tee(bo).get(CO8).ltU().brIf(0);
    });
    f.get(bi).i32(1).add().tee(bi).get(CI4).ltU().brIf(0);
  });
  return f;
}

/** Everything a thread needs to run part of one filter gradient (plain data: it is posted). */
export interface FilterPlan {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  /** channels of x and ∂y as laid out (padded to multiples of 4 and 8) */
  readonly cx: number;
  readonly cy: number;
  readonly oh: number;
  readonly ow: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly fused: boolean;
}

/** The kernel over `heap`. @internal */
export function filterKernel(heap: Heap, fused: boolean): KernelFn {
  return kernelsFor<{ filterGradient: KernelFn }>(heap, `filterGradient:${fused}`, () => ({
    filterGradient: buildKernel(fused),
  })).filterGradient;
}

/**
 * The input-channel blocks `[blockStart, blockEnd)` (4 channels each) of `∂w`, accumulated into
 * `wBase` (zero-initialised by the caller). Each block's values are summed in the same order
 * whichever blocks a call covers: splitting blocks across threads gives bit-identical results.
 * @internal
 */
export function filterBlocks(
  kernel: KernelFn,
  p: FilterPlan,
  xBase: number,
  dyBase: number,
  wBase: number,
  blockStart: number,
  blockEnd: number,
): void {
  const { n, h, w, cx, cy, oh, ow, kh, kw, sh, sw, dh, dw, padTop: pt, padLeft: pl } = p;
  if (blockEnd <= blockStart) return;
  const xRow = sh * w * cx * 4;
  const xCol = sw * cx * 4;
  const dyRow = ow * cy * 4;
  const dyCol = cy * 4;
  const xOff = blockStart * 16;
  const wOff = blockStart * 4 * cy * 4;
  // Columns each tap reads: ox with 0 ≤ ox·s_w + kw·d_w − p_l < W.
  const colRange = Array.from({ length: kw }, (_, j) => {
    const lo = Math.max(0, Math.ceil((pl - j * dw) / sw));
    const hi = Math.min(ow, Math.floor((w - 1 + pl - j * dw) / sw) + 1);
    return [lo, hi] as const;
  });
  // Rows of ∂y per chunk: ~32 KiB of ∂y, which all taps then read from cache.
  const chunk = Math.max(1, Math.floor(32768 / (ow * cy * 4)));
  for (let b = 0; b < n; b++) {
    for (let y0 = 0; y0 < oh; y0 += chunk) {
      const y1 = Math.min(oh, y0 + chunk);
      for (let i = 0; i < kh; i++) {
        const lo = Math.max(y0, Math.ceil((pt - i * dh) / sh));
        const hi = Math.min(y1, Math.floor((h - 1 + pt - i * dh) / sh) + 1);
        if (hi <= lo) continue;
        const iy = lo * sh + i * dh - pt;
        for (let j = 0; j < kw; j++) {
          const [cLo, cHi] = colRange[j] as readonly [number, number];
          if (cHi <= cLo) continue;
          const ix = cLo * sw + j * dw - pl;
          kernel(
            xBase + ((b * h + iy) * w + ix) * cx * 4 + xOff,
            dyBase + ((b * oh + lo) * ow + cLo) * cy * 4,
            wBase + (i * kw + j) * cx * cy * 4 + wOff,
            hi - lo,
            cHi - cLo,
            xRow,
            xCol,
            dyRow,
            dyCol,
            cy * 4,
            blockEnd - blockStart,
            cy / 8,
          );
        }
      }
    }
  }
}
