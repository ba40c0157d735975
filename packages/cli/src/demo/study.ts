import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, sha256, writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import type { ResumeKey, ResumeKeyValue } from '@densehybrid/metrics-openiou/node';
import { checkResumeKey, readRecord } from '../resume.js';
import { closedResumeKey, runDemo, type DemoHooks, type DemoOptions } from './pipeline.js';
import { runPretrain } from './pretrain.js';
import { SHIPPED_PRETRAINED_DIR, hasPretrained } from './pretrained.js';
import { PRETRAIN_STEPS_FACTOR, applyStudyChange, type StudyConfig } from './study-configs.js';
import { writeStudyReport, type StudyRunRecord } from './study-report.js';

/** Options of {@link runStudy}. */
export interface StudyOptions {
  /** Study folder: `runs/`, shared `closed/` and `pretrained/` stages, `study.*` outputs. */
  readonly out: string;
  /** The demo every configuration changes (its `out` is ignored). */
  readonly base: DemoOptions;
  readonly configs: readonly StudyConfig[];
  readonly seeds: readonly number[];
  /** × every step count (closed-set, fine-tuning, pretraining): reduced-size studies. @default 1 */
  readonly scale: number;
  /** The pretrained checkpoint to use when it matches a run's settings. @default the shipped one */
  readonly pretrainedDir?: string;
}

/** Where a run stands, for progress lines. */
export interface StudyRunStart {
  /** 1-based. */
  readonly index: number;
  readonly total: number;
  readonly config: string;
  readonly seed: number;
  /** Estimated seconds for the rest of the study (this run included); NaN before any measurement. */
  readonly etaSeconds: number;
}

/** Hooks of {@link runStudy}: the demo's, plus the start of every run. */
export interface StudyHooks extends DemoHooks {
  readonly onRunStart?: (run: StudyRunStart) => void;
}

/** What {@link runStudy} returns. */
export interface StudyResult {
  /** False when interrupted (rerun the same command to resume). */
  readonly completed: boolean;
  readonly out: string;
  readonly runs: readonly StudyRunRecord[];
  /** Files written (relative to `out`). */
  readonly files: readonly string[];
  /** The Markdown table, for the terminal. */
  readonly markdown: string;
}

/** Everything a study writes in its folder (what `fresh` removes). */
const STUDY_ENTRIES = [
  'runs',
  'closed',
  'pretrained',
  'study-key.json',
  'study.json',
  'study.md',
  'study.svg',
  'study.png',
] as const;

/** Hex digest of a JSON value, for folder names. */
const keyHash = (value: unknown): string => sha256(canonicalJson(value)).slice(0, 16);

/** The parts of a run's options that determine its results. */
function runKey(config: StudyConfig, options: DemoOptions, pretrained: string | null): ResumeKey {
  const {
    out: _out,
    cacheDir: _cache,
    closedStateDir: _closed,
    pretrainedDir: _pre,
    ...rest
  } = options;
  return {
    format: 'densehybrid/demo-study-run',
    version: 1,
    config: config.id,
    change: config.change as ResumeKeyValue,
    options: rest as unknown as ResumeKeyValue,
    pretrained,
  };
}

/** Seconds per weighted training step and evaluation, as measured so far. */
interface Timing {
  stepSeconds: number;
  stepWeight: number;
  evalSeconds: number;
  runs: number;
}

const stepWeight = (o: DemoOptions): number =>
  ((o.scenes.size ?? 64) / 64) ** 2 * (o.batchSize / 24);

/**
 * Runs the study: every configuration × seed as a demo run (figures off) in `out/runs/<config>-s<seed>`,
 * closed-set stages shared by runs that agree on every closed-set setting (`out/closed/`), a
 * pretrained closed-set checkpoint where a configuration asks for one (the shipped one when it
 * matches the run's scenes and steps, else trained once in `out/pretrained/`), then the table
 * (study.md), the raw numbers (study.json) and a plot (study.svg, study.png). Resumable at every
 * level: finished runs are skipped, an interrupted run continues from its training state.
 *
 * @throws CliUsageError when `out` holds a study of another base or scale (exit 2; `fresh` starts over)
 */
export async function runStudy(options: StudyOptions, hooks: StudyHooks): Promise<StudyResult> {
  const { out } = options;
  const studyKey: ResumeKey = {
    format: 'densehybrid/demo-study',
    version: 1,
    base: { ...options.base, out: undefined, cacheDir: undefined } as unknown as ResumeKeyValue,
    scale: options.scale,
  };
  const keyFile = join(out, 'study-key.json');
  if (hooks.fresh) {
    // only what a study writes: never the folder itself (it may hold other files)
    for (const entry of STUDY_ENTRIES) await rm(join(out, entry), { recursive: true, force: true });
  }
  const stored = await readRecord(keyFile);
  if (stored !== undefined)
    checkResumeKey(
      `--out ${out} holds a study`,
      stored,
      studyKey,
      'rerun with --fresh to start over',
    );
  await mkdir(join(out, 'runs'), { recursive: true });
  await writeFileAtomic(keyFile, JSON.stringify(studyKey, null, 1));

  const plan = options.configs.flatMap((config) =>
    options.seeds.map((seed) => {
      const demo = applyStudyChange({ ...options.base, seed }, config.change, options.scale);
      return { config, seed, demo };
    }),
  );
  const timing: Timing = { stepSeconds: 0, stepWeight: 0, evalSeconds: 0, runs: 0 };
  const plannedClosed = new Set<string>();
  const remainingWork = (from: number): number => {
    if (timing.stepWeight === 0) return NaN;
    const perStep = timing.stepSeconds / timing.stepWeight;
    let seconds = 0;
    const closed = new Set(plannedClosed);
    for (const { demo } of plan.slice(from)) {
      let steps = demo.steps;
      const key = keyHash(closedResumeKey(demo));
      if (demo.initialization === 'scratch' && !closed.has(key)) {
        closed.add(key);
        steps += demo.closedSteps;
      }
      seconds += steps * stepWeight(demo) * perStep + timing.evalSeconds / timing.runs;
    }
    return seconds;
  };

  const records: StudyRunRecord[] = [];
  for (const [i, { config, seed, demo }] of plan.entries()) {
    const id = `${config.id}-s${seed}`;
    const runDir = join(out, 'runs', id);
    const closedKey = keyHash(closedResumeKey(demo));
    let pretrainedDir: string | undefined;
    let pretrainedDigest: string | null = null;
    if (demo.initialization === 'pretrained') {
      const p = await studyPretrained(options, demo, hooks);
      if (p === undefined) return interrupted(out, records);
      pretrainedDir = p.dir;
      pretrainedDigest = p.digest;
    }
    const key = runKey(config, demo, pretrainedDigest);
    const done = (await readRecord(join(runDir, 'run.json'))) as
      { key?: unknown; result?: StudyRunRecord } | null | undefined;
    if (done?.result && canonicalJson(done.key) === canonicalJson(key)) {
      records.push(done.result);
      const r = done.result;
      const steps = r.steps.fineTune + (r.steps.closedShared ? 0 : r.steps.closed);
      if (steps > 0 && r.seconds.train > 0) {
        timing.stepSeconds += r.seconds.train;
        timing.stepWeight += steps * stepWeight(demo);
        timing.evalSeconds += r.seconds.evaluate;
        timing.runs++;
      }
      if (demo.initialization === 'scratch') plannedClosed.add(closedKey);
      hooks.log(`study [${i + 1}/${plan.length}] ${id}: done earlier, kept`);
      continue;
    }
    // a run folder of other settings (the configuration changed) starts over
    const started = await readRecord(`${runDir}.key.json`);
    if (started !== undefined && canonicalJson(started) !== canonicalJson(key)) {
      await rm(runDir, { recursive: true, force: true });
      await rm(`${runDir}.partial`, { recursive: true, force: true });
    }
    await writeFileAtomic(`${runDir}.key.json`, canonicalJson(key));
    hooks.onRunStart?.({
      index: i + 1,
      total: plan.length,
      config: config.id,
      seed,
      etaSeconds: remainingWork(i),
    });
    const closedStateDir = join(out, 'closed', closedKey);
    const willTrainClosed = demo.initialization === 'scratch' && !plannedClosed.has(closedKey);
    const result = await runDemo(
      {
        ...demo,
        out: runDir,
        figures: false,
        ...(demo.initialization === 'scratch' ? { closedStateDir } : {}),
        ...(pretrainedDir !== undefined ? { pretrainedDir } : {}),
      },
      { ...hooks, fresh: false },
    );
    if (!result.completed) return interrupted(out, records);
    if (demo.initialization === 'scratch') plannedClosed.add(closedKey);
    const trainedSteps = result.trainedSteps - result.startStep;
    if (trainedSteps > 0) {
      timing.stepSeconds += result.seconds.train;
      timing.stepWeight += trainedSteps * stepWeight(demo);
    }
    timing.evalSeconds += result.seconds.evaluate;
    timing.runs++;
    const record: StudyRunRecord = {
      config: config.id,
      seed,
      seconds: { ...result.seconds },
      steps: {
        closed: demo.initialization === 'scratch' ? demo.closedSteps : 0,
        closedShared: !willTrainClosed && demo.initialization === 'scratch',
        fineTune: demo.steps,
      },
      tracks: result.tracks.map((t) => ({
        track: t.track,
        closedMIoU: t.closedMIoU,
        scores: Object.fromEntries(
          Object.entries(t.scores).map(([name, m]) => [
            name,
            { ap: m.ap, fpr95: m.fpr95, auroc: m.auroc, openMIoU: m.openMIoU },
          ]),
        ) as StudyRunRecord['tracks'][number]['scores'],
      })),
    };
    await writeFileAtomic(
      join(runDir, 'run.json'),
      JSON.stringify({ key, result: record }, null, 1),
    );
    records.push(record);
  }
  const { files, markdown } = await writeStudyReport(out, {
    runs: records,
    configs: options.configs,
    seeds: options.seeds,
    scale: options.scale,
    base: options.base,
  });
  return { completed: true, out, runs: records, files, markdown };
}

function interrupted(out: string, runs: readonly StudyRunRecord[]): StudyResult {
  return { completed: false, out, runs, files: [], markdown: '' };
}

/**
 * The pretrained closed-set checkpoint of a run: the shipped one when its pretraining settings
 * equal this run's (scenes, steps, learning rate, batch), else one trained here once (seed 0)
 * in `out/pretrained/<key>`. Undefined when interrupted.
 */
async function studyPretrained(
  options: StudyOptions,
  demo: DemoOptions,
  hooks: StudyHooks,
): Promise<{ dir: string; digest: string } | undefined> {
  const pretrain: DemoOptions = {
    ...demo,
    seed: 0,
    initialization: 'scratch',
    closedSteps: Math.max(
      1,
      Math.round(options.base.closedSteps * PRETRAIN_STEPS_FACTOR * options.scale),
    ),
  };
  const wanted = {
    closedSteps: pretrain.closedSteps,
    closedLearningRate: pretrain.closedLearningRate,
    batchSize: pretrain.batchSize,
    seed: 0,
    scenes: pretrain.scenes,
  };
  const digestOf = async (dir: string): Promise<string | undefined> => {
    if (!(await hasPretrained(dir))) return undefined;
    const manifest = (await readRecord(join(dir, 'checkpoint.json'))) as {
      meta?: { pretrain?: unknown };
    } | null;
    if (canonicalJson(manifest?.meta?.pretrain ?? null) !== canonicalJson(wanted)) return undefined;
    return (await readFile(`${dir}.sha256`, 'utf8')).trim();
  };
  const shipped = options.pretrainedDir ?? SHIPPED_PRETRAINED_DIR;
  const fromShipped = await digestOf(shipped);
  if (fromShipped) return { dir: shipped, digest: fromShipped };
  const dir = join(options.out, 'pretrained', keyHash(wanted));
  const own = await digestOf(dir);
  if (own) return { dir, digest: own };
  hooks.log(
    `study: pretraining a closed-set segmenter (${pretrain.closedSteps} steps, seed 0) in ${dir}; no shipped checkpoint matches these scenes and steps`,
  );
  const result = await runPretrain(pretrain, dir, hooks);
  if (!result.completed || result.digest === undefined) return undefined;
  return { dir, digest: result.digest };
}
