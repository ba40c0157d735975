import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { initBackend, describeBackend } from '@densehybrid/tfjs-wasm-training';

const saved = process.env['DENSEHYBRID_BACKEND'];
afterEach(() => {
  if (saved === undefined) delete process.env['DENSEHYBRID_BACKEND'];
  else process.env['DENSEHYBRID_BACKEND'] = saved;
});

describe('initBackend', () => {
  it('automatically picks wasm here, after skipping what is not installed, and says why', async () => {
    delete process.env['DENSEHYBRID_BACKEND'];
    const lines: string[] = [];
    const report = await initBackend({ log: (l) => lines.push(l) });
    expect(report.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(report.reason).toBe('automatic');
    expect(report.simd).toBe(true);
    expect(['present', 'loaded']).toContain(report.stockGradients);
    expect(tf.getGradient('Sum')).toBeDefined();
    expect(report.skipped.map((s) => s.name)).toEqual(['tensorflow', 'webgpu']);
    expect(report.skipped[0]?.why).toBe(
      '@tensorflow/tfjs-node-gpu: not installed; @tensorflow/tfjs-node: not installed',
    );
    expect(lines[0]).toBe(describeBackend(report));
  });

  it('honours DENSEHYBRID_BACKEND=cpu and warns that training is slow', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'cpu';
    const report = await initBackend();
    expect(report.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(report.reason).toBe('forced by DENSEHYBRID_BACKEND');
    expect(report.warnings.join(' ')).toMatch(/very slow/);
  });

  it('options.backend wins over the environment variable', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'cpu';
    const report = await initBackend({ backend: 'wasm' });
    expect(report.name).toBe('wasm');
    expect(report.reason).toBe('forced by options.backend');
  });

  it('fails clearly when a forced backend is not installed, without falling back', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'tensorflow';
    const before = tf.getBackend();
    const err = await initBackend().catch((e: unknown) => e);
    expect(DenseHybridError.is(err)).toBe(true);
    expect((err as DenseHybridError).code).toBe('BACKEND');
    expect((err as Error).message).toMatch(
      /^initBackend: expected backend "tensorflow".*tfjs-node/,
    );
    expect(tf.getBackend()).toBe(before);
  });

  it('rejects an unknown backend name and lists the allowed ones', async () => {
    process.env['DENSEHYBRID_BACKEND'] = 'cuda';
    const err = await initBackend().catch((e: unknown) => e);
    expect((err as DenseHybridError).code).toBe('INVALID_OPTION');
    expect((err as Error).message).toContain('tensorflow | webgpu | wasm | cpu');
    expect((err as Error).message).toContain('"cuda"');
  });
});
