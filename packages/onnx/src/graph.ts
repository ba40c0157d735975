import {
  ATTRIBUTE_TYPES,
  TENSOR_TYPES,
  type AttributeMessage,
  type NodeMessage,
  type TensorMessage,
  type TensorTypeName,
} from './proto.js';

/** An attribute value of {@link GraphBuilder.node}: the ONNX attribute type is the key. */
export type AttributeValue =
  | { readonly f: number }
  | { readonly i: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] };

/** An initializer whose bytes are produced when the graph is serialised. */
interface PendingTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly data: () => Uint8Array | Promise<Uint8Array>;
}

function attribute(name: string, v: AttributeValue): AttributeMessage {
  if ('f' in v) return { name, type: ATTRIBUTE_TYPES.float, f: v.f };
  if ('i' in v) return { name, type: ATTRIBUTE_TYPES.int, i: v.i };
  if ('s' in v) return { name, type: ATTRIBUTE_TYPES.string, s: new TextEncoder().encode(v.s) };
  if ('ints' in v) return { name, type: ATTRIBUTE_TYPES.ints, ints: v.ints };
  return { name, type: ATTRIBUTE_TYPES.floats, floats: v.floats };
}

const bytesOf = (a: Float32Array | Float64Array | BigInt64Array | Int32Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Collects the nodes and initializers of one ONNX graph. Value names are chosen by the caller
 * (the ops give the values they return stable names); {@link GraphBuilder.fresh} names the
 * helper values. Initializers are deduplicated by name, small constants by value; their bytes are
 * read only by {@link GraphBuilder.initializers} (tracing passes that are thrown away read no
 * weights). ONNX Runtime and the ONNX spec need little-endian bytes: this runs on little-endian
 * hosts only (every platform Node ships for).
 */
export class GraphBuilder {
  readonly nodes: NodeMessage[] = [];
  private readonly pending = new Map<string, PendingTensor>();
  private counter = 0;

  /** A new value name `<prefix>_<n>`. */
  fresh(prefix: string): string {
    this.counter += 1;
    return `t${this.counter}_${prefix}`;
  }

  /** Adds a node; returns its outputs (`outputs` names, or one fresh name per count). */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attributes: Readonly<Record<string, AttributeValue>> = {},
  ): string[] {
    const out =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : [...outputs];
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: out,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** A node with one output. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    output?: string,
  ): string {
    return this.node(opType, inputs, output === undefined ? 1 : [output], attributes)[0] as string;
  }

  /** Registers an initializer (once per name); returns its name. */
  initializer(
    name: string,
    type: TensorTypeName,
    dims: readonly number[],
    data: () => Uint8Array | Promise<Uint8Array>,
  ): string {
    if (!this.pending.has(name))
      this.pending.set(name, { name, dims: [...dims], dataType: TENSOR_TYPES[type], data });
    return name;
  }

  /** An int64 constant (deduplicated by value). */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = `const_i64_${dims.join('x')}_${values.join('_').replace(/-/g, 'm')}`;
    return this.initializer(name, 'int64', dims, () =>
      bytesOf(BigInt64Array.from(values, (v) => BigInt(v))),
    );
  }

  /** A float32 constant (deduplicated by value). */
  float(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = values.map((v) => Math.fround(v).toString()).join('_');
    const name = `const_f32_${dims.join('x')}_${key.replace(/-/g, 'm')}`;
    return this.initializer(name, 'float', dims, () => bytesOf(Float32Array.from(values)));
  }

  /** A float64 constant (deduplicated by value). */
  double(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = `const_f64_${dims.join('x')}_${values.join('_').replace(/-/g, 'm')}`;
    return this.initializer(name, 'double', dims, () => bytesOf(Float64Array.from(values)));
  }

  /** Reads every initializer's bytes, in registration order. */
  async initializers(): Promise<TensorMessage[]> {
    const out: TensorMessage[] = [];
    for (const t of this.pending.values()) {
      out.push({ name: t.name, dims: t.dims, dataType: t.dataType, rawData: await t.data() });
    }
    return out;
  }

  /** Float32 bytes of a typed array (no copy). */
  static floatBytes(a: Float32Array): Uint8Array {
    return bytesOf(a);
  }
}
