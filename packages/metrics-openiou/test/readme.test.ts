import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

const numbers = (stdout: string): number[] => stdout.trim().split(/\s+/).map(Number);

describe('README example', () => {
  it('runs as written and prints the hand-computed values', () => {
    const run = runReadmeExample(pkg);
    expect(run.lines).toBeLessThanOrEqual(15);
    expect(run.stderr).toBe('');
    const out = numbers(run.stdout);
    // AP = mean precision at the anomalies' scores = (1 + 2/3 + 3/4) / 3; AUROC = 4/6 pairs;
    // open-IoU: known classes {0: 1, 1: 0, 2: absent} → nanmean 0.5, anomaly 3/4, closed 1
    const expected = [29 / 36, 2 / 3, 0.5, Math.fround(0.3), 29 / 36, 0.5, 0.75, 1];
    expect(out.length).toBe(expected.length);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
  });

  it('evaluates typed-array score maps with the StreetHazards protocol (hand-computed)', () => {
    const run = runReadmeExample(pkg, {
      heading: 'Evaluating score maps with a benchmark protocol',
    });
    expect(run.stderr).toBe('');
    // per-image AP: t5 ranks A, I, A, I → (1 + 2/3) / 2, t6 is perfect → (5/6 + 1) / 2;
    // AUROC (3/4 + 1) / 2. Thresholds: t6's anomalies 0.8, 0.6 → ≈ 0.6 applied to t5: IoU class 0
    // 1/2, class 1 0 → 0.25, anomaly 1/3; t5's 0.9, 0.5 → ≈ 0.5 applied to t6: all right → 1.
    const expected = [11 / 12, 0.875, (0.25 + 1) / 2, (1 / 3 + 1) / 2, 1];
    const out = numbers(run.stdout);
    expect(out.length).toBe(expected.length);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
  });

  it('reads a .npy score map and writes metrics.json with the ./node entry', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dh-metrics-readme-'));
    try {
      const run = runReadmeExample(pkg, { heading: 'The `./node` entry', cwd });
      expect(run.stderr).toBe('');
      expect(numbers(run.stdout)).toEqual([1, 1, 0]);
      const doc = JSON.parse(readFileSync(join(cwd, 'metrics.json'), 'utf8'));
      expect([doc.format, doc.context.dataset, doc.frames, doc.protocol]).toEqual([
        'densehybrid/eval',
        'fishyscapes-lostandfound',
        1,
        'pooled',
      ]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
