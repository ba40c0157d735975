// Issue 15: session state folders (incremental, binary exact scores), shards merged in order =
// one session bit for bit, the in-place exact sort and the copy-free pooling of folds.
import { mkdtemp, readFile, rm, stat, truncate, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AnomalyMetricsAccumulator,
  BENCHMARK_PROTOCOLS,
  EvaluationSession,
  anomalyMetrics,
  type EvaluationFrame,
  type EvaluationSessionOptions,
} from '@densehybrid/metrics-openiou';
import {
  SessionStateWriter,
  readSessionState,
  readSessionStateIndex,
} from '@densehybrid/metrics-openiou/node';
import { sortKeysInPlace } from '../src/exact.js';
import { ExactSum } from '../src/exact-sum.js';
import { bruteForce, rng } from './helpers.js';

const W = 24;
const H = 16;

/** SMIYC-like frames: a blob per frame (none in every 4th), float16-ish scores with ties. */
function frames(seed: number, n: number, folds: readonly string[] = ['test']): EvaluationFrame[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, f) => {
    const labels = new Uint8Array(W * H);
    const scores = new Float32Array(W * H);
    const bx = 2 + (f % 9);
    const by = 3 + (f % 5);
    for (let i = 0; i < W * H; i++) {
      const x = i % W;
      const y = Math.floor(i / W);
      const blob = f % 4 !== 3 && x >= bx && x < bx + 6 && y >= by && y < by + 5;
      labels[i] = y === 0 ? 255 : blob ? 1 : 0;
      scores[i] = Math.round(8 * ((blob ? 1 : 0) + 1.5 * r())) / 8 + (f % 3) * 1e-3;
    }
    return {
      fold: folds[f % folds.length] as string,
      width: W,
      height: H,
      labels,
      scores: { s: scores },
    };
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dh-session-state-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** One session over `all`, and the same frames split into `k` contiguous shards written to folders and read back merged. */
async function singleAndSharded(
  options: EvaluationSessionOptions,
  all: readonly EvaluationFrame[],
  k: number,
  tag: string,
) {
  const single = new EvaluationSession(options);
  for (const f of all) single.addFrame(f);
  const thresholds = single.secondPassThresholds();
  if (options.components !== null) for (const f of all) single.addComponentFrame(f);
  const dirs: string[] = [];
  const ranges = Array.from({ length: k }, (_, i) => [
    Math.floor((i * all.length) / k),
    Math.floor(((i + 1) * all.length) / k),
  ]);
  for (const [i, [a, b]] of ranges.entries()) {
    const d = join(dir, `${tag}-${i}`);
    const s = new EvaluationSession(options);
    const w = await SessionStateWriter.open(d, s);
    for (const f of all.slice(a, b)) {
      s.addFrame(f);
      await w.append();
    }
    await w.commit({ shard: i });
    await w.close();
    dirs.push(d);
  }
  // the second pass at the merged first pass's thresholds
  const first = await readSessionState(dirs);
  const merged = first.session.secondPassThresholds();
  expect(merged).toEqual(thresholds);
  if (options.components !== null && Object.keys(merged).length > 0) {
    for (const [i, [a, b]] of ranges.entries()) {
      const index = await readSessionStateIndex(dirs[i] as string);
      const s = EvaluationSession.fromJSON(index!.session);
      const w = await SessionStateWriter.open(dirs[i] as string, s);
      s.startComponentPass(merged);
      for (const f of all.slice(a, b)) s.addComponentFrame(f);
      await w.commit({ shard: i, pass: 2 });
      await w.close();
    }
  }
  const { session, indexes } = await readSessionState(dirs);
  expect(indexes.map((x) => x.meta)).toEqual(
    ranges.map((_, i) => expect.objectContaining({ shard: i })),
  );
  return { single: single.finish(), sharded: session.finish(), dirs };
}

describe('session state folders and shards', () => {
  it('SMIYC, histogram: 3 shards through state folders = one session (binned and exact pixel metrics, components)', async () => {
    const all = frames(1, 13);
    const opts: EvaluationSessionOptions = {
      benchmark: 'smiyc-anomaly',
      scoreNames: ['s'],
      components: {
        ...BENCHMARK_PROTOCOLS['smiyc-anomaly'].components,
        minPredictionSize: 3,
        minInstanceSize: 3,
      },
    };
    const { single, sharded } = await singleAndSharded(opts, all, 3, 'hist');
    expect(single.components?.gtComponents).toBeGreaterThan(5);
    expect(sharded).toEqual(single);
    expect(JSON.stringify(sharded)).toBe(JSON.stringify(single));
  });

  it('exact mode, two folds, per-image and pooled: shards = one session = the old pooled copy = brute force; scores live in the files (4 bytes each)', async () => {
    const all = frames(2, 12, ['a', 'b']);
    for (const protocol of ['pooled', 'per-image'] as const) {
      const opts: EvaluationSessionOptions = {
        folds: ['a', 'b'],
        scoreNames: ['s'],
        mode: 'exact',
        protocol,
        components: null,
      };
      const { single, sharded, dirs } = await singleAndSharded(opts, all, 4, `exact-${protocol}`);
      expect(JSON.stringify(sharded)).toBe(JSON.stringify(single));
      if (protocol === 'pooled') {
        // the copy-free union of the folds = merging copies into one accumulator (before issue 15)
        const copy = new AnomalyMetricsAccumulator({
          mode: 'exact',
          perImage: false,
          tpr: 0.95,
          fprRule: 'at-least',
          thresholdRule: 'greater-or-equal',
        });
        for (const f of all) copy.add(f.scores['s']!, f.labels);
        const ref = copy.compute();
        expect(single.anomaly).toEqual({ ...ref, framesUsed: 12 });
        const flat = (pick: (f: EvaluationFrame) => ArrayLike<number>) =>
          Float32Array.from(all.flatMap((f) => Array.from(pick(f))));
        const bf = bruteForce(
          flat((f) => f.scores['s']!),
          flat((f) => f.labels),
        );
        expect(single.anomaly!.ap).toBeCloseTo(bf.ap, 12);
        expect(single.anomaly!.auroc).toBeCloseTo(bf.auroc, 12);
        expect(single.anomaly!.fpr).toBeCloseTo(bf.atLeast, 12);
        expect(
          anomalyMetrics(
            flat((f) => f.scores['s']!),
            flat((f) => f.labels),
          ).ap,
        ).toBe(single.anomaly!.ap);
      }
      // the index holds no score; exact/ holds 4 bytes per non-ignored pixel
      const index = JSON.parse(await readFile(join(dirs[0]!, 'session-state.json'), 'utf8'));
      const acc = index.session.scores.s.a.acc;
      expect(acc.exact.pos).toBe('');
      expect(acc.exact.offloaded.f32.pos).toBe(acc.positives);
      expect((await stat(join(dirs[0]!, 'exact/0-0-acc.pos.f32'))).size).toBe(4 * acc.positives);
      expect((await stat(join(dirs[0]!, 'exact/0-0-acc.neg.f32'))).size).toBe(4 * acc.negatives);
    }
  });

  it('defaults on float32 scores: Fishyscapes (exact) and a per-image histogram session, sharded = one session, rounding counts included', async () => {
    // float32 scores that are no float16 values
    const all = frames(5, 9).map((f, k) => ({
      ...f,
      scores: { s: Float32Array.from(f.scores['s']!, (v, i) => v + ((i * 7 + k) % 13) * 1.3e-5) },
    }));
    const fishy: EvaluationSessionOptions = {
      benchmark: 'fishyscapes-lostandfound',
      scoreNames: ['s'],
    };
    const f = await singleAndSharded(fishy, all, 3, 'fs-default');
    expect(f.single.conventions.mode).toBe('exact');
    expect(JSON.stringify(f.sharded)).toBe(JSON.stringify(f.single));
    // the exact scores went to the state files, 4 bytes each
    const index = JSON.parse(await readFile(join(f.dirs[0]!, 'session-state.json'), 'utf8'));
    const acc = index.session.scores.s.test.acc;
    expect((await stat(join(f.dirs[0]!, 'exact/0-0-acc.pos.f32'))).size).toBe(4 * acc.positives);
    const perImage: EvaluationSessionOptions = {
      scoreNames: ['s'],
      protocol: 'per-image',
      components: null,
    };
    const p = await singleAndSharded(perImage, all, 3, 'per-image-hist');
    expect(p.single.conventions.mode).toBe('histogram');
    expect(p.single.notes[0]).toMatch(/^histogram mode: \d+ of \d+ scores are no float16 value/);
    expect(JSON.stringify(p.sharded)).toBe(JSON.stringify(p.single));
  });

  it('StreetHazards-like open-set folds with ×0.5 calibration, exact: shards = one session', async () => {
    const r = rng(7);
    const K = 3;
    const all = Array.from({ length: 8 }, (_, f) => {
      const labels = new Uint8Array(W * H);
      const closed = new Uint8Array(W * H);
      const s = new Float32Array(W * H);
      for (let i = 0; i < W * H; i++) {
        const anomaly = (i + f * 7) % 23 < 3;
        labels[i] = r() < 0.05 ? 255 : anomaly ? K : Math.floor(r() * K);
        closed[i] = r() < 0.8 ? Math.min(labels[i]!, K - 1) : Math.floor(r() * K);
        s[i] = (anomaly ? 0.6 : 0) + r();
      }
      return { fold: f % 2 ? 't6' : 't5', width: W, height: H, labels, closed, scores: { s } };
    });
    const opts: EvaluationSessionOptions = {
      benchmark: 'streethazards',
      numClasses: K,
      scoreNames: ['s'],
      mode: 'exact',
    };
    const { single, sharded } = await singleAndSharded(opts, all, 3, 'sh');
    expect(single.openSet?.thresholdSource).toBe('cross-calibration');
    expect(JSON.stringify(sharded)).toBe(JSON.stringify(single));
  });

  it('a crash after appending, before the commit: reopening cuts the files to the index; the result is unchanged', async () => {
    const all = frames(3, 6);
    const opts: EvaluationSessionOptions = { scoreNames: ['s'], mode: 'exact', components: null };
    const ref = new EvaluationSession(opts);
    for (const f of all) ref.addFrame(f);
    const d = join(dir, 'crash');
    let s = new EvaluationSession(opts);
    let w = await SessionStateWriter.open(d, s);
    for (const f of all.slice(0, 3)) {
      s.addFrame(f);
      await w.append();
    }
    await w.commit({ n: 3 });
    // two more frames appended, never committed (the process died)
    for (const f of all.slice(3, 5)) {
      s.addFrame(f);
      await w.append();
    }
    await w.close();
    const path = join(d, 'exact/0-0-acc.neg.f32');
    const grown = (await stat(path)).size;
    const index = await readSessionStateIndex<{ n: number }>(d);
    expect(index?.meta.n).toBe(3);
    s = EvaluationSession.fromJSON(index!.session);
    w = await SessionStateWriter.open(d, s);
    expect((await stat(path)).size).toBeLessThan(grown);
    for (const f of all.slice(3)) {
      s.addFrame(f);
      await w.append();
    }
    // nothing held in memory: every score went to the files
    for (const { store } of s.exactStores()) expect(store.posLen + store.negLen).toBe(0);
    expect(() => s.finish()).toThrow(/offloaded to a state file/);
    await w.commit({ n: 6 });
    await w.restore();
    expect(JSON.stringify(s.finish())).toBe(JSON.stringify(ref.finish()));
    await expect(w.append()).rejects.toThrow(/restored into memory/);
    await w.close();
    // a file shorter than its index says is refused, naming it
    await truncate(path, 8);
    const last = await readSessionStateIndex(d);
    await expect(
      SessionStateWriter.open(d, EvaluationSession.fromJSON(last!.session)),
    ).rejects.toThrow(/expected \d+ bytes in .*0-0-acc\.neg\.f32.*got 8 .*damaged/);
    await expect(readSessionState([d])).rejects.toThrow(/file ends after 8 of \d+ bytes/);
    await appendFile(join(dir, 'not-a-state.txt'), 'x');
    await expect(readSessionState([join(dir, 'nothing')])).rejects.toThrow(
      /readSessionState: expected a session state \(session-state\.json\) in .*nothing.*, got none/,
    );
  });

  it('startComponentPass checks its input', () => {
    const s = new EvaluationSession({ benchmark: 'smiyc-anomaly', scoreNames: ['s'] });
    expect(() => s.startComponentPass({ t: 1 })).toThrow(
      /expected thresholds of "s", got one of "t"/,
    );
    expect(() => s.startComponentPass({ s: NaN })).toThrow(/expected a finite threshold of "s"/);
    s.startComponentPass({ s: 0.5 });
    expect(s.componentThresholds()).toEqual({ s: 0.5 });
    expect(() => s.startComponentPass({ s: 0.5 })).toThrow(/before its component pass/);
    expect(() => new EvaluationSession({ components: null }).startComponentPass({})).toThrow(
      /expected a session with component metrics/,
    );
  });
});

describe('exact sort and sums', () => {
  it('sortKeysInPlace sorts like the native sort (spread, concentrated, constant, float16-like keys)', () => {
    const r = rng(11);
    const cases: [string, number, () => number][] = [
      ['uniform', 300_000, () => (r() * 2 ** 32) >>> 0],
      ['concentrated', 250_000, () => (0xbe000000 + ((r() * 4096) << 4)) >>> 0],
      ['constant', 100_000, () => 0x3f800000],
      ['float16-like', 200_000, () => (0x80000000 + (Math.floor(r() * 3000) << 13)) >>> 0],
      ['two values', 140_000, () => (r() < 0.5 ? 5 : 0xffffffff)],
    ];
    for (const [name, n, gen] of cases) {
      const keys = Uint32Array.from({ length: n }, gen);
      const ref = keys.slice().sort();
      sortKeysInPlace(keys);
      expect(Buffer.from(keys.buffer).equals(Buffer.from(ref.buffer)), name).toBe(true);
    }
  });

  it('ExactSum is the correctly rounded sum in any grouping (as math.fsum)', () => {
    const r = rng(12);
    const xs = Array.from({ length: 500 }, () => r() * (r() < 0.1 ? 1e8 : 1));
    const all = new ExactSum();
    for (const x of xs) all.add(x);
    const parts = [new ExactSum(), new ExactSum(), new ExactSum()];
    xs.forEach((x, i) => parts[i % 3]!.add(x));
    const merged = ExactSum.fromJSON(JSON.parse(JSON.stringify(parts[2])))!;
    merged.merge(parts[0]!);
    merged.merge(parts[1]!);
    expect(merged.value()).toBe(all.value());
    // fsum's own examples: [1e-16, 1, 1e16] → 1e16 + 2, [0.1] × 10 → 1
    const a = new ExactSum();
    for (const x of [1e-16, 1, 1e16]) a.add(x);
    expect(a.value()).toBe(10000000000000002);
    const b = new ExactSum();
    for (let i = 0; i < 10; i++) b.add(0.1);
    expect(b.value()).toBe(1);
  });
});
