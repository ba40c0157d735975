import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written: no Conv2DBackpropFilter on stock wasm, then a dilated conv trains', () => {
    const run = runReadmeExample(pkg);
    expect(run.lines).toBeLessThanOrEqual(16);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(['undefined', 'true', 'true']);
    expect(run.status).toBe(0);
  });
});
