import { DenseHybridError } from '@densehybrid/metrics-openiou';

/**
 * Reads the top-level fields of an ONNX `ModelProto` that ONNX Runtime Web does not expose:
 * `metadata_props` (where the exporter stores the input contract), the producer and the opsets.
 * A protobuf wire-format scan of the outer message only: the graph (field 7, nearly all of the
 * bytes) is skipped by its length, never decoded.
 */

/** What {@link readOnnxModelInfo} finds. */
export interface OnnxModelInfo {
  /** `metadata_props` as key → value (a repeated key keeps its last value, as protobuf maps). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly irVersion: number | undefined;
  readonly producerName: string | undefined;
  readonly producerVersion: string | undefined;
  /** Opset version per domain (`''` is the default ONNX domain). */
  readonly opsets: Readonly<Record<string, number>>;
}

// ModelProto / OperatorSetIdProto / StringStringEntryProto field numbers (onnx/onnx.proto)
const MODEL_IR_VERSION = 1;
const MODEL_PRODUCER_NAME = 2;
const MODEL_PRODUCER_VERSION = 3;
const MODEL_OPSET_IMPORT = 8;
const MODEL_METADATA_PROPS = 14;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly end = bytes.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a JS number (exact below 2^53; field lengths and versions are far smaller). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.bytes[this.pos++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** The bounds of a length-delimited field's payload; moves past it. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new Error('length past the end of the message');
    this.pos = start + length;
    return [start, start + length];
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.span();
    else if (wire === WIRE_I32) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error('field past the end of the message');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function text(bytes: Uint8Array, [start, end]: [number, number]): string {
  return utf8.decode(bytes.subarray(start, end));
}

/**
 * Reads an ONNX model's metadata without decoding its graph.
 *
 * @param bytes the `.onnx` file
 * @returns metadata_props, producer, IR version and opsets
 * @throws DenseHybridError `MODEL_LOAD` (`readOnnxModelInfo: expected an ONNX model (protobuf ModelProto), got …` for
 *   bytes that are not a protobuf message)
 * @example
 * ```ts
 * const info = readOnnxModelInfo(new Uint8Array(await file.arrayBuffer()));
 * info.metadata['densehybrid.input.layout']; // e.g. 'NCHW'
 * ```
 */
export function readOnnxModelInfo(bytes: Uint8Array): OnnxModelInfo {
  const metadata: Record<string, string> = {};
  const opsets: Record<string, number> = {};
  let irVersion: number | undefined;
  let producerName: string | undefined;
  let producerVersion: string | undefined;
  try {
    const r = new Reader(bytes);
    while (!r.done) {
      const tag = r.varint();
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === MODEL_IR_VERSION && wire === WIRE_VARINT) irVersion = r.varint();
      else if (field === MODEL_PRODUCER_NAME && wire === WIRE_LEN)
        producerName = text(bytes, r.span());
      else if (field === MODEL_PRODUCER_VERSION && wire === WIRE_LEN)
        producerVersion = text(bytes, r.span());
      else if (
        (field === MODEL_METADATA_PROPS || field === MODEL_OPSET_IMPORT) &&
        wire === WIRE_LEN
      ) {
        const [start, end] = r.span();
        const m = new Reader(bytes, end);
        m.pos = start;
        let first: string | number = '';
        let second: string | number = '';
        while (!m.done) {
          const t = m.varint();
          const f = Math.floor(t / 8);
          const w = t % 8;
          // entry: key = 1, value = 2; opset: domain = 1, version = 2 (a varint)
          if (f === 1 && w === WIRE_LEN) first = text(bytes, m.span());
          else if (f === 2 && w === WIRE_LEN) second = text(bytes, m.span());
          else if (f === 2 && w === WIRE_VARINT) second = m.varint();
          else m.skip(w);
        }
        if (field === MODEL_METADATA_PROPS) metadata[String(first)] = String(second);
        else opsets[String(first)] = Number(second);
      } else r.skip(wire);
    }
  } catch (error) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `readOnnxModelInfo: expected an ONNX model (protobuf ModelProto), got ${bytes.length} bytes that are not one (${(error as Error).message})`,
      { cause: error },
    );
  }
  return { metadata, irVersion, producerName, producerVersion, opsets };
}
