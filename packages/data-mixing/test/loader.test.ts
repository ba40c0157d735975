import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ade20kNegatives,
  cityscapes,
  createLoader,
  createMixedContentTransform,
  toTensors,
  type SegmentationBatch,
  type SegmentationDataset,
} from '@densehybrid/data-mixing';
import { cycle, writeGrey, writeImage } from './fixtures.js';

const execFileP = promisify(execFile);
let root: string;
let inliers: SegmentationDataset;
let negatives: SegmentationDataset;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-loader-'));
  const cs = join(root, 'cityscapes');
  for (let i = 0; i < 7; i++) {
    const city = i < 4 ? 'aachen' : 'bochum';
    const stem = `${city}_${String(i).padStart(6, '0')}_000019`;
    await writeImage(join(cs, `leftImg8bit/train/${city}/${stem}_leftImg8bit.png`), 40, 20, i);
    await writeGrey(
      join(cs, `gtFine/train/${city}/${stem}_gtFine_labelIds.png`),
      40,
      20,
      cycle(40, 20, [7, 8, 0, 26]),
    );
  }
  const ade = join(root, 'ADEChallengeData2016');
  for (let i = 0; i < 3; i++) {
    await writeImage(join(ade, `images/training/ADE_train_${i}.jpg`), 30, 24, 100 + i, 'jpeg');
    await writeGrey(
      join(ade, `annotations/training/ADE_train_${i}.png`),
      30,
      24,
      cycle(30, 24, [0, 5, 5, 9]),
    );
  }
  inliers = await cityscapes({ root: cs, split: 'train' });
  negatives = await ade20kNegatives({ root });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(
  loader: ReturnType<typeof createLoader>,
  epoch = 0,
): Promise<SegmentationBatch[]> {
  const out: SegmentationBatch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

function bytes(batches: SegmentationBatch[]): Buffer {
  return Buffer.concat(
    batches.flatMap((b) => [Buffer.from(b.images.buffer), Buffer.from(b.labels.buffer)]),
  );
}

const paste = {
  negativeShorterSide: 16,
  negativeCropSize: 16,
  rectangleMinSide: 4,
  rectangleStep: 2,
};

describe('createLoader', () => {
  it('batches mixed-content crops; same seed → same bytes, other seed → different; 1 vs 2 workers agree', async () => {
    const transform = createMixedContentTransform(negatives, { crop: { cropSize: 24 }, paste });
    const run = async (seed: number, workers: number): Promise<SegmentationBatch[]> => {
      const loader = createLoader({
        dataset: inliers,
        transform,
        batchSize: 3,
        seed,
        workers,
        prefetch: 1,
      });
      try {
        return await collect(loader, 1);
      } finally {
        await loader.close();
      }
    };
    const a = await run(5, 0);
    expect(a.map((b) => b.batchSize)).toEqual([3, 3, 1]);
    const b0 = a[0]!;
    expect([b0.height, b0.width, b0.images.length]).toEqual([24, 24, 3 * 24 * 24 * 3]);
    expect(b0.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    // labels: trainIds of {7,8,26} = {0,1,13}, ignore 255, outlier K = 19
    expect(new Set(a.flatMap((b) => Array.from(b.labels)))).toEqual(new Set([0, 1, 13, 255, 19]));
    expect(new Set(a.flatMap((b) => b.ids)).size).toBe(7);
    const w1 = await run(5, 1);
    const w2 = await run(5, 2);
    expect(w1.flatMap((b) => b.ids)).toEqual(a.flatMap((b) => b.ids));
    expect(w2.flatMap((b) => b.ids)).toEqual(w1.flatMap((b) => b.ids));
    expect(bytes(w2).equals(bytes(w1))).toBe(true);
    expect(bytes(w1).equals(bytes(a))).toBe(true);
    const other = await run(6, 0);
    expect(bytes(other).equals(bytes(a))).toBe(false);
  });

  it('resumes an epoch at a batch with the same batches as an uninterrupted run', async () => {
    const transform = createMixedContentTransform(negatives, { crop: { cropSize: 16 }, paste });
    const loader = createLoader({ dataset: inliers, transform, batchSize: 2, seed: 9 });
    const full = await collect(loader, 3);
    const resumed: SegmentationBatch[] = [];
    for await (const b of loader.epoch(3, { startBatch: 2 })) resumed.push(b);
    expect(resumed.map((b) => b.ids)).toEqual(full.slice(2).map((b) => b.ids));
    expect(bytes(resumed).equals(bytes(full.slice(2)))).toBe(true);
  });

  it('keeps order without shuffling, differs between epochs with shuffling', async () => {
    const plain = createLoader({ dataset: inliers, batchSize: 4, shuffle: false });
    const ids = (await collect(plain)).flatMap((b) => b.ids);
    expect(ids).toEqual(Array.from({ length: 7 }, (_, i) => inliers.sampleId(i)));
    const shuffled = createLoader({ dataset: inliers, batchSize: 7, seed: 3 });
    const e0 = (await collect(shuffled, 0))[0]!.ids;
    const e1 = (await collect(shuffled, 1))[0]!.ids;
    expect([...e0].sort()).toEqual([...ids].sort());
    expect(e0).not.toEqual(e1);
  });

  it("throws on a corrupt file by default and skips + counts it with 'skip' (in workers too)", async () => {
    const r = join(root, 'bad');
    const stems = ['a', 'b', 'c', 'd'];
    for (const [i, stem] of stems.entries()) {
      await writeImage(join(r, `leftImg8bit/val/x/${stem}_leftImg8bit.png`), 8, 4, i);
      await writeGrey(join(r, `gtFine/val/x/${stem}_gtFine_labelIds.png`), 8, 4, cycle(8, 4, [7]));
    }
    await writeFile(join(r, 'leftImg8bit/val/x/b_leftImg8bit.png'), Buffer.from('garbage'));
    await writeGrey(join(r, 'gtFine/val/x/d_gtFine_labelIds.png'), 8, 4, cycle(8, 4, [77]));
    const ds = await cityscapes({ root: r, split: 'val' });
    const strict = createLoader({ dataset: ds, batchSize: 2, shuffle: false });
    await expect(collect(strict)).rejects.toThrow(/b_leftImg8bit\.png/);
    for (const workers of [0, 2]) {
      const lenient = createLoader({
        dataset: ds,
        batchSize: 2,
        shuffle: false,
        onBadSample: 'skip',
        workers,
      });
      const batches = await collect(lenient);
      await lenient.close();
      expect(batches.flatMap((b) => b.ids)).toEqual([
        'leftImg8bit/val/x/a_leftImg8bit.png',
        'leftImg8bit/val/x/c_leftImg8bit.png',
      ]);
      expect(lenient.stats.skipped).toBe(2);
      expect(lenient.stats.skippedSamples.map((s) => s.code)).toEqual([
        'INVALID_INPUT',
        'INVALID_INPUT',
      ]);
      expect(lenient.stats.skippedSamples[1]!.message).toContain('d_gtFine_labelIds.png');
    }
  });

  it('refuses workers without specs, mixed sizes in a batch, and bad options', async () => {
    const { spec: _drop, ...withoutSpec } = inliers;
    void _drop;
    expect(() => createLoader({ dataset: withoutSpec as SegmentationDataset, workers: 1 })).toThrow(
      /spec/,
    );
    expect(() => createLoader({ dataset: inliers, batchSize: 0 })).toThrow(/batchSize/);
    const broken = {
      ...inliers,
      spec: { module: 'file:///nonexistent/dataset.js', export: 'x', args: [] },
    };
    const brokenLoader = createLoader({ dataset: broken, workers: 1, batchSize: 2 });
    await expect(collect(brokenLoader)).rejects.toThrow(/worker failed.*nonexistent/);
    await brokenLoader.close();
    expect(() => createLoader({ dataset: inliers, onBadSample: 'ignore' as 'skip' })).toThrow(
      /onBadSample/,
    );
    const varied: SegmentationDataset = {
      ...inliers,
      load: async (i) => {
        const s = await inliers.load(i);
        return i === 1 ? { id: s.id, image: { data: new Uint8Array(12), width: 2, height: 2 } } : s;
      },
    };
    await expect(
      collect(createLoader({ dataset: varied, batchSize: 4, shuffle: false })),
    ).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
    });
  });

  it('idle workers do not keep the process alive (no close() call)', async () => {
    const script = `
      import { cityscapes, createLoader } from '@densehybrid/data-mixing';
      const ds = await cityscapes({ root: ${JSON.stringify(join(root, 'cityscapes'))}, split: 'train' });
      const loader = createLoader({ dataset: ds, batchSize: 4, workers: 2 });
      let n = 0;
      for await (const b of loader.epoch(0)) n += b.batchSize;
      console.log('samples', n);
    `;
    const started = Date.now();
    const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe('samples 7');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('toTensors gives [N,H,W,3] float32 and [N,H,W] int32 that the caller disposes', async () => {
    await tf.setBackend('cpu');
    const [batch] = await collect(createLoader({ dataset: inliers, batchSize: 2, shuffle: false }));
    const before = tf.memory().numTensors;
    const { images, labels } = toTensors(batch!, tf);
    expect(images.shape).toEqual([2, 20, 40, 3]);
    expect(labels.dtype).toBe('int32');
    expect(Array.from(labels.dataSync().slice(0, 4))).toEqual([0, 1, 255, 13]);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([images, labels]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
