import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { metricsDocument } from '@densehybrid/metrics-openiou';
import {
  SESSION_STATE_FILE,
  canonicalJson,
  describeResumeKeyDifferences,
  openStagedDir,
  readSessionState,
  readSessionStateIndex,
  resumeKeyDifferences,
} from '@densehybrid/metrics-openiou/node';
import type { SessionStateIndex } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { EVAL_STATE_FORMAT, EVAL_STATE_VERSION } from '../evaluate.js';
import type { EvalStateMeta } from '../evaluate.js';
import {
  measuredTimings,
  reportContext,
  summaryLines,
  writeEvaluationReport,
  writeTimings,
} from '../report.js';
import type { ReportBase } from '../report.js';
import { readRecord } from '../resume.js';
import { parseShardDirName, shardDirName, writeComponentThresholds } from '../shard.js';

/** One shard state found on the command line. */
interface FoundState {
  readonly dir: string;
  readonly index: SessionStateIndex<EvalStateMeta>;
  readonly meta: EvalStateMeta;
  readonly shard: NonNullable<EvalStateMeta['shard']>;
}

/**
 * The shard state folders the arguments name: a folder with `session-state.json` is one; any
 * other folder stands for its `shard-<i>-of-<n>` subfolders (an `eval --shard` `--out`).
 *
 * @throws CliUsageError (exit 2) naming a path that is neither
 */
async function stateDirs(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (s === undefined || !s.isDirectory())
      throw new CliUsageError(
        `merge: expected a shard state folder, got ${p} (${s ? 'a file' : 'no such folder'})`,
      );
    if ((await stat(join(p, SESSION_STATE_FILE)).catch(() => undefined)) !== undefined) {
      out.push(p);
      continue;
    }
    const subs = (await readdir(p, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && parseShardDirName(e.name) !== null)
      .map((e) => join(p, e.name))
      .sort();
    if (subs.length === 0) {
      throw new CliUsageError(
        `merge: expected a shard state folder (with ${SESSION_STATE_FILE}) or an eval --shard --out folder (with shard-<i>-of-<n> folders), got ${p}, which has neither`,
      );
    }
    out.push(...subs);
  }
  return [...new Set(out)];
}

/** Reads and checks the states: one run, every shard exactly once, each first pass complete. */
async function readStates(dirs: readonly string[]): Promise<FoundState[]> {
  const found: FoundState[] = [];
  for (const dir of dirs) {
    const index = await readSessionStateIndex<EvalStateMeta>(dir);
    const meta = index?.meta;
    if (
      index === undefined ||
      index === null ||
      typeof meta !== 'object' ||
      meta === null ||
      meta.format !== EVAL_STATE_FORMAT
    ) {
      throw new CliUsageError(
        `merge: expected the state of a densehybrid eval --shard run in ${dir}, got ${index === undefined ? 'none' : 'another file'}`,
      );
    }
    if (meta.version !== EVAL_STATE_VERSION) {
      throw new CliUsageError(
        `merge: expected a state of format version ${EVAL_STATE_VERSION} in ${dir}, got version ${String(meta.version)}; evaluate that shard again with this version (--fresh)`,
      );
    }
    if (meta.shard === null) {
      throw new CliUsageError(
        `merge: expected the state of an eval --shard run in ${dir}, got a single process's partial state`,
      );
    }
    found.push({ dir, index, meta, shard: meta.shard });
  }
  const first = found[0] as FoundState;
  for (const f of found.slice(1)) {
    const differences = resumeKeyDifferences(f.meta.key, first.meta.key);
    if (differences.length > 0) {
      throw new CliUsageError(
        `merge: ${f.dir} is a shard of another run than ${first.dir} (${describeResumeKeyDifferences(differences)}); merge the shards of one run`,
      );
    }
    const context = resumeKeyDifferences(
      (f.meta.context ?? {}) as Record<string, never>,
      (first.meta.context ?? {}) as Record<string, never>,
    );
    if (context.length > 0) {
      throw new CliUsageError(
        `merge: ${f.dir} and ${first.dir} were evaluated differently (${describeResumeKeyDifferences(context)}); metrics.json would not be one run's`,
      );
    }
  }
  const n = first.shard.count;
  const byIndex = new Map<number, FoundState>();
  for (const f of found) {
    const other = byIndex.get(f.shard.index);
    if (other !== undefined) {
      throw new CliUsageError(
        `merge: expected each shard once, got shard ${f.shard.index}/${n} twice: ${other.dir} and ${f.dir}`,
      );
    }
    byIndex.set(f.shard.index, f);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new CliUsageError(
      `merge: expected all ${n} shards, got ${found.length}; missing ${missing.map((i) => `${i}/${n} (${shardDirName({ index: i, count: n })})`).join(', ')}`,
    );
  }
  const ordered = Array.from({ length: n }, (_, i) => byIndex.get(i) as FoundState);
  const unfinished = ordered.filter((f) => !f.meta.firstPass);
  if (unfinished.length > 0) {
    throw new CliUsageError(
      `merge: expected finished shards, got ${unfinished.map((f) => `${f.shard.index}/${n} (${f.dir}: ${f.index.session.frames ? Object.values(f.index.session.frames).reduce((a, b) => a + b, 0) : 0} of ${f.shard.end - f.shard.start} images)`).join(', ')} unfinished; run them again (the same command resumes)`,
    );
  }
  return ordered;
}

/** `densehybrid merge`: the shards of an `eval --shard` run into the report of one process. */
export const mergeCommand = defineCommand({
  name: 'merge',
  summary:
    "merge eval --shard i/n states into one process's metrics.json and report, byte for byte",
  description: `Reads the state every shard of one evaluation left (eval --shard i/n --out <out>
writes <out>/shard-i-of-n), checks that they are the n shards of one run (same checkpoint or
score maps, data, scores and conventions; every index once; each finished) and writes into --out
what a single process writes: metrics.json (the same bytes), report.md, pr.png, roc.png, and
timings.json (each shard's timings; the only file that differs).
SMIYC component metrics (sIoU, PPV, mean F1) threshold at the best pixel F1 of all frames, and
open-mIoU of score maps that are no float16 values is counted at the cross-calibrated thresholds
of all frames: the first merge then writes --out/component-thresholds.json instead; run every
shard again with --component-thresholds <that file> (the second pass), then merge again.

example:
  densehybrid merge runs/eval --out runs/eval/merged          # runs/eval/shard-*-of-*
  densehybrid merge a/shard-0-of-2 b/shard-1-of-2 --out merged`,
  positionals: [
    {
      name: 'states',
      description:
        'shard state folders (<out>/shard-i-of-n), or eval --shard --out folders holding them',
      variadic: true,
      required: true,
    },
  ],
  flags: {
    out: {
      type: 'path',
      required: true,
      placeholder: 'dir',
      description: 'folder for metrics.json, report.md, pr.png, roc.png, timings.json',
    },
  },
  async run(flags, ctx) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const dirs = await stateDirs(ctx.positionals.map((p) => resolve(ctx.io.cwd, p)));
    const states = await readStates(dirs);
    const first = states[0] as FoundState;
    const n = first.shard.count;
    const frames = states.reduce((a, s) => a + s.shard.end - s.shard.start, 0);
    ctx.log(`merge ${n} shards of ${frames} images`);
    const { session } = await readSessionState<EvalStateMeta>(states.map((s) => s.dir));
    // component thresholds and, for scores that are no float16 values, open-set ones
    const thresholds = session.secondPassThresholds();
    const needsPass = Object.keys(thresholds).length > 0;
    if (needsPass) {
      const ran = states.filter((s) => s.meta.componentPass?.finished === true);
      const stale = ran.filter(
        (s) => canonicalJson(s.meta.componentPass?.thresholds) !== canonicalJson(thresholds),
      );
      if (ran.length < n || stale.length > 0) {
        const file = await writeComponentThresholds(flags.out, first.meta.key, thresholds);
        const rerun = `densehybrid eval … --shard i/${n} --component-thresholds ${file}`;
        if (ran.length === 0) {
          ctx.result(
            {
              out: flags.out,
              status: 'component-pass-needed',
              componentThresholds: file,
              thresholds,
            },
            [
              `first pass of ${n} shards merged; the component metrics need a second pass at the merged thresholds`,
              `wrote ${file}`,
              `next: run every shard again with --component-thresholds (${rerun}), then merge again`,
            ],
          );
          return;
        }
        const waiting = states.filter((s) => !ran.includes(s) || stale.includes(s));
        throw new CliUsageError(
          `merge: expected every shard's component pass at the merged first pass's thresholds ${canonicalJson(thresholds)}, got ${waiting
            .map(
              (s) =>
                `${s.shard.index}/${n} ${s.meta.componentPass === null ? 'without one' : s.meta.componentPass.finished ? `at ${canonicalJson(s.meta.componentPass.thresholds)}` : 'unfinished'}`,
            )
            .join(
              ', ',
            )}; run those shards with --component-thresholds ${file} (written now), then merge again`,
        );
      }
    }
    const result = session.finish();
    const base = first.meta.context as unknown as ReportBase;
    const rc = reportContext(base, result);
    const staged = await openStagedDir(flags.out, { resume: false });
    await writeEvaluationReport(staged.dir, result, rc);
    const shards: (Record<string, unknown> | null)[] = [];
    for (const s of states)
      shards.push(
        ((await readRecord(join(s.dir, 'timings.json'))) as Record<string, unknown> | null) ?? null,
      );
    await writeTimings(staged.dir, { ...measuredTimings(t0, cpu0, result.frames), shards });
    await staged.commit();
    ctx.result({ out: flags.out, ...metricsDocument(result, rc) }, summaryLines(flags.out, result));
  },
});
