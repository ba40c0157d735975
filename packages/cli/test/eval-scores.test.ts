import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@densehybrid/core';
import { openDataset, readLabel } from '@densehybrid/data-mixing';
import { anomalyMetrics, encodeNpy } from '@densehybrid/metrics-openiou';
import { readNpy, writeNpy } from '@densehybrid/metrics-openiou/node';
import {
  cli,
  evalJson,
  fixtureEvalArgs,
  fixtureTrainArgs,
  scoreMapsEvalArgs,
  tempDir,
} from './helpers.js';
import { H, W, makeAde, makeFishyscapes, makeSmiyc, makeStreetHazards } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let fs: string;
let smiyc: string;
let run: string;

beforeAll(async () => {
  tmp = await tempDir('dh-cli-scores-');
  sh = join(tmp.dir, 'streethazards');
  fs = join(tmp.dir, 'fishyscapes');
  smiyc = join(tmp.dir, 'smiyc');
  const ade = join(tmp.dir, 'ade');
  run = join(tmp.dir, 'run');
  await Promise.all([makeStreetHazards(sh), makeAde(ade), makeFishyscapes(fs), makeSmiyc(smiyc)]);
  const r = await cli([...fixtureTrainArgs(sh, ade, run, 2), '--json']);
  if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
}, 120_000);
afterAll(async () => tmp.cleanup());

async function infer(input: string, out: string): Promise<void> {
  const r = await cli(['infer', '--checkpoint', run, input, '--out', out, '--backend', 'wasm']);
  expect(r.code).toBe(0);
}

/** The sections of metrics.json that depend on the scores (not the context). */
const numbers = (m: Record<string, unknown>) => ({
  frames: m['frames'],
  protocol: m['protocol'],
  conventions: m['conventions'],
  anomaly: m['anomaly'],
  anomalyExact: m['anomalyExact'],
  perFoldAnomaly: m['perFoldAnomaly'],
  closed: m['closed'],
  openSet: m['openSet'],
  components: m['components'],
});

describe('eval --scores', () => {
  it("Fishyscapes: infer's float16 <frame>.scores.npy give the checkpoint's --mode histogram numbers and anomalyMetrics'; the default (exact) is anomalyMetrics on the float32 scores", async () => {
    const maps = join(tmp.dir, 'maps-fs');
    await infer(join(fs, 'leftImg8bit'), maps);
    const m = await evalJson(
      scoreMapsEvalArgs('fishyscapes-lostandfound', fs, maps, join(tmp.dir, 'eval-fs-maps')),
    );
    // histogram mode rounds the network's float32 scores to float16, as infer's maps are
    const ck = await evalJson(
      fixtureEvalArgs(run, 'fishyscapes-lostandfound', fs, join(tmp.dir, 'eval-fs-ck'), [
        '--mode',
        'histogram',
      ]),
    );
    expect(m.conventions.mode).toBe('exact');
    expect(m.context.mode).toBe('exact (every score)');
    expect(ck.context.mode).toBe('histogram (float16 bins)');
    expect(numbers(m)).toEqual({
      ...numbers(ck),
      conventions: { ...ck.conventions, mode: 'exact' },
    });
    expect(m.scores.scores.anomaly).toEqual(ck.scores.hybrid.anomaly);
    expect(m.notes).toEqual([]);
    expect(ck.notes).toEqual([
      expect.stringMatching(
        /^histogram mode: \d+ of \d+ scores are no float16 value and were rounded to float16 .*mode 'exact' keeps every score/,
      ),
    ]);
    // the default (exact, as bdlb): the float32 scores unrounded; --exact is its alias
    const exact = await evalJson(
      fixtureEvalArgs(run, 'fishyscapes-lostandfound', fs, join(tmp.dir, 'eval-fs-ck-exact')),
    );
    const alias = await evalJson(
      fixtureEvalArgs(run, 'fishyscapes-lostandfound', fs, join(tmp.dir, 'eval-fs-ck-alias'), [
        '--exact',
      ]),
    );
    expect(numbers(alias)).toEqual(numbers(exact));
    expect(exact.conventions.mode).toBe('exact');
    expect(exact.notes).toEqual([]);
    const f32: number[] = [];
    const lab32: number[] = [];
    const detector = await loadModel(run);
    try {
      const ds = await openDataset('fishyscapes-lostandfound', fs, 'test');
      for (let i = 0; i < ds.size; i++) {
        const sample = await ds.load(i);
        const out = await detector.detect(sample.image, { scores: ['hybrid'] });
        f32.push(...out.scores.hybrid!);
        lab32.push(...sample.label!.data);
      }
    } finally {
      detector.dispose();
    }
    const ref32 = anomalyMetrics(f32, lab32);
    expect(exact.anomaly.ap).toBeCloseTo(ref32.ap, 12);
    expect(exact.anomaly.auroc).toBeCloseTo(ref32.auroc, 12);
    expect(exact.anomaly.fpr).toBe(ref32.fpr);
    expect(exact.anomaly.ap).not.toBe(ck.anomaly.ap);
    // report.md names the mode, and the rounding in its notes
    const histReport = await readFile(join(tmp.dir, 'eval-fs-ck/report.md'), 'utf8');
    expect(histReport).toContain('accumulator: histogram (float16 bins)');
    expect(histReport).toMatch(/\| evaluation mode \| `histogram`: one bin per float16 value/);
    expect(histReport).toMatch(
      /## Notes\n\n- histogram mode: \d+ of \d+ scores are no float16 value/,
    );
    const exactReport = await readFile(join(tmp.dir, 'eval-fs-ck-exact/report.md'), 'utf8');
    expect(exactReport).toContain('| evaluation mode | `exact`: every score kept and sorted |');
    expect(exactReport).not.toContain('## Notes');
    expect(m.context).toMatchObject({ checkpoint: null, scoreMaps: maps, scores: ['scores'] });
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 3; i++) {
      const npy = await readNpy(join(maps, `test/city/f${i}_leftImg8bit.scores.npy`));
      const lab = await readLabel(join(fs, `ood/test/city/f${i}_ood_segmentation.png`));
      scores.push(...npy.data);
      labels.push(...lab.data);
    }
    const ref = anomalyMetrics(scores, labels, { tpr: 0.95, fprRule: 'at-least' });
    expect(m.anomaly.ap).toBeCloseTo(ref.ap, 12);
    expect(m.anomaly.auroc).toBeCloseTo(ref.auroc, 12);
    expect(m.anomaly.fpr).toBeCloseTo(ref.fpr, 12);
    for (const f of ['report.md', 'pr.png', 'roc.png'])
      expect((await stat(join(tmp.dir, 'eval-fs-maps', f))).size).toBeGreaterThan(0);
    const report = await readFile(join(tmp.dir, 'eval-fs-maps/report.md'), 'utf8');
    expect(report).toContain(`- score maps: \`${maps}\` (precomputed)`);
  });

  it('StreetHazards: float32 maps in a folder per score and closed-set .npy / .png give the checkpoint’s metrics.json numbers', async () => {
    const maps = join(tmp.dir, 'maps-sh');
    const detector = await loadModel(run);
    try {
      for (const fold of ['t5', 't6']) {
        const ds = await openDataset('streethazards', sh, fold);
        for (let i = 0; i < ds.size; i++) {
          const sample = await ds.load(i);
          const out = await detector.detect(sample.image, { scores: ['hybrid', 'generative'] });
          for (const name of ['hybrid', 'generative'] as const)
            await writeNpy(join(maps, name, fold, `${i}.npy`), out.scores[name], [H, W], '<f4');
          const closed = join(maps, 'closed', fold, `${i}.${fold === 't5' ? 'npy' : 'png'}`);
          if (fold === 't5') await writeNpy(closed, out.closed, [H, W], '|u1');
          else {
            await mkdir(dirname(closed), { recursive: true });
            await sharp(Buffer.from(out.closed), { raw: { width: W, height: H, channels: 1 } })
              .toColourspace('b-w')
              .png()
              .toFile(closed);
          }
        }
      }
    } finally {
      detector.dispose();
    }
    const args = ['--score', 'hybrid,generative'];
    const m = await evalJson(
      scoreMapsEvalArgs('streethazards', sh, maps, join(tmp.dir, 'sh-maps'), args),
    );
    const ck = await evalJson(
      fixtureEvalArgs(run, 'streethazards', sh, join(tmp.dir, 'sh-ck'), args),
    );
    expect(m.openSet.thresholdSource).toBe('cross-calibration');
    expect(m.closed).not.toBeNull();
    expect(numbers(m)).toEqual(numbers(ck));
    for (const name of ['hybrid', 'generative']) expect(m.scores[name]).toEqual(ck.scores[name]);

    // without closed-set predictions: anomaly metrics only, with a note
    const bare = join(tmp.dir, 'maps-sh-bare');
    await cp(maps, bare, { recursive: true });
    await rm(join(bare, 'closed'), { recursive: true });
    const r = await cli([
      ...scoreMapsEvalArgs('streethazards', sh, bare, join(tmp.dir, 'sh-bare'), args),
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no closed-set predictions in .*: anomaly metrics only/);
    const b = JSON.parse(r.stdout);
    expect(b.openSet).toBeNull();
    expect(b.closed).toBeNull();
    expect(b.anomaly).toEqual(ck.anomaly);
    expect(b.perFoldAnomaly).toEqual(ck.perFoldAnomaly);
  });

  it("SMIYC: component metrics and binned pixel metrics from infer's float16 maps equal the checkpoint's", async () => {
    const maps = join(tmp.dir, 'maps-smiyc');
    await infer(join(smiyc, 'dataset_AnomalyTrack/images'), maps);
    const extra = ['--min-prediction-size', '0', '--min-instance-size', '0'];
    const m = await evalJson(
      scoreMapsEvalArgs('smiyc-anomaly', smiyc, maps, join(tmp.dir, 'smiyc-maps'), extra),
    );
    const ck = await evalJson(
      fixtureEvalArgs(run, 'smiyc-anomaly', smiyc, join(tmp.dir, 'smiyc-ck'), extra),
    );
    expect(m.components).not.toBeNull();
    expect(numbers(m)).toEqual(numbers(ck));
  });

  it('names a missing, extra, ambiguous or mis-sized map (exit 1) and needs one of --checkpoint / --scores (exit 2)', async () => {
    const maps = join(tmp.dir, 'maps-fs');
    const bad = join(tmp.dir, 'maps-bad');
    const run1 = async (dir: string) => {
      const r = await cli(
        scoreMapsEvalArgs('fishyscapes-lostandfound', fs, dir, join(tmp.dir, 'bad-out')),
      );
      return { code: r.code, err: r.stderr.split('\n').filter((l) => l.startsWith('densehybrid')) };
    };
    await cp(maps, bad, { recursive: true });
    await rm(join(bad, 'test/city/f1_leftImg8bit.scores.npy'));
    const missing = await run1(bad);
    expect(missing.code).toBe(1);
    expect(missing.err).toHaveLength(1);
    expect(missing.err[0]).toMatch(
      /expected a "scores" score map for every frame, got none for .*f1_leftImg8bit\.png \(fishyscapes\/lostandfound\), e\.g\. .*\/scores\/f1_leftImg8bit\.npy or .*\/f1_leftImg8bit\.scores\.npy$/,
    );
    await cp(
      join(maps, 'test/city/f1_leftImg8bit.scores.npy'),
      join(bad, 'test/city/f1_leftImg8bit.scores.npy'),
    );
    const extraFile = join(bad, 'test/city/zz_leftImg8bit.scores.npy');
    await cp(join(maps, 'test/city/f1_leftImg8bit.scores.npy'), extraFile);
    const extra = await run1(bad);
    expect(extra.code).toBe(1);
    expect(extra.err[0]).toContain(`got ${extraFile}: no frame of`);
    await rm(extraFile);
    const small = join(bad, 'test/city/f2_leftImg8bit.scores.npy');
    await writeFile(small, encodeNpy(new Float32Array(H * (W - 1)), [H, W - 1]));
    const sized = await run1(bad);
    expect(sized.code).toBe(1);
    expect(sized.err[0]).toBe(
      `densehybrid eval: eval --scores: expected ${small} of shape (${H}, ${W}) (the label's height, width), got (${H}, ${W - 1})`,
    );
    // StreetHazards t5/0 and t6/0: a flat 0.scores.npy cannot say which
    const flat = join(tmp.dir, 'maps-flat');
    await infer(join(sh, 'test/images/test/t5'), flat);
    const amb = await cli(scoreMapsEvalArgs('streethazards', sh, flat, join(tmp.dir, 'flat-out')));
    expect(amb.code).toBe(1);
    expect(amb.stderr).toMatch(/0\.scores\.npy: it matches 2 frames/);
    const both = await cli([
      ...scoreMapsEvalArgs('fishyscapes-lostandfound', fs, maps, join(tmp.dir, 'x')),
      '--checkpoint',
      run,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--checkpoint \/ --scores: expected one of them .*got both/);
    const inside = await cli(
      scoreMapsEvalArgs('fishyscapes-lostandfound', fs, maps, join(maps, 'report')),
    );
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/--out: expected a folder outside --scores/);
    const k = await cli([
      ...scoreMapsEvalArgs('folder', fs, maps, join(tmp.dir, 'k')),
      '--label-kind',
      'open-set',
    ]);
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/--classes: expected the number of known classes K/);
  });

  it('refuses to resume when a score map changed (the key holds the maps’ identity); --fresh starts over', async () => {
    const maps = join(tmp.dir, 'maps-resume');
    await cp(join(tmp.dir, 'maps-fs'), maps, { recursive: true });
    const out = join(tmp.dir, 'eval-resume');
    const args = scoreMapsEvalArgs('fishyscapes-lostandfound', fs, maps, out);
    const controller = new AbortController();
    const first = await cli(args, {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          if (/eval {2}1\/3/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    const f2 = join(maps, 'test/city/f2_leftImg8bit.scores.npy');
    const npy = await readNpy(f2);
    await writeNpy(
      f2,
      npy.data.map((v) => v + 1),
      [H, W],
    );
    const changed = await cli(args);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/scoreMapsDigest differs/);
    const fresh = await evalJson([...args, '--fresh']);
    expect(fresh.frames).toBe(3);
  });
});
