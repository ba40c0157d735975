export { DenseHybridError, describeValue } from './errors.js';
export type { DenseHybridErrorCode, DenseHybridErrorOptions } from './errors.js';
