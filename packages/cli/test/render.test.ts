import { join } from 'node:path';
import { writePng } from '@densehybrid/data-mixing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anomalyHeatmap,
  colorbar,
  colormapLut,
  niceTicks,
  overlay,
} from '../src/render/colormap.js';
import {
  CITYSCAPES_PALETTE,
  UNKNOWN_COLOR,
  colorizeLabels,
  legend,
  openSetLegendEntries,
} from '../src/render/labels.js';
import { sideBySide, stack } from '../src/render/panels.js';
import { plotCurves } from '../src/render/plot.js';
import { textWidth } from '../src/render/svg.js';
import { tempDir } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => tmp.cleanup());

interface Img {
  readonly data: ArrayLike<number>;
  readonly width: number;
  readonly height: number;
}

async function readRgb(path: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(path)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function px(img: Img, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o] as number, img.data[o + 1] as number, img.data[o + 2] as number];
}

/** Pixels in the rectangle [x0, x1) × [y0, y1) whose every channel is below 110: text. */
function darkPixels(img: Img, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(img.height, y1); y++)
    for (let x = Math.max(0, x0); x < Math.min(img.width, x1); x++)
      if (px(img, x, y).every((c) => c < 110)) n++;
  return n;
}

/** Bounding box of the dark pixels in a rectangle, or undefined. */
function darkBox(img: Img, x0: number, y0: number, x1: number, y1: number) {
  let box: { left: number; right: number; top: number; bottom: number } | undefined;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++)
      if (px(img, x, y).every((c) => c < 110)) {
        box ??= { left: x, right: x, top: y, bottom: y };
        box.left = Math.min(box.left, x);
        box.right = Math.max(box.right, x);
        box.top = Math.min(box.top, y);
        box.bottom = Math.max(box.bottom, y);
      }
  return box;
}

const colours = (img: Img): Set<string> => {
  const seen = new Set<string>();
  for (let i = 0; i < img.data.length; i += 3)
    seen.add(`${img.data[i]},${img.data[i + 1]},${img.data[i + 2]}`);
  return seen;
};

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

describe('colorbar (a heatmap scale bar)', () => {
  it('picks round tick values inside the range', () => {
    expect(niceTicks(0.03, 4.87, 4).values).toEqual([1, 2, 3, 4]);
    expect(niceTicks(-1, 1, 4).values).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(niceTicks(2, 2, 4).values).toEqual([2]);
  });

  it('runs monotonically through the colormap, left = min, right = max, with tick labels under it', async () => {
    const bar = await colorbar('inferno', { min: -2.5, max: 7.5, width: 300 });
    expect(bar.width).toBe(300);
    expect(bar.height).toBeGreaterThan(20);
    const lut = colormapLut('inferno');
    // the colour strip's middle row, mapped back to LUT indices
    const y = 4 + 6;
    const index = (rgb: number[]): number => {
      let best = -1;
      let bestD = Infinity;
      for (let i = 0; i < 256; i++) {
        const d =
          Math.abs((lut[i * 3] as number) - (rgb[0] as number)) +
          Math.abs((lut[i * 3 + 1] as number) - (rgb[1] as number)) +
          Math.abs((lut[i * 3 + 2] as number) - (rgb[2] as number));
        if (d < bestD) [best, bestD] = [i, d];
      }
      expect(bestD).toBe(0); // every strip pixel is a colormap colour
      return best;
    };
    const strip: number[] = [];
    for (let x = 0; x < bar.width; x++) {
      const c = px(bar, x, y);
      if (!c.every((v) => v === 255)) strip.push(index(c));
    }
    expect(strip.length).toBeGreaterThan(250);
    expect(strip[0]).toBe(0);
    expect(strip.at(-1)).toBe(255);
    for (let i = 1; i < strip.length; i++)
      expect(strip[i] as number).toBeGreaterThanOrEqual(strip[i - 1] as number);
    // tick labels (0, 2.5, 5 or 0, 5 …) are dark pixels below the strip
    expect(darkPixels(bar, 0, 4 + 12 + 4, bar.width, bar.height)).toBeGreaterThan(30);
  });

  it('stacks under its heatmap at the heatmap width', async () => {
    const heat = anomalyHeatmap(
      Float32Array.from({ length: 64 * 8 }, (_, i) => i),
      64,
      8,
    );
    const bar = await colorbar('viridis', { min: heat.min, max: heat.max, width: 64 });
    const panel = stack([heat.image, bar]);
    expect([panel.width, panel.height]).toEqual([64, 8 + bar.height]);
    expect(px(panel, 63, 0)).toEqual(px(heat.image, 63, 0));
    expect(px(panel, 5, 8 + 2)).toEqual(px(bar, 5, 2));
  });
});

describe('overlay, labels, legend, panels', () => {
  it('blends with alpha and a mask', () => {
    const base = { data: new Uint8Array([0, 0, 0, 100, 100, 100]), width: 2, height: 1 };
    const top = { data: new Uint8Array([200, 100, 50, 200, 200, 200]), width: 2, height: 1 };
    const o = overlay(base, top, 0.5, [1, 0]);
    expect(Array.from(o.data)).toEqual([100, 50, 25, 100, 100, 100]);
  });

  it('colours classes, unknown (K) and ignore', () => {
    const labels = new Uint8Array([0, 1, 2, 255]);
    const img = colorizeLabels(labels, 2, 2, 2);
    expect(px(img, 0, 0)).toEqual([...(CITYSCAPES_PALETTE[0] as readonly number[])]);
    expect(px(img, 1, 0)).toEqual([...(CITYSCAPES_PALETTE[1] as readonly number[])]);
    expect(px(img, 0, 1)).toEqual([...UNKNOWN_COLOR]);
    expect(px(img, 1, 1)).toEqual([0, 0, 0]);
    expect(() => colorizeLabels([3], 1, 1, 2)).toThrow(/expected labels in 0..2 or 255, got 3/);
  });

  it('draws a colour legend: every entry colour as a swatch, and its name as text beside it', async () => {
    const entries = openSetLegendEntries(['road', 'sidewalk', 'car']);
    expect(entries.map((e) => e.name)).toEqual(['road', 'sidewalk', 'car', 'unknown', 'ignore']);
    const size = 13;
    const row = Math.ceil(size * 1.5);
    const img = await legend(entries, { fontSize: size });
    const seen = colours(img);
    for (const e of entries) expect(seen).toContain(e.color.join(','));
    entries.forEach((e, i) => {
      // swatch interior at (pad + 3, pad + i·row + 3)
      expect(px(img, 6 + 3, 6 + i * row + 3), e.name).toEqual([...e.color]);
      // the name: dark pixels right of the swatch, in this row, about as wide as the text
      const box = darkBox(img, 6 + size + 4, 6 + i * row, img.width, 6 + (i + 1) * row);
      expect(box, e.name).toBeDefined();
      const w = (box?.right ?? 0) - (box?.left ?? 0) + 1;
      expect(w, e.name).toBeGreaterThan(textWidth(e.name, size) * 0.5);
      expect(w, e.name).toBeLessThanOrEqual(textWidth(e.name, size));
    });
    // the widest name is not cut at the right edge
    expect(darkPixels(img, img.width - 3, 0, img.width, img.height)).toBe(0);
  });

  it('wraps a long legend into columns that fit maxHeight', async () => {
    const names = Array.from({ length: 19 }, (_, k) => `class ${k}`);
    const tall = await legend(openSetLegendEntries(names), { maxHeight: 10_000 });
    const wrapped = await legend(openSetLegendEntries(names), { maxHeight: 120 });
    expect(wrapped.height).toBeLessThanOrEqual(120);
    expect(wrapped.width).toBeGreaterThan(2 * tall.width);
    for (const c of labelColours(names.length)) expect(colours(wrapped)).toContain(c);
  });

  it('places panels side by side', async () => {
    const a = { data: new Uint8Array(2 * 3 * 3).fill(10), width: 2, height: 3 };
    const b = { data: new Uint8Array(4 * 1 * 3).fill(20), width: 4, height: 1 };
    const s = await sideBySide([a, b], { gap: 1 });
    expect([s.width, s.height]).toEqual([7, 3]);
    expect(px(s, 1, 2)).toEqual([10, 10, 10]);
    expect(px(s, 2, 0)).toEqual([255, 255, 255]);
    expect(px(s, 3, 0)).toEqual([20, 20, 20]);
    expect(px(s, 3, 1)).toEqual([255, 255, 255]);
  });

  it('writes a caption centred above each panel and moves the panels below it', async () => {
    const grey = (v: number) => ({
      data: new Uint8Array(120 * 50 * 3).fill(v),
      width: 120,
      height: 50,
    });
    const s = await sideBySide([grey(200), grey(150)], {
      gap: 10,
      captions: ['input', 'hybrid score'],
    });
    const band = s.height - 50;
    expect(band).toBeGreaterThan(14);
    expect(s.width).toBe(250);
    expect(px(s, 5, band)).toEqual([200, 200, 200]);
    expect(px(s, 135, band + 49)).toEqual([150, 150, 150]);
    for (const [x0, text] of [
      [0, 'input'],
      [130, 'hybrid score'],
    ] as const) {
      const box = darkBox(s, x0, 0, x0 + 120, band);
      expect(box, text).toBeDefined();
      const centre = ((box?.left ?? 0) + (box?.right ?? 0)) / 2;
      expect(Math.abs(centre - (x0 + 60)), text).toBeLessThanOrEqual(3);
      expect((box?.right ?? 0) - (box?.left ?? 0)).toBeGreaterThan(textWidth(text, 14) * 0.5);
    }
  });
});

function labelColours(k: number): string[] {
  return openSetLegendEntries(Array.from({ length: k }, (_, i) => `${i}`)).map((e) =>
    e.color.join(','),
  );
}

describe('plotCurves', () => {
  it('draws a ROC curve where the data says, with the chance line and real text', async () => {
    const { image, box } = await plotCurves([{ x: [0, 0, 1], y: [0, 1, 1], color: [255, 0, 0] }], {
      title: 'ROC',
      xLabel: 'FPR',
      yLabel: 'TPR',
      diagonal: true,
      width: 300,
      height: 300,
    });
    expect([image.width, image.height]).toEqual([300, 300]);
    const midY = Math.round((box.top + box.bottom) / 2);
    const midX = Math.round((box.left + box.right) / 2);
    // the perfect ROC runs up the left axis and along the top, in its colour
    expect(px(image, box.left, midY)).toEqual([255, 0, 0]);
    expect(px(image, midX, box.top)).toEqual([255, 0, 0]);
    // the dashed diagonal: grey pixels (darker than the grid) next to y = x around the centre
    let grey = 0;
    for (let d = -20; d <= 20; d++) {
      const x = midX + d;
      const y = Math.round(
        box.bottom - (x - box.left) * ((box.bottom - box.top) / (box.right - box.left)),
      );
      const near = [y - 1, y, y + 1].map((yy) => px(image, x, yy));
      if (near.some(([r, g, b]) => r === g && g === b && (r as number) < 215)) grey++;
    }
    expect(grey).toBeGreaterThan(15); // dashes 4 px on, 4 px off
    // no red in the lower-right quarter
    let red = 0;
    for (let y = midY + 5; y < box.bottom - 2; y++)
      for (let x = midX + 5; x < box.right - 2; x++) {
        const p = px(image, x, y);
        if ((p[0] as number) > 200 && (p[1] as number) < 80) red++;
      }
    expect(red).toBe(0);
    // text: the title above the box, tick labels under it and left of it, the y title at the left
    expect(darkPixels(image, 0, 0, image.width, box.top - 2)).toBeGreaterThan(20);
    expect(
      darkPixels(image, box.left - 10, box.bottom + 5, box.right + 10, image.height),
    ).toBeGreaterThan(100);
    expect(darkPixels(image, 0, box.top, box.left - 3, box.bottom)).toBeGreaterThan(100);
    const title = darkBox(image, box.left, 0, image.width, box.top - 8); // right of the 1.0 tick
    expect(Math.abs(((title?.left ?? 0) + (title?.right ?? 0)) / 2 - 150)).toBeLessThanOrEqual(3);
  });

  it('draws a legend with one swatch per labelled series, in its colour, and its text', async () => {
    const series = [0, 1, 2].map((s) => ({
      x: Float32Array.from({ length: 65_536 }, (_, i) => i / 65_535),
      y: Float32Array.from({ length: 65_536 }, (_, i) => 1 - (i / 65_535) ** (s + 1)),
      label: `score ${s} AP ${(40 + s).toFixed(1)}`,
    }));
    const { image, box } = await plotCurves(series, { steps: true });
    const seen = colours(image);
    for (const c of ['31,119,180', '255,127,14', '44,160,44']) expect(seen).toContain(c);
    // PR legend in the lower left: dark text right of the swatches
    expect(
      darkPixels(image, box.left + 30, box.bottom - 80, box.left + 200, box.bottom - 5),
    ).toBeGreaterThan(150);
  });

  it('rejects series of unequal length', async () => {
    await expect(plotCurves([{ x: [0, 1], y: [0] }])).rejects.toThrow(
      /expected series 0 to have x and y of equal length, got 2 and 1/,
    );
  });
});
