import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { DEMO_SCORES } from '../src/demo/evaluate.js';
import { DEFAULT_DEMO_OPTIONS, demoModel, type DemoOptions } from '../src/demo/pipeline.js';
import { hasPretrained, loadPretrained } from '../src/demo/pretrained.js';
import { runStudy, type StudyHooks } from '../src/demo/study.js';
import { STUDY_CONFIGS, applyStudyChange, selectStudyConfigs } from '../src/demo/study-configs.js';
import { aggregateStudy, formatStat, stat, type StudyRunRecord } from '../src/demo/study-report.js';
import { fakeGlyphs } from './demo-glyphs.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-study-'));
  await initBackend({ log: () => {}, threads: 1 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A microscopic demo: 32² scenes, a handful of scenes and steps. */
const base = (): DemoOptions => ({
  ...DEFAULT_DEMO_OPTIONS,
  closedSteps: 2,
  steps: 2,
  batchSize: 2,
  scenes: {
    size: 32,
    trainScenes: 4,
    valScenes: 2,
    testScenes: 2,
    glyphSide: [10, 18],
    negativeCount: 40,
  },
  smlScenes: 2,
  cacheDir: join(root, 'cache'),
});
const glyphs = (): ReturnType<typeof fakeGlyphs> => fakeGlyphs(20);

describe('densehybrid demo --study (microscopic)', () => {
  it('runs every configuration × seed, resumes after an interruption, shares closed-set stages and writes the table and plot', async () => {
    const out = join(root, 'study');
    const configs = selectStudyConfigs(['base', 'no-posterior', 'pretrained']);
    const options = {
      out,
      base: base(),
      configs,
      seeds: [0],
      scale: 1,
      pretrainedDir: join(root, 'no-shipped'),
    };
    const logs: string[] = [];
    const starts: string[] = [];
    const controller = new AbortController();
    let runs = 0;
    const hooks = (signal?: AbortSignal): StudyHooks => ({
      log: (l) => logs.push(l),
      glyphs: () => Promise.resolve(glyphs()),
      onRunStart: (r) => {
        runs++;
        expect(r.total).toBe(3);
        if (r.index > 1) expect(r.etaSeconds).toBeGreaterThan(0); // measured on the first run
      },
      onTrainStart: (stage, start) => starts.push(`${stage}@${start}`),
      onProgress: (p) => {
        // interrupt the second run after its first fine-tuning step
        if (runs === 2 && p.step === 1) controller.abort();
      },
      ...(signal ? { signal } : {}),
    });
    const first = await runStudy(options, hooks(controller.signal));
    expect(first.completed).toBe(false);
    expect(first.runs.map((r) => r.config)).toEqual(['base']);
    // the second run shared the first one's closed-set stage (nothing trained closed-set again)
    expect(starts).toEqual(['closed-set@0', 'DenseHybrid@0', 'closed-set@2', 'DenseHybrid@0']);
    starts.length = 0;
    logs.length = 0;
    runs = 10;
    const second = await runStudy(options, hooks());
    expect(second.completed).toBe(true);
    expect(logs[0]).toMatch(/study \[1\/3\] base-s0: done earlier, kept/);
    // no-posterior resumes at its step 1; pretrained first pretrains (8 × 2 steps) in the study folder
    expect(starts).toEqual(['closed-set@2', 'DenseHybrid@1', 'closed-set@0', 'DenseHybrid@0']);
    expect(
      logs.some((l) => /study: pretraining a closed-set segmenter \(16 steps, seed 0\)/.test(l)),
    ).toBe(true);
    expect(second.runs.map((r) => [r.config, r.steps])).toEqual([
      ['base', { closed: 2, closedShared: false, fineTune: 2 }],
      ['no-posterior', { closed: 2, closedShared: true, fineTune: 2 }],
      ['pretrained', { closed: 0, closedShared: false, fineTune: 2 }],
    ]);
    for (const r of second.runs) {
      expect(r.tracks.map((t) => t.track)).toEqual(['near', 'seen', 'unseen']);
      for (const t of r.tracks) expect(Object.keys(t.scores)).toEqual([...DEMO_SCORES]);
    }
    // outputs: the table (a row per configuration in each track's table), JSON, SVG and PNG
    const files = await readdir(out);
    for (const f of [
      'study.md',
      'study.json',
      'study.svg',
      'study.png',
      'runs',
      'closed',
      'pretrained',
    ])
      expect(files).toContain(f);
    const md = await readFile(join(out, 'study.md'), 'utf8');
    expect(md.match(/^## /gm)).toHaveLength(4); // three tracks + the configurations
    for (const c of ['base', 'no-posterior', 'pretrained'])
      expect(md.match(new RegExp(`^\\| ${c} \\|`, 'gm'))).toHaveLength(3);
    expect(md).toContain(`| config | closed mIoU | ${DEMO_SCORES.join(' | ')} |`);
    expect((await readFile(join(out, 'study.svg'), 'utf8')).startsWith('<svg')).toBe(true);
    expect(
      await readFile(join(out, 'study.png')).then((b) => b.subarray(1, 4).toString('latin1')),
    ).toBe('PNG');
    // the pretrained checkpoint the study made loads with its digest check; a tampered digest fails
    const [pre] = await readdir(join(out, 'pretrained'));
    const dir = join(out, 'pretrained', pre!.replace(/\.sha256$/, ''));
    expect(await hasPretrained(dir)).toBe(true);
    const model = demoModel(7, 0);
    try {
      expect((await loadPretrained(model, dir)).closedSteps).toBe(16);
      await writeFile(`${dir}.sha256`, '0'.repeat(64));
      await expect(loadPretrained(model, dir)).rejects.toThrow(
        /expected the pretrained checkpoint .* to have digest 0000/,
      );
    } finally {
      model.dispose();
    }
    // a study of another scale is refused
    await expect(runStudy({ ...options, scale: 0.5 }, hooks())).rejects.toThrow(
      /holds a study of another run \(stored vs now: scale differs: 1 vs 0.5\); rerun with --fresh/,
    );
  });

  it('applies configuration changes to any base and scales steps', () => {
    const b = base();
    const big = applyStudyChange(b, { sceneScale: 2, stepsFactor: 3 }, 0.5);
    expect(big.scenes.size).toBe(64);
    expect(big.scenes.glyphSide).toEqual([20, 36]);
    expect([big.closedSteps, big.steps]).toEqual([1, 3]);
    expect(applyStudyChange(DEFAULT_DEMO_OPTIONS, { glyphScale: 1.25 }).scenes.glyphSide).toEqual([
      33, 53,
    ]);
    const c = applyStudyChange(b, {
      negatives: ['tops'],
      pretrained: true,
      lossTerms: 'no-likelihood',
    });
    expect([c.negatives, c.initialization, c.lossTerms]).toEqual([
      ['tops'],
      'pretrained',
      'no-likelihood',
    ]);
    // every configuration is a valid change of the base, and ids are unique
    expect(new Set(STUDY_CONFIGS.map((x) => x.id)).size).toBe(STUDY_CONFIGS.length);
    for (const config of STUDY_CONFIGS) {
      const o = applyStudyChange(b, config.change);
      expect(o.steps, config.id).toBeGreaterThanOrEqual(1);
      expect(o.scenes.glyphSide![1], config.id).toBeLessThanOrEqual(o.scenes.size!);
    }
    expect(() => selectStudyConfigs(['base', 'nope'])).toThrow(
      /expected --study-configs from base, .* got nope/,
    );
  });

  it('aggregates seeds into mean ± sd and counts where hybrid beats its components and max-softmax', () => {
    expect(stat([1, 2, 3])).toEqual({ mean: 2, sd: 1, n: 3 });
    expect(formatStat(stat([40.04, 42.06]))).toBe('41.0 ± 1.4');
    expect(formatStat(stat([7]))).toBe('7.0');
    const record = (seed: number, hybrid: number, generative: number): StudyRunRecord => ({
      config: 'base',
      seed,
      seconds: { data: 0, train: 10, evaluate: 2, total: 12, cpu: 12 },
      steps: { closed: 1, closedShared: false, fineTune: 1 },
      tracks: (['near', 'seen', 'unseen'] as const).map((track) => ({
        track,
        closedMIoU: 50,
        scores: Object.fromEntries(
          DEMO_SCORES.map((s) => [
            s,
            {
              ap: s === 'hybrid' ? hybrid : s === 'generative' ? generative : 30,
              fpr95: 10,
              auroc: 90,
              openMIoU: 40,
            },
          ]),
        ) as StudyRunRecord['tracks'][number]['scores'],
      })),
    });
    const [row] = aggregateStudy(
      [record(0, 50, 40), record(1, 30, 40), record(2, 40, 40)],
      selectStudyConfigs(['base']),
    );
    expect(row!.seeds).toBe(3);
    expect(row!.seconds).toBe(12);
    expect(row!.tracks.unseen.ap.hybrid).toEqual({ mean: 40, sd: 10, n: 3 });
    expect(row!.tracks.unseen.wins).toEqual({
      generative: 2,
      discriminative: 3,
      maxSoftmax: 2,
      all: 2,
    });
  });
});
