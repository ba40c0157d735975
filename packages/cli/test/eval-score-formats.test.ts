import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, readLabel, readScoreMap, writeSmiycScoreMap } from '@densehybrid/data-mixing';
import { encodeNpy } from '@densehybrid/metrics-openiou';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { greyPng, npyBytes, npzBytes } from '../../../test-support/score-map-files.js';
import { cli, evalJson, fixtureTrainArgs, scoreMapsEvalArgs, tempDir } from './helpers.js';
import { H, W, makeAde, makeFishyscapes, makeSmiyc, makeStreetHazards } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fs: string;
let smiyc: string;
let sh: string;
let run: string;

beforeAll(async () => {
  tmp = await tempDir('dh-cli-formats-');
  fs = join(tmp.dir, 'fishyscapes');
  smiyc = join(tmp.dir, 'smiyc');
  sh = join(tmp.dir, 'streethazards');
  const ade = join(tmp.dir, 'ade');
  run = join(tmp.dir, 'run');
  await Promise.all([makeFishyscapes(fs), makeSmiyc(smiyc), makeStreetHazards(sh), makeAde(ade)]);
  const r = await cli([...fixtureTrainArgs(sh, ade, run, 1), '--json']);
  if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
}, 120_000);
afterAll(async () => tmp.cleanup());

/** The sections of metrics.json that depend on the scores. */
const numbers = (m: Record<string, unknown>) => ({
  frames: m['frames'],
  conventions: m['conventions'],
  anomaly: m['anomaly'],
  anomalyExact: m['anomalyExact'],
  perFoldAnomaly: m['perFoldAnomaly'],
  closed: m['closed'],
  openSet: m['openSet'],
  components: m['components'],
});

/**
 * Scores k / 1024 (k = 0…1023), higher on anomalies: exact in float16, float32, and as 16-bit
 * PNG values 64·k with --png-scale 2^-16, so every format holds the same numbers.
 */
async function frameScores(
  labelPath: string,
  salt: number,
): Promise<{ k: Uint16Array; s: Float32Array }> {
  const label = await readLabel(labelPath);
  const k = Uint16Array.from(
    label.data,
    (v, i) => ((v === 1 ? 500 : 0) + ((i * 37 + salt * 101) % 523)) % 1024,
  );
  return { k, s: Float32Array.from(k, (v) => v / 1024) };
}

/** Writes one frame's scores in every format; `dirs` by format. */
async function writeAll(
  dirs: Record<string, string>,
  rel: string,
  k: Uint16Array,
  s: Float32Array,
): Promise<void> {
  const put = async (path: string, bytes: Uint8Array): Promise<void> => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  };
  await put(join(dirs['npy'] as string, `${rel}.scores.npy`), encodeNpy(s, [H, W], '<f2'));
  await put(
    join(dirs['npz'] as string, 'hybrid', `${rel}.npz`),
    npzBytes({ arr_0: encodeNpy(s, [1, H, W], '<f4') }),
  );
  await put(
    join(dirs['f8'] as string, `${rel}.npy`),
    npyBytes('<f8', [H, W], Float64Array.from(s)),
  );
  await writeSmiycScoreMap(join(dirs['hdf5'] as string, `${rel}.hdf5`), s, W, H);
  await put(
    join(dirs['png'] as string, `${rel}.scores.png`),
    greyPng(
      W,
      H,
      Array.from(k, (v) => 64 * v),
      16,
    ),
  );
}

const FORMATS = ['npy', 'npz', 'f8', 'hdf5', 'png'] as const;
const FORMAT_ARGS: Record<(typeof FORMATS)[number], string[]> = {
  npy: [],
  npz: ['--score', 'hybrid'],
  f8: [],
  hdf5: [],
  png: ['--png-scale', String(2 ** -16)],
};

describe('eval --scores reads every format the same', () => {
  it('Fishyscapes: .npz (folder), float64 .npy / SMIYC .hdf5 (bare) and 16-bit .png (suffix) give the .npy numbers', async () => {
    const dirs = Object.fromEntries(FORMATS.map((f) => [f, join(tmp.dir, `fs-${f}`)]));
    for (let i = 0; i < 3; i++) {
      const { k, s } = await frameScores(join(fs, `ood/test/city/f${i}_ood_segmentation.png`), i);
      await writeAll(dirs, `f${i}_leftImg8bit`, k, s);
    }
    const ref = await evalJson(
      scoreMapsEvalArgs(
        'fishyscapes-lostandfound',
        fs,
        dirs['npy'] as string,
        join(tmp.dir, 'fs-out-npy'),
      ),
    );
    expect(ref.anomaly.ap).toBeGreaterThan(0.5);
    for (const f of FORMATS.slice(1)) {
      const m = await evalJson(
        scoreMapsEvalArgs(
          'fishyscapes-lostandfound',
          fs,
          dirs[f] as string,
          join(tmp.dir, `fs-out-${f}`),
          FORMAT_ARGS[f],
        ),
      );
      expect(numbers(m), f).toEqual(numbers(ref));
    }
  });

  it("SMIYC: the benchmark's submission folder anomaly_p/<method>/AnomalyTrack-all/<fid>.hdf5 (bare or --score <method>) gives the .npy numbers and components", async () => {
    const npy = join(tmp.dir, 'smiyc-npy');
    const outputs = join(tmp.dir, 'smiyc-outputs');
    for (let i = 0; i < 2; i++) {
      const { s } = await frameScores(
        join(smiyc, `dataset_AnomalyTrack/labels_masks/validation_${i}_labels_semantic.png`),
        i,
      );
      await mkdir(npy, { recursive: true });
      await writeFile(join(npy, `validation_${i}.scores.npy`), encodeNpy(s, [H, W], '<f2'));
      for (const method of ['Mine', 'Other'])
        await writeSmiycScoreMap(
          join(outputs, `anomaly_p/${method}/AnomalyTrack-all/validation_${i}.hdf5`),
          s,
          W,
          H,
        );
    }
    const extra = ['--min-prediction-size', '0', '--min-instance-size', '0'];
    const ref = await evalJson(
      scoreMapsEvalArgs('smiyc-anomaly', smiyc, npy, join(tmp.dir, 'smiyc-out-npy'), extra),
    );
    expect(ref.components).not.toBeNull();
    const bare = await evalJson(
      scoreMapsEvalArgs(
        'smiyc-anomaly',
        smiyc,
        join(outputs, 'anomaly_p/Mine'),
        join(tmp.dir, 'smiyc-out-bare'),
        extra,
      ),
    );
    expect(numbers(bare)).toEqual(numbers(ref));
    const both = await evalJson(
      scoreMapsEvalArgs(
        'smiyc-anomaly',
        smiyc,
        join(outputs, 'anomaly_p'),
        join(tmp.dir, 'smiyc-out-methods'),
        [...extra, '--score', 'Mine,Other'],
      ),
    );
    expect(both.scores.Mine.anomaly).toEqual(ref.anomaly);
    expect(both.scores.Other.components).toEqual(ref.components);
  });

  it('StreetHazards: closed-set predictions as integer .npz give the 8-bit PNG numbers (open-mIoU)', async () => {
    const png = join(tmp.dir, 'sh-closed-png');
    const npz = join(tmp.dir, 'sh-closed-npz');
    for (const fold of ['t5', 't6']) {
      const ds = await openDataset('streethazards', sh, fold);
      for (let i = 0; i < ds.size; i++) {
        const { s } = await frameScores(join(sh, 'test/annotations/test', fold, `${i}.png`), i);
        // closed-set: the label's class where it is one of the K = 12 known classes, else 0
        const sample = await ds.load(i);
        const closed = Uint8Array.from(sample.label?.data ?? [], (v) => (v < 12 ? v : 0));
        for (const d of [png, npz]) {
          await mkdir(join(d, 'hybrid', fold), { recursive: true });
          await writeFile(join(d, 'hybrid', fold, `${i}.npy`), encodeNpy(s, [H, W], '<f4'));
        }
        await mkdir(join(png, 'closed', fold), { recursive: true });
        await writeFile(join(png, 'closed', fold, `${i}.png`), greyPng(W, H, closed, 8));
        await mkdir(join(npz, 'closed', fold), { recursive: true });
        await writeFile(
          join(npz, 'closed', fold, `${i}.npz`),
          npzBytes({
            closed: npyBytes(
              '<i8',
              [H, W],
              BigInt64Array.from(closed, (v) => BigInt(v)),
            ),
          }),
        );
      }
    }
    const a = await evalJson(
      scoreMapsEvalArgs('streethazards', sh, png, join(tmp.dir, 'sh-out-png'), [
        '--score',
        'hybrid',
      ]),
    );
    const b = await evalJson(
      scoreMapsEvalArgs('streethazards', sh, npz, join(tmp.dir, 'sh-out-npz'), [
        '--score',
        'hybrid',
      ]),
    );
    expect(a.openSet).not.toBeNull();
    expect(a.closed.mIoU).toBeGreaterThan(0.5);
    expect(numbers(b)).toEqual(numbers(a));
  });
});

describe('eval --scores format errors (exit 1, naming the file)', () => {
  const run1 = async (maps: string, extra: string[] = []) => {
    const r = await cli(
      scoreMapsEvalArgs('fishyscapes-lostandfound', fs, maps, join(tmp.dir, 'err-out'), extra),
    );
    return {
      code: r.code,
      err: r.stderr
        .split('\n')
        .filter((l) => l.startsWith('densehybrid'))
        .join('\n'),
    };
  };

  it('PNG maps without --png-scale, 8-bit PNG, mis-sized or extra HDF5, integer .npy', async () => {
    const png = join(tmp.dir, 'fs-png');
    const noScale = await run1(png);
    expect(noScale.code).toBe(1);
    expect(noScale.err).toMatch(
      /expected a "scores" score map for every frame, got none for .*f0_leftImg8bit.*; 3 PNG files \(e\.g\. .*\.scores\.png\) are read as 16-bit score maps only with --png-scale <s>/,
    );
    const eight = join(tmp.dir, 'fs-png8');
    await cp(png, eight, { recursive: true });
    const p8 = join(eight, 'f1_leftImg8bit.scores.png');
    await writeFile(p8, greyPng(W, H, new Array(W * H).fill(9), 8));
    const e8 = await run1(eight, ['--png-scale', '0.004']);
    expect(e8.code).toBe(1);
    expect(e8.err).toContain(
      `readScoreMap: expected a 16-bit greyscale PNG score map, got ${p8}: a 1-channel PNG of 8 bits per sample`,
    );

    const h5 = join(tmp.dir, 'fs-hdf5-bad');
    await cp(join(tmp.dir, 'fs-hdf5'), h5, { recursive: true });
    const small = join(h5, 'f2_leftImg8bit.hdf5');
    await writeSmiycScoreMap(small, new Float32Array(H * (W - 1)), W - 1, H);
    const sized = await run1(h5);
    expect(sized.code).toBe(1);
    expect(sized.err).toBe(
      `densehybrid eval: eval --scores: expected ${small} of shape (${H}, ${W}) (the label's height, width), got (${H}, ${W - 1})`,
    );
    await writeSmiycScoreMap(small, new Float32Array(H * W), W, H);
    const extraFile = join(h5, 'zz_leftImg8bit.hdf5');
    await writeSmiycScoreMap(extraFile, new Float32Array(H * W), W, H);
    const extra = await run1(h5);
    expect(extra.code).toBe(1);
    expect(extra.err).toContain(
      `got ${extraFile}: no frame of fishyscapes/lostandfound is named "zz_leftImg8bit"`,
    );
    await rm(extraFile);

    const ints = join(tmp.dir, 'fs-u1');
    await cp(join(tmp.dir, 'fs-npy'), ints, { recursive: true });
    const u1 = join(ints, 'f0_leftImg8bit.scores.npy');
    await writeFile(u1, encodeNpy(new Uint8Array(W * H), [H, W], '|u1'));
    const i = await run1(ints);
    expect(i.code).toBe(1);
    expect(i.err).toBe(
      `densehybrid eval: readScoreMap: expected a float16, float32 or float64 score map, got ${u1} of dtype uint8`,
    );
  });
});

describe('infer --format smiyc', () => {
  it("writes <out>/anomaly_p/<method>/<dataset>/<fid>.hdf5 with infer's float16 scores; eval --scores reads it", async () => {
    const images = join(smiyc, 'dataset_AnomalyTrack/images');
    const outputs = join(tmp.dir, 'infer-outputs');
    const std = join(tmp.dir, 'infer-standard');
    const base = ['infer', '--checkpoint', run, images, '--backend', 'wasm'];
    const r = await cli([...base, '--format', 'smiyc', '--out', outputs, '--json']);
    expect(r.stderr).not.toMatch(/densehybrid infer:/);
    expect(r.code).toBe(0);
    const folder = join(outputs, 'anomaly_p/DenseHybrid/AnomalyTrack-all');
    expect(JSON.parse(r.stdout)).toMatchObject({
      format: 'smiyc',
      dir: folder,
      images: ['validation_0', 'validation_1'],
    });
    expect((await readdir(folder)).sort()).toEqual([
      'infer.json',
      'validation_0.hdf5',
      'validation_1.hdf5',
    ]);
    expect(await readdir(outputs)).toEqual(['anomaly_p']);
    expect((await cli([...base, '--out', std])).code).toBe(0);
    for (const fid of ['validation_0', 'validation_1']) {
      const h5 = await readScoreMap(join(folder, `${fid}.hdf5`));
      const npy = await readNpy(join(std, `${fid}.scores.npy`));
      expect(h5.dtype).toBe('float16');
      expect([h5.height, h5.width]).toEqual([H, W]);
      expect(Buffer.from(h5.data.buffer).equals(Buffer.from(npy.data.buffer))).toBe(true);
    }
    const extra = ['--min-prediction-size', '0', '--min-instance-size', '0'];
    const a = await evalJson(
      scoreMapsEvalArgs(
        'smiyc-anomaly',
        smiyc,
        join(outputs, 'anomaly_p/DenseHybrid'),
        join(tmp.dir, 'ia'),
        extra,
      ),
    );
    const b = await evalJson(
      scoreMapsEvalArgs('smiyc-anomaly', smiyc, std, join(tmp.dir, 'ib'), extra),
    );
    expect(numbers(a)).toEqual(numbers(b));

    // --method and --smiyc-dataset name the folders; a second track goes beside the first
    const o = await cli([
      ...base,
      '--format',
      'smiyc',
      '--out',
      outputs,
      '--method',
      'Run2',
      '--smiyc-dataset',
      'ObstacleTrack-all',
    ]);
    expect(o.code).toBe(0);
    expect((await readdir(join(outputs, 'anomaly_p/Run2/ObstacleTrack-all'))).sort()).toEqual([
      'infer.json',
      'validation_0.hdf5',
      'validation_1.hdf5',
    ]);
    expect((await readdir(folder)).length).toBe(3);
  });

  it('Ctrl-C keeps the finished frames in the staged folder; the same command resumes them', async () => {
    const images = join(smiyc, 'dataset_AnomalyTrack/images');
    const outputs = join(tmp.dir, 'infer-resume');
    const args = [
      'infer',
      '--checkpoint',
      run,
      images,
      '--backend',
      'wasm',
      '--format',
      'smiyc',
      '--out',
      outputs,
    ];
    const controller = new AbortController();
    const first = await cli(args, {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          if (/infer {2}1\/2/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    const staged = join(outputs, 'anomaly_p/DenseHybrid/AnomalyTrack-all.partial');
    expect((await readdir(staged)).filter((f) => f.endsWith('.hdf5'))).toEqual([
      'validation_0.hdf5',
    ]);
    const second = await cli([...args, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ skipped: 1 });
    expect((await readdir(join(outputs, 'anomaly_p/DenseHybrid'))).sort()).toEqual([
      'AnomalyTrack-all',
    ]);
  });

  it('refuses (exit 2) images outside a dataset_*Track folder without --smiyc-dataset, and two images with one fid', async () => {
    const loose = join(tmp.dir, 'loose');
    await cp(join(smiyc, 'dataset_AnomalyTrack/images'), join(loose, 'a'), { recursive: true });
    await cp(join(smiyc, 'dataset_AnomalyTrack/images'), join(loose, 'b'), { recursive: true });
    const base = [
      'infer',
      '--checkpoint',
      run,
      '--backend',
      'wasm',
      '--format',
      'smiyc',
      '--out',
      join(tmp.dir, 'x'),
    ];
    const none = await cli([...base, join(loose, 'a')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /--smiyc-dataset: expected the SMIYC dataset folder \(AnomalyTrack-all \| ObstacleTrack-all/,
    );
    const twice = await cli([...base, '--smiyc-dataset', 'AnomalyTrack-all', loose]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(
      /expected one image per SMIYC frame name .*, got .*a\/validation_0\.jpg and .*b\/validation_0\.jpg, both validation_0\.hdf5/,
    );
    const bad = await cli([
      ...base,
      '--method',
      '../up',
      join(loose, 'a'),
      '--smiyc-dataset',
      'AnomalyTrack-all',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--method \/ --smiyc-dataset: expected method of letters, digits/);
  });
});
