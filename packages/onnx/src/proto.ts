import protobuf from 'protobufjs/light.js';
import type { INamespace } from 'protobufjs/light.js';

/**
 * The subset of ONNX's `onnx.proto` (proto2, IR version 8) this package writes and reads, declared
 * through protobufjs' reflection API. Field numbers, types and the packed/unpacked encoding of
 * repeated scalars are those of the public schema (github.com/onnx/onnx, `onnx/onnx.proto`):
 * `TensorProto`'s typed data lists are `[packed = true]`, every other repeated scalar (`dims`,
 * `AttributeProto.ints`/`floats`) is unpacked as proto2 has it. Fields this package never sets
 * (training info, functions, sparse tensors, quantisation annotations) are left out; a decoder
 * skips them.
 */

const unpacked = { packed: false };
const packed = { packed: true };
const repeated = (type: string, id: number, options?: object): object => ({
  rule: 'repeated',
  type,
  id,
  ...(options ? { options } : {}),
});

const SCHEMA = {
  nested: {
    onnx: {
      edition: 'proto2',
      nested: {
        StringStringEntryProto: {
          edition: 'proto2',
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        OperatorSetIdProto: {
          edition: 'proto2',
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        TensorProto: {
          edition: 'proto2',
          fields: {
            dims: repeated('int64', 1, unpacked),
            dataType: { type: 'int32', id: 2 },
            floatData: repeated('float', 4, packed),
            int32Data: repeated('int32', 5, packed),
            int64Data: repeated('int64', 7, packed),
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: repeated('double', 10, packed),
            docString: { type: 'string', id: 12 },
          },
        },
        AttributeProto: {
          edition: 'proto2',
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: repeated('float', 7, unpacked),
            ints: repeated('int64', 8, unpacked),
            strings: repeated('bytes', 9),
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
          },
        },
        NodeProto: {
          edition: 'proto2',
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: repeated('AttributeProto', 5),
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        Dimension: {
          edition: 'proto2',
          fields: {
            dimValue: { type: 'int64', id: 1 },
            dimParam: { type: 'string', id: 2 },
            denotation: { type: 'string', id: 3 },
          },
        },
        TensorShapeProto: {
          edition: 'proto2',
          fields: { dim: repeated('Dimension', 1) },
        },
        TypeProtoTensor: {
          edition: 'proto2',
          fields: {
            elemType: { type: 'int32', id: 1 },
            shape: { type: 'TensorShapeProto', id: 2 },
          },
        },
        TypeProto: {
          edition: 'proto2',
          fields: {
            tensorType: { type: 'TypeProtoTensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
        },
        ValueInfoProto: {
          edition: 'proto2',
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        GraphProto: {
          edition: 'proto2',
          fields: {
            node: repeated('NodeProto', 1),
            name: { type: 'string', id: 2 },
            initializer: repeated('TensorProto', 5),
            docString: { type: 'string', id: 10 },
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            valueInfo: repeated('ValueInfoProto', 13),
          },
        },
        ModelProto: {
          edition: 'proto2',
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: repeated('OperatorSetIdProto', 8),
            metadataProps: repeated('StringStringEntryProto', 14),
          },
        },
        /** ModelProto without its graph: reads the header and metadata of a large file cheaply. */
        ModelHeader: {
          edition: 'proto2',
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            opsetImport: repeated('OperatorSetIdProto', 8),
            metadataProps: repeated('StringStringEntryProto', 14),
          },
        },
      },
    },
  },
};

// `edition` is read by protobufjs ≥ 7.5 but missing from its INamespace type
const root = protobuf.Root.fromJSON(SCHEMA as unknown as INamespace);
const MODEL = root.lookupType('onnx.ModelProto');
const HEADER = root.lookupType('onnx.ModelHeader');

/** `TensorProto.DataType` values used here. */
export const TENSOR_TYPES = {
  float: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  double: 11,
} as const;
/** A key of {@link TENSOR_TYPES}. */
export type TensorTypeName = keyof typeof TENSOR_TYPES;

/** `AttributeProto.AttributeType` values used here. */
export const ATTRIBUTE_TYPES = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  floats: 6,
  ints: 7,
} as const;

/** A `TensorProto` as plain data (`rawData` little-endian). */
export interface TensorMessage {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly rawData: Uint8Array;
}

/** An `AttributeProto` as plain data; exactly one value field is set, matching `type`. */
export interface AttributeMessage {
  readonly name: string;
  readonly type: number;
  readonly f?: number;
  readonly i?: number;
  readonly s?: Uint8Array;
  readonly floats?: readonly number[];
  readonly ints?: readonly number[];
  readonly t?: TensorMessage;
}

/** A `NodeProto` as plain data. */
export interface NodeMessage {
  readonly name: string;
  readonly opType: string;
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly attribute: readonly AttributeMessage[];
}

/** A `ValueInfoProto` of a tensor: element type and dims (numbers, or names of dynamic dims). */
export interface ValueInfoMessage {
  readonly name: string;
  readonly elemType: number;
  readonly dims: readonly (number | string)[];
  readonly docString?: string;
}

/** What {@link encodeModel} writes. */
export interface ModelMessage {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly docString: string;
  readonly graph: {
    readonly name: string;
    readonly nodes: readonly NodeMessage[];
    readonly initializers: readonly TensorMessage[];
    readonly inputs: readonly ValueInfoMessage[];
    readonly outputs: readonly ValueInfoMessage[];
  };
  readonly metadata: Readonly<Record<string, string>>;
}

function valueInfo(v: ValueInfoMessage): object {
  return {
    name: v.name,
    ...(v.docString !== undefined ? { docString: v.docString } : {}),
    type: {
      tensorType: {
        elemType: v.elemType,
        shape: {
          dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/**
 * Serialises a model to ONNX protobuf bytes (`ModelProto`, default domain opset
 * `opsetVersion`).
 */
export function encodeModel(model: ModelMessage): Uint8Array {
  const message = MODEL.fromObject({
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    docString: model.docString,
    opsetImport: [{ domain: '', version: model.opsetVersion }],
    graph: {
      name: model.graph.name,
      node: model.graph.nodes,
      initializer: model.graph.initializers,
      input: model.graph.inputs.map(valueInfo),
      output: model.graph.outputs.map(valueInfo),
    },
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
  });
  return MODEL.encode(message).finish();
}

/** What {@link decodeModelHeader} reads: everything but the graph. */
export interface ModelHeaderMessage {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly opsetVersion: number | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Reads an ONNX file's header and `metadata_props` without materialising its graph (the graph's
 * bytes are skipped).
 *
 * @throws Error (protobufjs) for bytes that are not a protobuf message
 */
export function decodeModelHeader(bytes: Uint8Array): ModelHeaderMessage {
  const m = HEADER.toObject(HEADER.decode(bytes), { longs: Number, defaults: true }) as {
    irVersion: number;
    producerName: string;
    producerVersion: string;
    opsetImport: { domain?: string; version: number }[];
    metadataProps: { key: string; value: string }[];
  };
  const metadata: Record<string, string> = {};
  for (const { key, value } of m.metadataProps) metadata[key] = value;
  return {
    irVersion: m.irVersion,
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    opsetVersion: m.opsetImport.find((o) => (o.domain ?? '') === '')?.version,
    metadata,
  };
}

/** A decoded graph, for tests and inspection: nodes' op types, initializer names, inputs, outputs. */
export interface DecodedGraph {
  readonly nodes: readonly { opType: string; input: string[]; output: string[] }[];
  readonly initializers: readonly { name: string; dims: number[]; dataType: number }[];
  readonly inputs: readonly { name: string; dims: (number | string)[] }[];
  readonly outputs: readonly { name: string; dims: (number | string)[] }[];
}

/** Decodes the graph of an ONNX file (op types and value names; tensor data is not copied). */
export function decodeGraph(bytes: Uint8Array): DecodedGraph {
  const m = MODEL.toObject(MODEL.decode(bytes), { longs: Number, defaults: false });
  type Info = {
    name: string;
    type: { tensorType: { shape: { dim?: Record<string, unknown>[] } } };
  };
  const g = m['graph'] as {
    node?: { opType: string; input?: string[]; output?: string[] }[];
    initializer?: { name: string; dims?: number[]; dataType: number }[];
    input?: Info[];
    output?: Info[];
  };
  const dims = (v: Info): (number | string)[] =>
    (v.type.tensorType.shape.dim ?? []).map(
      (d) => (d['dimValue'] as number | undefined) ?? (d['dimParam'] as string),
    );
  return {
    nodes: (g.node ?? []).map((n) => ({
      opType: n.opType,
      input: n.input ?? [],
      output: n.output ?? [],
    })),
    initializers: (g.initializer ?? []).map((t) => ({
      name: t.name,
      dims: t.dims ?? [],
      dataType: t.dataType,
    })),
    inputs: (g.input ?? []).map((v) => ({ name: v.name, dims: dims(v) })),
    outputs: (g.output ?? []).map((v) => ({ name: v.name, dims: dims(v) })),
  };
}

/**
 * Every element type an ONNX file names, for tests and inspection: initializers, graph inputs and
 * outputs, `value_info`, tensor-valued attributes (`Constant`, `ConstantOfShape`) and the
 * `to`/`dtype` attributes of nodes (`Cast`, `EyeLike`, random ops). Each entry says where.
 *
 * @example
 * declaredTypes(bytes).filter((t) => t.type === TENSOR_TYPES.double); // float64 anywhere
 */
export function declaredTypes(bytes: Uint8Array): { where: string; type: number }[] {
  const m = MODEL.toObject(MODEL.decode(bytes), { longs: Number, defaults: false });
  type Info = { name: string; type?: { tensorType?: { elemType?: number } } };
  type Attr = { name: string; i?: number; t?: { dataType?: number } };
  const g = m['graph'] as {
    node?: { name?: string; opType: string; attribute?: Attr[] }[];
    initializer?: { name: string; dataType: number }[];
    input?: Info[];
    output?: Info[];
    valueInfo?: Info[];
  };
  const out: { where: string; type: number }[] = [];
  for (const t of g.initializer ?? [])
    out.push({ where: `initializer ${t.name}`, type: t.dataType });
  for (const [kind, infos] of [
    ['input', g.input],
    ['output', g.output],
    ['value_info', g.valueInfo],
  ] as const)
    for (const v of infos ?? [])
      out.push({ where: `${kind} ${v.name}`, type: v.type?.tensorType?.elemType ?? 0 });
  for (const n of g.node ?? [])
    for (const a of n.attribute ?? []) {
      const where = `${n.opType} ${n.name ?? ''} attribute ${a.name}`;
      if (a.t !== undefined) out.push({ where, type: a.t.dataType ?? 0 });
      else if (a.name === 'to' || a.name === 'dtype') out.push({ where, type: a.i ?? 0 });
    }
  return out;
}
