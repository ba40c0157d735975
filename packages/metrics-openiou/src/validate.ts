import { DenseHybridError, describeValue } from './errors.js';

/** Any array of numbers the metrics accept: a typed array or a plain array. */
export type NumericArray = ArrayLike<number>;

/** True when `x` is a typed array (not a DataView) or a plain array. */
function isNumericArray(x: unknown): x is NumericArray {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
}

/** Throws `INVALID_INPUT` unless `x` is an array of numbers. */
export function checkArray(fn: string, name: string, x: unknown): asserts x is NumericArray {
  if (!isNumericArray(x)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${name} to be a typed array or an array of numbers, got ${describeValue(x)}`,
    );
  }
}

/** Throws `SHAPE_MISMATCH` unless both arrays have the same length. */
export function checkSameLength(
  fn: string,
  aName: string,
  a: NumericArray,
  bName: string,
  b: NumericArray,
): void {
  if (a.length !== b.length) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected ${bName} to have the length of ${aName} (${a.length}), got length ${b.length}`,
    );
  }
}

/** The `NON_FINITE` error for element `i` of `name`. */
export function nonFiniteError(fn: string, name: string, i: number, v: number): DenseHybridError {
  return new DenseHybridError(
    'NON_FINITE',
    `${fn}: expected finite ${name}, got ${String(v)} at index ${i}`,
  );
}

/** The `INVALID_INPUT` error for a binary label that is neither 0, 1 nor ignored. */
export function badLabelError(
  fn: string,
  name: string,
  i: number,
  v: number,
  ignore: readonly number[],
): DenseHybridError {
  return new DenseHybridError(
    'INVALID_INPUT',
    `${fn}: expected ${name} values 0 (inlier), 1 (anomaly) or an ignore label ${JSON.stringify(ignore)}, got ${describeValue(v)} at index ${i}`,
  );
}

/** Throws `INVALID_OPTION` unless `v` is a number in the open/closed interval given. */
export function checkFraction(
  fn: string,
  name: string,
  v: unknown,
  includeOne: boolean,
): asserts v is number {
  if (typeof v !== 'number' || !(v > 0) || v > 1 || (!includeOne && v === 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} in (0, 1${includeOne ? ']' : ')'}, got ${describeValue(v)}`,
    );
  }
}

/** Throws `INVALID_OPTION` unless `v` is one of `allowed`. */
export function checkOneOf<T extends string | number>(
  fn: string,
  name: string,
  v: unknown,
  allowed: readonly T[],
): asserts v is T {
  if (!allowed.includes(v as T)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(v)}`,
    );
  }
}

/** Throws `INVALID_OPTION` unless `v` is an integer in [min, max]. */
export function checkInteger(
  fn: string,
  name: string,
  v: unknown,
  min: number,
  max: number,
): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be an integer in [${min}, ${max}], got ${describeValue(v)}`,
    );
  }
}

/** Validates an `ignoreLabels` option: integers outside {0, 1}. */
export function checkIgnoreLabels(fn: string, v: unknown): asserts v is readonly number[] {
  if (
    !Array.isArray(v) ||
    v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x === 0 || x === 1)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ignoreLabels to be an array of integers other than 0 and 1, got ${describeValue(v)}`,
    );
  }
}

/** Throws `NON_FINITE` at the first NaN or ±Infinity in `x`. */
export function checkFinite(fn: string, name: string, x: NumericArray): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (v - v !== 0) throw nonFiniteError(fn, name, i, v);
  }
}

/**
 * Parses a saved state (object or JSON string) and checks its `format` and `version`.
 * Throws `INVALID_INPUT` otherwise.
 */
export function parseState<T extends { format: string; version: number }>(
  fn: string,
  json: T | string,
  format: T['format'],
): T {
  let j: T;
  try {
    j = typeof json === 'string' ? (JSON.parse(json) as T) : json;
  } catch (e) {
    throw new DenseHybridError('INVALID_INPUT', `${fn}: expected a JSON string, got invalid JSON`, {
      cause: e,
    });
  }
  if (typeof j !== 'object' || j === null || j.format !== format || j.version !== 1) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected an object with format "${format}" and version 1, got ${describeValue(
        typeof j === 'object' && j !== null ? j.format : j,
      )}`,
    );
  }
  return j;
}
