/**
 * The whole user path on webgpu: `densehybrid demo --quick` (data, training, SML fitting,
 * scoring, metrics, PNG rendering) in a child process with DENSEHYBRID_BACKEND=webgpu, against
 * the same command on wasm. Any synchronous tensor read on the way fails the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../../cli/dist/bin.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'densehybrid-webgpu-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ScoreMetrics {
  readonly ap: number;
  readonly fpr95: number;
  readonly auroc: number;
}
interface DemoMetrics {
  readonly backend: string;
  /** `{ history }`, or stages `{ closed: { history }, denseHybrid: { history } }`. */
  readonly training: Readonly<Record<string, unknown>>;
  readonly tracks: readonly {
    readonly track: string;
    readonly closedMIoU: number;
    readonly scores: Readonly<Record<string, ScoreMetrics>>;
  }[];
}

function demo(backend: 'webgpu' | 'wasm'): DemoMetrics {
  const out = join(dir, backend);
  const run = spawnSync(
    process.execPath,
    [bin, 'demo', '--quick', '--out', out, '--cache', join(dir, 'cache')],
    { env: { ...process.env, DENSEHYBRID_BACKEND: backend }, encoding: 'utf8', timeout: 240_000 },
  );
  expect(run.status, `demo on ${backend}: ${run.stderr.slice(-2000)}`).toBe(0);
  for (const file of ['report.md', 'metrics.json', 'pr-near.png', 'example-near-0.png']) {
    expect(existsSync(join(out, file)), `${backend}: ${file}`).toBe(true);
  }
  return JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as DemoMetrics;
}

describe('densehybrid demo --quick on webgpu', () => {
  it('trains, evaluates and renders like the wasm run', () => {
    expect(existsSync(bin), `${bin} (build the CLI first)`).toBe(true);
    const wasm = demo('wasm');
    const gpu = demo('webgpu');
    expect(wasm.backend).toBe('wasm');
    expect(gpu.backend).toBe('webgpu');

    // Loss totals of every training stage, in order.
    const losses = (m: DemoMetrics): number[][] => {
      type History = { history?: { loss: { total: number } }[] };
      const stages: History[] = Array.isArray((m.training as History).history)
        ? [m.training as History]
        : Object.values(m.training).filter(
            (v): v is History => typeof v === 'object' && v !== null && 'history' in v,
          );
      return stages.map((st) => (st.history ?? []).map((h) => h.loss.total));
    };
    const [gpuLosses, wasmLosses] = [losses(gpu), losses(wasm)];
    expect(gpuLosses.length).toBeGreaterThan(0);
    expect(gpuLosses.map((l) => l.length)).toEqual(wasmLosses.map((l) => l.length));
    expect(gpuLosses.flat().every(Number.isFinite)).toBe(true);
    // The first step sees identical weights and data: equal up to float32 rounding.
    expect(gpuLosses[0]?.[0]).toBeCloseTo(wasmLosses[0]?.[0] as number, 3);

    expect(gpu.tracks.map((t) => t.track)).toEqual(wasm.tracks.map((t) => t.track));
    for (const [i, track] of gpu.tracks.entries()) {
      const ref = wasm.tracks[i]!;
      expect(Object.keys(track.scores).sort()).toEqual(Object.keys(ref.scores).sort());
      expect(Math.abs(track.closedMIoU - ref.closedMIoU)).toBeLessThan(3);
      for (const [name, m] of Object.entries(track.scores)) {
        for (const v of [m.ap, m.fpr95, m.auroc]) {
          expect(v, `${track.track} ${name}`).toBeGreaterThanOrEqual(0);
          expect(v, `${track.track} ${name}`).toBeLessThanOrEqual(100);
        }
        // a few Adam steps amplify float32 differences a little; garbage would be far off
        expect(
          Math.abs(m.auroc - ref.scores[name]!.auroc),
          `${track.track} ${name} AUROC ${m.auroc} vs wasm ${ref.scores[name]!.auroc}`,
        ).toBeLessThan(10);
      }
    }
  });
});
