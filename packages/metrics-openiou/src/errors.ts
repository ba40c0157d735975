/**
 * Every failure a densehybrid package reports on purpose carries one of these codes.
 *
 * | code | meaning |
 * |---|---|
 * | `INVALID_INPUT` | a value (array, tensor, file content) is not what the function accepts |
 * | `INVALID_OPTION` | an option is outside its allowed range or set |
 * | `SHAPE_MISMATCH` | two inputs that must agree in shape or length do not |
 * | `NON_FINITE` | NaN or ±Infinity where finite numbers are required |
 * | `EMPTY_SET` | a metric needs positives and negatives and one of them is missing |
 * | `IO` | reading or writing a file failed |
 * | `DATASET_LAYOUT` | a dataset folder does not have the layout its adapter expects |
 * | `MODEL_LOAD` | weights or a checkpoint do not match the model |
 * | `BACKEND` | a TensorFlow.js backend is missing or failed to initialise |
 * | `OUT_OF_MEMORY` | the work would not fit (for example the 4 GB wasm heap) |
 * | `INTERRUPTED` | the work was stopped (Ctrl-C, abort signal) and can be resumed |
 */
export type DenseHybridErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_OPTION'
  | 'SHAPE_MISMATCH'
  | 'NON_FINITE'
  | 'EMPTY_SET'
  | 'IO'
  | 'DATASET_LAYOUT'
  | 'MODEL_LOAD'
  | 'BACKEND'
  | 'OUT_OF_MEMORY'
  | 'INTERRUPTED';

/** Options of {@link DenseHybridError}. */
export interface DenseHybridErrorOptions {
  /** The lower-level error that caused this one, if any. */
  readonly cause?: unknown;
}

const BRAND = Symbol.for('@densehybrid/error');

/**
 * The one error type of every densehybrid package. Messages read
 * `fnName: expected …, got …` and name the offending argument.
 *
 * @example
 * ```ts
 * import { DenseHybridError } from '@densehybrid/metrics-openiou';
 * try {
 *   anomalyMetrics(new Float32Array(2), new Uint8Array(3));
 * } catch (e) {
 *   if (DenseHybridError.is(e) && e.code === 'SHAPE_MISMATCH') console.error(e.message);
 * }
 * ```
 */
export class DenseHybridError extends Error {
  /** Machine-readable reason; see {@link DenseHybridErrorCode}. */
  readonly code: DenseHybridErrorCode;

  constructor(code: DenseHybridErrorCode, message: string, options: DenseHybridErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DenseHybridError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * True for any DenseHybridError, also one thrown by a second copy of this package
   * (where `instanceof` would say false).
   */
  static is(value: unknown): value is DenseHybridError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true
    );
  }
}

/** Describes a value for an error message: `Float32Array(12)`, `"abc"`, `NaN`, `[2,3]`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) {
    const n = (value as unknown as { length?: number }).length ?? value.byteLength;
    return `${value.constructor.name}(${n})`;
  }
  if (Array.isArray(value))
    return value.length <= 8 ? JSON.stringify(value) : `Array(${value.length})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? `an object` : typeof value;
}

/**
 * Formats a list of names for an error message: the first 10, quoted, and a count of the rest.
 *
 * @example
 * ```ts
 * listNames(['a', 'b']); // '"a", "b"'
 * ```
 */
export function listNames(names: readonly string[]): string {
  const head = names
    .slice(0, 10)
    .map((n) => `"${n}"`)
    .join(', ');
  return names.length > 10 ? `${head} and ${names.length - 10} more` : head;
}
