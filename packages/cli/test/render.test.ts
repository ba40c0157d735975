import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CITYSCAPES_PALETTE,
  UNKNOWN_COLOR,
  anomalyHeatmap,
  colorizeLabels,
  colormapLut,
  decodeNpy,
  encodeNpy,
  float16Bits,
  float16Value,
  legend,
  openSetLegendEntries,
  overlay,
  plotCurves,
  readNpy,
  sideBySide,
  writeNpy,
  writePng,
} from '@densehybrid/cli';
import { tempDir } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => tmp.cleanup());

async function readRgb(path: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(path)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function px(img: { data: ArrayLike<number>; width: number }, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o] as number, img.data[o + 1] as number, img.data[o + 2] as number];
}

describe('anomalyHeatmap', () => {
  it('maps a known score map to inferno colours and survives a PNG round trip', async () => {
    // 3x2 map: 0, 0.5, 1 / NaN, -1 (clamped), 2 (clamped)
    const scores = new Float32Array([0, 0.5, 1, NaN, -1, 2]);
    const { image, min, max } = anomalyHeatmap(scores, 3, 2, {
      normalize: 'fixed',
      min: 0,
      max: 1,
    });
    expect([min, max]).toEqual([0, 1]);
    const path = join(tmp.dir, 'heat.png');
    await writePng(path, image);
    const png = await readRgb(path);
    expect([png.width, png.height]).toEqual([3, 2]);
    expect(px(png, 0, 0)).toEqual([0, 0, 4]); // inferno(0) = #000004
    expect(px(png, 2, 0)).toEqual([252, 255, 164]); // inferno(1) = #fcffa4
    // inferno(0.5) ≈ #bc3754 (matplotlib table value at 128/255 is (189, 55, 84))
    const mid = px(png, 1, 0);
    expect(Math.abs((mid[0] as number) - 189)).toBeLessThanOrEqual(3);
    expect(Math.abs((mid[1] as number) - 55)).toBeLessThanOrEqual(3);
    expect(Math.abs((mid[2] as number) - 84)).toBeLessThanOrEqual(3);
    expect(px(png, 0, 1)).toEqual([0, 0, 0]); // NaN colour
    expect(px(png, 1, 1)).toEqual([0, 0, 4]);
    expect(px(png, 2, 1)).toEqual([252, 255, 164]);
  });

  it('stretches min..max per map by default', () => {
    const { image, min, max } = anomalyHeatmap([10, 20, 30, 40], 2, 2, { colormap: 'viridis' });
    expect([min, max]).toEqual([10, 40]);
    expect(px(image, 0, 0)).toEqual([0x44, 0x01, 0x54]);
    expect(px(image, 1, 1)).toEqual([0xfd, 0xe7, 0x25]);
    const lut = colormapLut('viridis');
    // 20 → t = 1/3 → LUT index 85
    expect(px(image, 1, 0)).toEqual([lut[255], lut[256], lut[257]]);
  });

  it('rejects a score map of the wrong size', () => {
    expect(() => anomalyHeatmap([1, 2, 3], 2, 2)).toThrow(
      /expected scores to have width\*height = 4 values, got 3/,
    );
  });
});

describe('overlay, labels, legend, panels', () => {
  it('blends with alpha and a mask', () => {
    const base = { data: new Uint8Array([0, 0, 0, 100, 100, 100]), width: 2, height: 1 };
    const top = { data: new Uint8Array([200, 100, 50, 200, 200, 200]), width: 2, height: 1 };
    const o = overlay(base, top, 0.5, [1, 0]);
    expect(Array.from(o.data)).toEqual([100, 50, 25, 100, 100, 100]);
  });

  it('colours classes, unknown (K) and ignore', async () => {
    const labels = new Uint8Array([0, 1, 2, 255]);
    const img = colorizeLabels(labels, 2, 2, 2);
    expect(px(img, 0, 0)).toEqual([...(CITYSCAPES_PALETTE[0] as readonly number[])]);
    expect(px(img, 1, 0)).toEqual([...(CITYSCAPES_PALETTE[1] as readonly number[])]);
    expect(px(img, 0, 1)).toEqual([...UNKNOWN_COLOR]);
    expect(px(img, 1, 1)).toEqual([0, 0, 0]);
    expect(() => colorizeLabels([3], 1, 1, 2)).toThrow(/expected labels in 0..2 or 255, got 3/);
  });

  it('draws a legend with one swatch per entry and text', () => {
    const entries = openSetLegendEntries(['road', 'car']);
    expect(entries.map((e) => e.name)).toEqual(['road', 'car', 'unknown', 'ignore']);
    const img = legend(entries);
    // first swatch interior at (pad+1.., pad+1..) has the road colour
    expect(px(img, 8, 8)).toEqual([...(CITYSCAPES_PALETTE[0] as readonly number[])]);
    // the row below holds the car colour
    expect(px(img, 8, 8 + 14)).toEqual([...(CITYSCAPES_PALETTE[1] as readonly number[])]);
    // some dark text pixels right of the swatches
    let dark = 0;
    for (let y = 0; y < img.height; y++)
      for (let x = 20; x < img.width; x++) if (px(img, x, y)[0] === 0) dark++;
    expect(dark).toBeGreaterThan(20);
  });

  it('places panels side by side', () => {
    const a = { data: new Uint8Array(2 * 3 * 3).fill(10), width: 2, height: 3 };
    const b = { data: new Uint8Array(4 * 1 * 3).fill(20), width: 4, height: 1 };
    const s = sideBySide([a, b], { gap: 1 });
    expect([s.width, s.height]).toEqual([7, 3]);
    expect(px(s, 1, 2)).toEqual([10, 10, 10]);
    expect(px(s, 2, 0)).toEqual([255, 255, 255]);
    expect(px(s, 3, 0)).toEqual([20, 20, 20]);
    expect(px(s, 3, 1)).toEqual([255, 255, 255]);
  });
});

describe('plotCurves', () => {
  it('draws a ROC curve where the data says, with the chance line', () => {
    const { image, box } = plotCurves([{ x: [0, 0, 1], y: [0, 1, 1], color: [255, 0, 0] }], {
      title: 'ROC',
      xLabel: 'FPR',
      yLabel: 'TPR',
      diagonal: true,
      width: 300,
      height: 300,
    });
    expect([image.width, image.height]).toEqual([300, 300]);
    const midY = Math.round((box.top + box.bottom) / 2);
    // the perfect ROC runs up the left axis and along the top
    expect(px(image, box.left, midY)).toEqual([255, 0, 0]);
    const midX = Math.round((box.left + box.right) / 2);
    expect(px(image, midX, box.top)).toEqual([255, 0, 0]);
    // the centre of the box lies on the dashed grey diagonal (or the gap beside it)
    const c = px(
      image,
      midX,
      Math.round(
        box.bottom - (midX - box.left) * ((box.bottom - box.top) / (box.right - box.left)),
      ),
    );
    expect(c[0] === 150 || c[0] === 225 || c[0] === 255).toBe(true);
    // no red in the lower-right quarter
    let red = 0;
    for (let y = midY + 5; y < box.bottom - 2; y++)
      for (let x = midX + 5; x < box.right - 2; x++) {
        const p = px(image, x, y);
        if (p[0] === 255 && p[1] === 0 && p[2] === 0) red++;
      }
    expect(red).toBe(0);
  });
});

describe('npy', () => {
  it('writes a v1.0 <f2 header padded to 64 bytes and round-trips', async () => {
    const values = new Float32Array([0, 1, -2, 0.5, 65504, 1e-7, Infinity, NaN]);
    const path = join(tmp.dir, 'scores.npy');
    await writeNpy(path, values, [2, 4]);
    const bytes = new Uint8Array(await readFile(path));
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
    const headerLen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
    expect(header).toMatch(/^\{'descr': '<f2', 'fortran_order': False, 'shape': \(2, 4\), \} *\n$/);
    expect(bytes.length).toBe(10 + headerLen + 16);
    const back = await readNpy(path);
    expect(back.shape).toEqual([2, 4]);
    expect(Array.from(back.data.subarray(0, 5))).toEqual([0, 1, -2, 0.5, 65504]);
    expect(back.data[5]).toBeCloseTo(1.1920929e-7, 12); // nearest subnormal: 2 * 2^-24
    expect(back.data[6]).toBe(Infinity);
    expect(back.data[7]).toBeNaN();
    const f4 = decodeNpy(encodeNpy([1.5, 2.25], [2], '<f4'));
    expect(f4.shape).toEqual([2]);
    expect(Array.from(f4.data)).toEqual([1.5, 2.25]);
  });

  it('rounds float32 to float16 to nearest, ties to even, for every half value', () => {
    const wrong: number[] = [];
    for (let b = 0; b < 0x7c00; b++) {
      const v = float16Value(b);
      if (float16Bits(v) !== b || float16Bits(-v) !== (b | 0x8000)) wrong.push(b);
      if (b < 0x7bff) {
        const next = float16Value(b + 1);
        const midpoint = (v + next) / 2; // exactly representable in float32
        if (float16Bits(midpoint) !== (b % 2 === 0 ? b : b + 1)) wrong.push(b);
        if (float16Bits(v + (next - v) * 0.25) !== b) wrong.push(b);
        if (float16Bits(v + (next - v) * 0.75) !== b + 1) wrong.push(b);
      }
    }
    expect(wrong).toEqual([]);
    expect(float16Bits(65520)).toBe(0x7c00); // rounds to infinity
  });

  it('rejects a shape that does not match', () => {
    expect(() => encodeNpy([1, 2, 3], [2, 2])).toThrow(/expected shape with product 3/);
  });
});
