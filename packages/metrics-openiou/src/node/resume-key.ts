/**
 * Resume keys: everything that determines a resumable output's content (a checkpoint's digest,
 * scores, options, the data selection, the format version), stored beside the output and
 * compared before resuming it, so that a rerun with another checkpoint, score or data never
 * continues someone else's work. (A checkpoint's part is `checkpointDigest` of `@densehybrid/core`.)
 */
import { createHash } from 'node:crypto';

/** A JSON value in a {@link ResumeKey}. */
export type ResumeKeyValue =
  | string
  | number
  | boolean
  | null
  | readonly ResumeKeyValue[]
  | { readonly [field: string]: ResumeKeyValue };

/**
 * What determines a resumable output, field by field (JSON). A field a stored key lacks reads as
 * `null`.
 */
export type ResumeKey = Readonly<Record<string, ResumeKeyValue>>;

/** A field in which a stored {@link ResumeKey} and the current one differ. */
export interface ResumeKeyDifference {
  readonly field: string;
  /** The value stored with the output (`null` when it records none). */
  readonly stored: ResumeKeyValue;
  /** The value of the current run (`null` when it has none). */
  readonly current: ResumeKeyValue;
}

/**
 * JSON with object keys sorted at every level and `undefined` members left out, so that equal
 * values give one text whatever their key order (resume keys, checkpoint digests).
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // '{"a":[2,{"c":4,"d":3}],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The fields in which a stored resume key differs from the current one, in the current key's
 * field order (then fields only the stored key has). A field missing on either side counts as
 * `null`; anything but an object as `stored` (an unreadable file) differs in every field.
 *
 * @param stored - the key read from the output (any JSON)
 * @param current - the key of this run
 * @returns the differing fields; empty when the output can be resumed
 * @example
 * ```ts
 * resumeKeyDifferences({ checkpoint: 'a1b2', scores: ['hybrid'] }, { checkpoint: 'a1b2', scores: ['hybrid', 'max-softmax'] });
 * // [{ field: 'scores', stored: ['hybrid'], current: ['hybrid', 'max-softmax'] }]
 * ```
 */
export function resumeKeyDifferences(stored: unknown, current: ResumeKey): ResumeKeyDifference[] {
  const old: Readonly<Record<string, unknown>> =
    stored !== null && typeof stored === 'object' && !Array.isArray(stored)
      ? (stored as Record<string, unknown>)
      : {};
  const fields = [...Object.keys(current), ...Object.keys(old).filter((k) => !(k in current))];
  const out: ResumeKeyDifference[] = [];
  for (const field of fields) {
    const a = old[field] ?? null;
    const b = current[field] ?? null;
    if (canonicalJson(a) !== canonicalJson(b))
      out.push({ field, stored: a as ResumeKeyValue, current: b });
  }
  return out;
}

/** A value as a short phrase: digests cut to 12 hex digits, lists comma-separated, null `none`. */
function describe(value: ResumeKeyValue): string {
  if (value === null) return 'none';
  if (typeof value === 'string')
    return /^[0-9a-f]{32,}$/.test(value) ? `${value.slice(0, 12)}…` : value;
  if (Array.isArray(value)) return value.map((v) => describe(v as ResumeKeyValue)).join(',');
  if (typeof value === 'object') return canonicalJson(value);
  return String(value);
}

/**
 * The differences as one phrase for an error message, `stored vs current` per field (at most
 * `max` fields, then a count).
 *
 * @param differences - from {@link resumeKeyDifferences}
 * @param max - fields named before "and N more" @default 6
 * @example
 * ```ts
 * describeResumeKeyDifferences([{ field: 'scores', stored: ['hybrid'], current: ['hybrid', 'max-softmax'] }]);
 * // 'scores differ: hybrid vs hybrid,max-softmax'
 * ```
 */
export function describeResumeKeyDifferences(
  differences: readonly ResumeKeyDifference[],
  max = 6,
): string {
  const parts = differences
    .slice(0, max)
    .map(
      (d) =>
        `${d.field} ${d.field.endsWith('s') ? 'differ' : 'differs'}: ${describe(d.stored)} vs ${describe(d.current)}`,
    );
  if (differences.length > max) parts.push(`and ${differences.length - max} more`);
  return parts.join('; ');
}

/**
 * SHA-256 of bytes or of a string's UTF-8, as 64 hex digits.
 *
 * @example
 * ```ts
 * sha256('abc'); // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * ```
 */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
