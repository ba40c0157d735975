import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written and prints the hand-computed values', () => {
    const run = runReadmeExample(pkg);
    expect(run.lines).toBeLessThanOrEqual(16);
    expect(run.stderr).toBe('');
    const out = run.stdout.trim().split(/\s+/).map(Number);
    const ln2 = Math.log(2);
    const cls = Math.log1p(Math.exp(-2)); // −ln softmax(2, 0)₀
    const expected = [cls + 0.03 * ln2 + 0.3 * ln2, cls, ln2, ln2, 1 / (1 + Math.exp(-2)) - 1];
    expect(out.length).toBe(expected.length);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
  });
});
