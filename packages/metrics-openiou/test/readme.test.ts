import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written and prints the hand-computed values', () => {
    const run = runReadmeExample(pkg);
    expect(run.lines).toBeLessThanOrEqual(15);
    expect(run.stderr).toBe('');
    const out = run.stdout.trim().split(/\s+/).map(Number);
    // AP = mean precision at the anomalies' scores = (1 + 2/3 + 3/4) / 3; AUROC = 4/6 pairs;
    // open-IoU: known classes {0: 1, 1: 0, 2: absent} → nanmean 0.5, anomaly 3/4, closed 1
    const expected = [29 / 36, 2 / 3, 0.5, Math.fround(0.3), 29 / 36, 0.5, 0.75, 1];
    expect(out.length).toBe(expected.length);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
  });
});
