import { describe, expect, it } from 'vitest';
import {
  describeResumeKeyDifferences,
  resumeKeyDifferences,
  sha256,
} from '@densehybrid/metrics-openiou/node';

describe('resumeKeyDifferences', () => {
  it('is empty for equal keys, whatever the order of object fields', () => {
    expect(
      resumeKeyDifferences({ a: 1, b: { x: [1, 2], y: 'z' } }, { b: { y: 'z', x: [1, 2] }, a: 1 }),
    ).toEqual([]);
  });

  it('lists every differing field in the current key order, a missing one as null', () => {
    const d = resumeKeyDifferences(
      { checkpoint: 'a'.repeat(64), scores: ['hybrid'], old: true, seed: 1 },
      { checkpoint: 'b'.repeat(64), scores: ['hybrid', 'max-softmax'], seed: 1, limit: 2 },
    );
    expect(d).toEqual([
      { field: 'checkpoint', stored: 'a'.repeat(64), current: 'b'.repeat(64) },
      { field: 'scores', stored: ['hybrid'], current: ['hybrid', 'max-softmax'] },
      { field: 'limit', stored: null, current: 2 },
      { field: 'old', stored: true, current: null },
    ]);
    expect(describeResumeKeyDifferences(d)).toBe(
      'checkpoint differs: aaaaaaaaaaaa… vs bbbbbbbbbbbb…; scores differ: hybrid vs hybrid,max-softmax; limit differs: none vs 2; old differs: true vs none',
    );
    expect(describeResumeKeyDifferences(d, 1)).toBe(
      'checkpoint differs: aaaaaaaaaaaa… vs bbbbbbbbbbbb…; and 3 more',
    );
  });

  it('treats anything but an object as stored (an unreadable record) as differing everywhere', () => {
    expect(resumeKeyDifferences(null, { a: 1 })).toEqual([
      { field: 'a', stored: null, current: 1 },
    ]);
    expect(resumeKeyDifferences('x', { a: null })).toEqual([]);
  });
});

describe('sha256', () => {
  it('digests text as UTF-8 and bytes alike', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(new TextEncoder().encode('abc'))).toBe(sha256('abc'));
  });
});
