import { describe, expect, it } from 'vitest';
import { DenseHybridError, describeValue } from '../src/index.js';

describe('DenseHybridError', () => {
  it('carries a code, a cause and a brand that survives a second copy', () => {
    const cause = new Error('disk');
    const e = new DenseHybridError('IO', 'save: expected a writable dir, got "/x"', { cause });
    expect(e.code).toBe('IO');
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('DenseHybridError');
    expect(DenseHybridError.is(e)).toBe(true);
    expect(DenseHybridError.is(new Error('x'))).toBe(false);
    expect(DenseHybridError.is({ code: 'IO' })).toBe(false);
  });
  it('describes values for messages', () => {
    expect(describeValue(new Float32Array(3))).toBe('Float32Array(3)');
    expect(describeValue([1, 2])).toBe('[1,2]');
    expect(describeValue('a')).toBe('"a"');
    expect(describeValue(NaN)).toBe('NaN');
  });
});
