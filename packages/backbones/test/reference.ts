/**
 * Independent plain-JavaScript reference of the layers (float64 loops, batch of one), written from
 * PyTorch's definitions — not from the package code — to check the tfjs implementation.
 */

export interface Img {
  readonly h: number;
  readonly w: number;
  readonly c: number;
  /** HWC, row-major. */
  readonly data: Float64Array;
}

export const img = (h: number, w: number, c: number, data?: ArrayLike<number>): Img => ({
  h,
  w,
  c,
  data: data === undefined ? new Float64Array(h * w * c) : Float64Array.from(data),
});

const at = (x: Img, y: number, xx: number, ch: number): number =>
  x.data[(y * x.w + xx) * x.c + ch] as number;

export class Counter {
  macs = 0;
}

/** Conv with HWIO weights, symmetric zero padding `pad`, stride, dilation, optional bias. */
export function conv(
  x: Img,
  weight: ArrayLike<number>,
  k: number,
  outC: number,
  stride: number,
  pad: number,
  bias?: ArrayLike<number>,
  counter?: Counter,
  dilation = 1,
): Img {
  const oh = Math.floor((x.h + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
  const ow = Math.floor((x.w + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
  const y = img(oh, ow, outC);
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++)
      for (let o = 0; o < outC; o++) {
        let s = bias === undefined ? 0 : (bias[o] as number);
        for (let a = 0; a < k; a++)
          for (let b = 0; b < k; b++) {
            const yy = i * stride - pad + a * dilation;
            const xx = j * stride - pad + b * dilation;
            if (yy < 0 || yy >= x.h || xx < 0 || xx >= x.w) continue;
            for (let c = 0; c < x.c; c++)
              s += at(x, yy, xx, c) * (weight[((a * k + b) * x.c + c) * outC + o] as number);
          }
        y.data[(i * ow + j) * outC + o] = s;
      }
  if (counter) counter.macs += oh * ow * k * k * x.c * outC;
  return y;
}

export function batchNorm(
  x: Img,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): Img {
  const y = img(x.h, x.w, x.c);
  for (let p = 0; p < x.h * x.w; p++)
    for (let c = 0; c < x.c; c++) {
      const v = x.data[p * x.c + c] as number;
      y.data[p * x.c + c] =
        ((v - (mean[c] as number)) / Math.sqrt((variance[c] as number) + eps)) *
          (gamma[c] as number) +
        (beta[c] as number);
    }
  return y;
}

export const relu = (x: Img): Img => ({ ...x, data: x.data.map((v) => Math.max(0, v)) });

export function add(a: Img, b: Img): Img {
  return { ...a, data: a.data.map((v, i) => v + (b.data[i] as number)) };
}

export function concat(xs: readonly Img[]): Img {
  const first = xs[0] as Img;
  const c = xs.reduce((s, x) => s + x.c, 0);
  const y = img(first.h, first.w, c);
  for (let p = 0; p < first.h * first.w; p++) {
    let off = 0;
    for (const x of xs) {
      for (let k = 0; k < x.c; k++) y.data[p * c + off + k] = x.data[p * x.c + k] as number;
      off += x.c;
    }
  }
  return y;
}

/** PyTorch MaxPool2d(k, stride, padding) (floor mode). */
export function maxPool(x: Img, k: number, stride: number, pad: number): Img {
  const oh = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const y = img(oh, ow, x.c);
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++)
      for (let c = 0; c < x.c; c++) {
        let m = -Infinity;
        for (let a = 0; a < k; a++)
          for (let b = 0; b < k; b++) {
            const yy = i * stride - pad + a;
            const xx = j * stride - pad + b;
            if (yy >= 0 && yy < x.h && xx >= 0 && xx < x.w) m = Math.max(m, at(x, yy, xx, c));
          }
        y.data[(i * ow + j) * x.c + c] = m;
      }
  return y;
}

/** PyTorch AvgPool2d(k, stride, padding, count_include_pad=False). */
export function avgPoolExcludePad(x: Img, k: number, stride: number, pad: number): Img {
  const oh = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const y = img(oh, ow, x.c);
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++)
      for (let c = 0; c < x.c; c++) {
        let s = 0;
        let n = 0;
        for (let a = 0; a < k; a++)
          for (let b = 0; b < k; b++) {
            const yy = i * stride - pad + a;
            const xx = j * stride - pad + b;
            if (yy >= 0 && yy < x.h && xx >= 0 && xx < x.w) {
              s += at(x, yy, xx, c);
              n++;
            }
          }
        y.data[(i * ow + j) * x.c + c] = s / n;
      }
  return y;
}

/** PyTorch adaptive_avg_pool2d. */
export function adaptiveAvgPool(x: Img, oh: number, ow: number): Img {
  const y = img(oh, ow, x.c);
  for (let i = 0; i < oh; i++) {
    const y0 = Math.floor((i * x.h) / oh);
    const y1 = Math.ceil(((i + 1) * x.h) / oh);
    for (let j = 0; j < ow; j++) {
      const x0 = Math.floor((j * x.w) / ow);
      const x1 = Math.ceil(((j + 1) * x.w) / ow);
      for (let c = 0; c < x.c; c++) {
        let s = 0;
        for (let a = y0; a < y1; a++) for (let b = x0; b < x1; b++) s += at(x, a, b, c);
        y.data[(i * ow + j) * x.c + c] = s / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  return y;
}

/** PyTorch F.interpolate(mode='bilinear', align_corners=False). */
export function resizeBilinear(x: Img, oh: number, ow: number): Img {
  const y = img(oh, ow, x.c);
  const src = (d: number, inSize: number, outSize: number): [number, number, number] => {
    const s = Math.max(0, ((d + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, s - i0];
  };
  for (let i = 0; i < oh; i++) {
    const [a0, a1, la] = src(i, x.h, oh);
    for (let j = 0; j < ow; j++) {
      const [b0, b1, lb] = src(j, x.w, ow);
      for (let c = 0; c < x.c; c++) {
        const top = at(x, a0, b0, c) * (1 - lb) + at(x, a0, b1, c) * lb;
        const bottom = at(x, a1, b0, c) * (1 - lb) + at(x, a1, b1, c) * lb;
        y.data[(i * ow + j) * x.c + c] = top * (1 - la) + bottom * la;
      }
    }
  }
  return y;
}

/** PyTorch F.interpolate(mode='bilinear', align_corners=True). */
export function resizeAlignCorners(x: Img, oh: number, ow: number): Img {
  const y = img(oh, ow, x.c);
  const src = (d: number, inSize: number, outSize: number): [number, number, number] => {
    const s = outSize > 1 ? (d * (inSize - 1)) / (outSize - 1) : 0;
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, s - i0];
  };
  for (let i = 0; i < oh; i++) {
    const [a0, a1, la] = src(i, x.h, oh);
    for (let j = 0; j < ow; j++) {
      const [b0, b1, lb] = src(j, x.w, ow);
      for (let c = 0; c < x.c; c++) {
        const top = at(x, a0, b0, c) * (1 - lb) + at(x, a0, b1, c) * lb;
        const bottom = at(x, a1, b0, c) * (1 - lb) + at(x, a1, b1, c) * lb;
        y.data[(i * ow + j) * x.c + c] = top * (1 - la) + bottom * la;
      }
    }
  }
  return y;
}

/** Reads a model's weights by name as float32 arrays (throws on an unknown name). */
export function weightReader(model: {
  readonly variables: ReadonlyMap<string, { dataSync(): unknown }>;
}): (name: string) => Float32Array {
  return (name) => {
    const v = model.variables.get(name);
    if (v === undefined) throw new Error(`missing ${name}`);
    return v.dataSync() as Float32Array;
  };
}
