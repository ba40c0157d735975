import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { readContract, type OnnxContract } from './contract.js';
import { decodeModelHeader } from './proto.js';

/** What {@link readOnnxMetadata} reads from an exported file. */
export interface OnnxMetadata {
  /** The input contract, output names, classes and model meta. */
  readonly contract: OnnxContract;
  /** Every `metadata_props` entry. */
  readonly props: Readonly<Record<string, string>>;
  readonly irVersion: number;
  /** Opset of the default domain. */
  readonly opset: number | undefined;
  readonly producer: string;
}

/**
 * Reads an exported detector's metadata (input contract, output names, class names, the model
 * file's meta) without decoding its graph.
 *
 * @param bytes - the `.onnx` file's bytes.
 * @param source - names the file in errors. @default 'the given bytes'
 * @returns the {@link OnnxMetadata}.
 * @throws DenseHybridError `MODEL_LOAD` for bytes that are not ONNX or not exported by this package
 * @example
 * ```ts
 * const { contract } = readOnnxMetadata(await readFile('model.onnx'));
 * contract.input.layout; // 'NHWC'
 * ```
 */
export function readOnnxMetadata(bytes: Uint8Array, source = 'the given bytes'): OnnxMetadata {
  const fn = 'readOnnxMetadata';
  if (!(bytes instanceof Uint8Array)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected the bytes of an .onnx file (Uint8Array), got ${describeValue(bytes)}`,
    );
  }
  let header: ReturnType<typeof decodeModelHeader>;
  try {
    header = decodeModelHeader(bytes);
  } catch (e) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected an ONNX model (protobuf ModelProto) in ${source}, got bytes that do not decode: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return {
    contract: readContract(fn, source, header.metadata),
    props: header.metadata,
    irVersion: header.irVersion,
    opset: header.opsetVersion,
    producer: `${header.producerName} ${header.producerVersion}`.trim(),
  };
}
