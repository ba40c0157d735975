/**
 * PyTorch checkpoints (`torch.save(model.state_dict(), 'x.pt')`) read in TypeScript, without
 * Python and without running the pickle.
 *
 * Format (PyTorch ≥ 1.6, the default since): a zip archive (members stored, data aligned to 64
 * bytes with padding extra fields) with one top-level folder `<name>/` holding
 * - `data.pkl`: the object as a pickle (protocol 2); every tensor is a call
 *   `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` whose
 *   `storage` is a persistent id `('storage', torch.FloatStorage, '<key>', '<location>', numel)`;
 * - `data/<key>`: the raw bytes of each storage, in the byte order of `byteorder`
 *   (`little` or `big`; absent in older files: little);
 * - `version`, `byteorder`, `.data/serialization_id`, … (not needed to read tensors).
 *
 * The pickle is read by a restricted interpreter: it builds plain data (None, bools, ints, floats,
 * strings, bytes, tuples, lists, dicts) and accepts exactly the globals a `state_dict` holds —
 * {@link TORCH_PICKLE_GLOBALS} — and nothing else: any other global (`os.system`,
 * `builtins.eval`, a class), a call of anything but those, and opcodes that build arbitrary
 * objects (`INST`, `OBJ`, `NEWOBJ`, extensions) are refused with a `DenseHybridError` naming
 * them. Nothing of the file is ever executed.
 */
import { readFile } from 'node:fs/promises';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { readZip } from '@densehybrid/metrics-openiou/node';
import {
  parseSafetensors,
  SAFETENSORS_DTYPE_SIZES,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFile,
} from './safetensors.js';

const FN = 'readTorchCheckpoint';

/** PyTorch storage classes (`torch.<Name>`) and the safetensors dtype of their elements. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** The callables a state_dict pickle may name (module → names), besides the storage classes. */
const CALLABLES: Readonly<Record<string, readonly string[]>> = {
  collections: ['OrderedDict'],
  'torch._utils': [
    '_rebuild_tensor_v2',
    '_rebuild_tensor',
    '_rebuild_parameter',
    '_rebuild_parameter_with_state',
  ],
};

/**
 * Every global a checkpoint's pickle may name: `collections.OrderedDict`, the tensor and
 * parameter rebuild functions of `torch._utils`, and the storage classes `torch.*Storage`
 * (only inside persistent ids). Anything else is refused.
 *
 * @example
 * ```ts
 * TORCH_PICKLE_GLOBALS.includes('torch._utils._rebuild_tensor_v2'); // true
 * TORCH_PICKLE_GLOBALS.includes('os.system'); // false
 * ```
 */
export const TORCH_PICKLE_GLOBALS: readonly string[] = [
  ...Object.entries(CALLABLES).flatMap(([m, names]) => names.map((n) => `${m}.${n}`)),
  ...Object.keys(TORCH_STORAGE_DTYPES).map((n) => `torch.${n}`),
];

/** A storage referenced by a persistent id: the member `data/<key>` of the archive. */
export interface TorchStorage {
  readonly kind: 'storage';
  readonly dtype: SafetensorsDtype;
  readonly key: string;
  /** Where it was saved from (`cpu`, `cuda:0`); the bytes are the same. */
  readonly location: string;
  /** Elements. */
  readonly numel: number;
}

/** A tensor of the pickle: a strided view of a storage (PyTorch element units). */
export interface TorchTensor {
  readonly kind: 'tensor';
  readonly storage: TorchStorage;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly requiresGrad: boolean;
}

/** A value the restricted unpickler builds. Dicts and OrderedDicts are `Map`s, tuples frozen arrays. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly PickleValue[]
  | Map<PickleValue, PickleValue>
  | TorchTensor
  | TorchStorage;

/** A global the pickle named and the interpreter accepted. */
interface PickleGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
}

/** A storage class as the first element of a persistent id. */
interface StorageType {
  readonly kind: 'storage-type';
  readonly name: string;
  readonly dtype: SafetensorsDtype;
}

type Item = PickleValue | PickleGlobal | StorageType;

const MARK = Symbol('mark');

/** Options of {@link unpickle}. */
interface UnpickleOptions {
  readonly source: string;
  /** Byte offset of the pickle. @default 0 */
  readonly start?: number;
  /** The object a persistent id stands for. */
  persistentLoad(pid: PickleValue): PickleValue;
}

function isObject(v: unknown, kind: string): boolean {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === kind;
}

/** Tensor rebuild: checks the argument types of `_rebuild_tensor(_v2)`. */
function rebuildTensor(
  bad: (what: string) => never,
  args: readonly Item[],
  v2: boolean,
): TorchTensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  const ints = (v: Item): v is readonly number[] =>
    Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
  if (
    !isObject(storage, 'storage') ||
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0 ||
    !ints(size as Item) ||
    !ints(stride as Item) ||
    (size as readonly number[]).length !== (stride as readonly number[]).length
  ) {
    bad(
      `a ${v2 ? '_rebuild_tensor_v2' : '_rebuild_tensor'} call with arguments (storage, offset, size, stride) of other types: ${args.map((a) => describeValue(a)).join(', ')}`,
    );
  }
  return {
    kind: 'tensor',
    storage: storage as TorchStorage,
    storageOffset: offset as number,
    shape: [...(size as readonly number[])],
    stride: [...(stride as readonly number[])],
    requiresGrad: requiresGrad === true,
  };
}

/**
 * Runs the restricted pickle interpreter over `bytes` (one pickle, up to STOP).
 * @internal exported for tests through {@link parseTorchCheckpoint} only
 */
function unpickle(
  bytes: Uint8Array,
  options: UnpickleOptions,
): { readonly value: PickleValue; readonly end: number } {
  const { source } = options;
  const bad = (what: string): never => {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected a pickled state_dict, got ${what}`,
    );
  };
  const refuse = (name: string, how: string): never => {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected only the globals a state_dict holds (${TORCH_PICKLE_GLOBALS.filter((g) => !g.endsWith('Storage')).join(', ')}, torch.*Storage), got ${how} ${name}; refused, nothing of the file was run (a pickle can call any Python function; load only files you trust in Python)`,
    );
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: (Item | typeof MARK)[] = [];
  const memo = new Map<number, Item>();
  const attributes = new WeakMap<object, Item>();
  let pos = options.start ?? 0;
  const need = (n: number): number => {
    if (pos + n > bytes.length) bad(`a pickle cut off at byte ${bytes.length} (truncated)`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): Item => {
    const v = stack.pop();
    if (v === undefined || v === MARK) return bad(`a malformed pickle (stack underflow at ${pos})`);
    return v;
  };
  const top = (): Item => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return bad(`a malformed pickle (stack underflow at ${pos})`);
    return v;
  };
  const popMark = (): Item[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) bad(`a malformed pickle (no MARK at ${pos})`);
    const items = stack.splice(i) as Item[];
    items.shift();
    return items;
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at, at + n));
    } catch {
      return bad(`a string that is not UTF-8 at byte ${at}`);
    }
  };
  const latin1 = (n: number): string => {
    const at = need(n);
    let s = '';
    for (let i = at; i < at + n; i++) s += String.fromCharCode(bytes[i] as number);
    return s;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) bad('a GLOBAL name without its newline (truncated)');
    return latin1(end - pos + 1).slice(0, -1);
  };
  const long = (n: number): number | bigint => {
    if (n > 16) bad(`an integer of ${n} bytes (at most 16 in a state_dict)`);
    const at = need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] as number);
    if (n > 0 && ((bytes[at + n - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };
  const size64 = (): number => {
    const at = need(8);
    const n = view.getBigUint64(at, true);
    if (n > BigInt(bytes.length)) bad(`a length of ${n} bytes beyond the pickle (truncated)`);
    return Number(n);
  };
  const resolveGlobal = (module: string, name: string): Item => {
    if (module === 'torch' && Object.hasOwn(TORCH_STORAGE_DTYPES, name)) {
      return { kind: 'storage-type', name, dtype: TORCH_STORAGE_DTYPES[name] as SafetensorsDtype };
    }
    if (CALLABLES[module]?.includes(name) === true) return { kind: 'global', module, name };
    return refuse(`${module}.${name}`, 'the global');
  };
  const call = (fn: Item, args: Item): Item => {
    if (!Array.isArray(args)) bad(`a call with arguments ${describeValue(args)} (not a tuple)`);
    const a = args as readonly Item[];
    if (!isObject(fn, 'global')) {
      const g = fn as Partial<StorageType>;
      return refuse(g.kind === 'storage-type' ? `torch.${g.name}` : describeValue(fn), 'a call of');
    }
    const { module, name } = fn as PickleGlobal;
    if (module === 'collections') {
      const map = new Map<PickleValue, PickleValue>();
      if (a.length === 1 && Array.isArray(a[0])) {
        for (const pair of a[0] as readonly Item[]) {
          if (!Array.isArray(pair) || pair.length !== 2) bad('an OrderedDict of non-pairs');
          map.set(
            (pair as PickleValue[])[0] as PickleValue,
            (pair as PickleValue[])[1] as PickleValue,
          );
        }
      } else if (a.length !== 0) bad(`OrderedDict called with ${a.length} arguments`);
      return map;
    }
    switch (name) {
      case '_rebuild_tensor_v2':
        return rebuildTensor(bad, a, true);
      case '_rebuild_tensor':
        return rebuildTensor(bad, a, false);
      default: {
        // _rebuild_parameter(data, requires_grad, hooks[, state]): the tensor itself
        const data = a[0];
        if (!isObject(data, 'tensor')) bad(`${name} of ${describeValue(data)} (not a tensor)`);
        return { ...(data as TorchTensor), requiresGrad: a[1] === true };
      }
    }
  };
  for (;;) {
    if (pos >= bytes.length) bad('a pickle without STOP (truncated)');
    const at = pos;
    const op = bytes[need(1)] as number;
    switch (op) {
      case 0x80: // PROTO
        if ((bytes[need(1)] as number) > 5) bad(`pickle protocol ${bytes[at + 1]}`);
        break;
      case 0x95: // FRAME (protocol 4): a length only
        need(8);
        break;
      case 0x2e: // STOP
        return { value: pop() as PickleValue, end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(Object.freeze([]));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)] as number);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
        stack.push(long(bytes[need(1)] as number));
        break;
      case 0x8b: // LONG4
        stack.push(long(view.getUint32(need(4), true)));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[need(1)] as number));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(size64()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1(view.getUint32(need(4), true)));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(bytes[need(1)] as number));
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: {
        // BINBYTES8
        const n =
          op === 0x42
            ? view.getUint32(need(4), true)
            : op === 0x43
              ? (bytes[need(1)] as number)
              : size64();
        const s = need(n);
        stack.push(bytes.slice(s, s + n));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(Object.freeze([pop()]) as PickleValue);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(Object.freeze([pop(), b]) as PickleValue);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(Object.freeze([pop(), b, c]) as PickleValue);
        break;
      }
      case 0x74: // TUPLE
        stack.push(Object.freeze(popMark()) as PickleValue);
        break;
      case 0x6c: // LIST
        stack.push(popMark() as PickleValue);
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const map = new Map<PickleValue, PickleValue>();
        for (let i = 0; i + 1 < items.length; i += 2)
          map.set(items[i] as PickleValue, items[i + 1] as PickleValue);
        stack.push(map);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) bad('APPEND to a non-list');
        (list as Item[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) bad('APPENDS to a non-list');
        (list as Item[]).push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        const map = top();
        if (!(map instanceof Map)) bad('SETITEM on a non-dict');
        (map as Map<Item, Item>).set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const map = top();
        if (!(map instanceof Map)) bad('SETITEMS on a non-dict');
        for (let i = 0; i + 1 < items.length; i += 2)
          (map as Map<Item, Item>).set(items[i] as Item, items[i + 1] as Item);
        break;
      }
      case 0x71: // BINPUT
        memo.set(bytes[need(1)] as number, top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? (bytes[need(1)] as number) : view.getUint32(need(4), true);
        if (!memo.has(k)) bad(`a reference to memo ${k} before it was stored`);
        stack.push(memo.get(k) as Item);
        break;
      }
      case 0x30: // POP
        if (stack.pop() === undefined) bad('POP on an empty stack');
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          bad('STACK_GLOBAL of non-strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: only OrderedDict attributes (state_dict's `_metadata`) and tensor state
        const state = pop();
        const obj = top();
        if (obj instanceof Map || isObject(obj, 'tensor')) attributes.set(obj as object, state);
        else bad(`BUILD on ${describeValue(obj)}`);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(options.persistentLoad(pop() as PickleValue));
        break;
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x81: // NEWOBJ
      case 0x92: // NEWOBJ_EX
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        return refuse(`0x${op.toString(16)} at byte ${at}`, 'the object-building opcode');
      default:
        return bad(
          `the pickle opcode 0x${op.toString(16)} (${JSON.stringify(String.fromCharCode(op))}) at byte ${at}, which a state_dict saved by torch.save does not use`,
        );
    }
  }
}

/** Options of {@link parseTorchCheckpoint} and {@link readTorchCheckpoint}. */
export interface ReadTorchCheckpointOptions {
  /**
   * Where the state_dict sits in the saved object: `''` for the object itself, a key of the
   * saved dict (`'state_dict'`, `'model'`), or `'auto'`: the object itself when it holds
   * tensors, else the first of {@link STATE_DICT_KEYS} that does.
   * @default 'auto'
   */
  readonly stateDictKey?: string;
  /** Check every member's CRC-32. @default true */
  readonly verifyCrc?: boolean;
  /** What to call the file in error messages. @default the path, or 'buffer' */
  readonly source?: string;
}

/** Keys of a saved dict that `stateDictKey: 'auto'` looks under, in order. */
export const STATE_DICT_KEYS: readonly string[] = [
  'state_dict',
  'model',
  'model_state_dict',
  'net',
  'network',
];

/** Default options of {@link parseTorchCheckpoint}. */
export const DEFAULT_READ_TORCH_CHECKPOINT_OPTIONS = {
  stateDictKey: 'auto',
  verifyCrc: true,
} as const satisfies ReadTorchCheckpointOptions;

/**
 * A state_dict read from a file: its tensors as safetensors entries (so `loadWeights` and
 * everything that reads a {@link SafetensorsFile} takes it), in file order, each contiguous,
 * little-endian and in PyTorch layout (conv OIHW).
 */
export interface StateDictFile extends SafetensorsFile {
  /** `pytorch-zip` (torch.save), `pytorch-legacy` (torch.save of PyTorch < 1.6) or `safetensors`. */
  readonly format: 'pytorch-zip' | 'pytorch-legacy' | 'safetensors';
  /** The key of the saved dict the state_dict came from (`''`: the saved object itself). */
  readonly stateDictKey: string;
  /** Entries of the state_dict that are no tensors (e.g. an `_extra_state`), by name. */
  readonly others: ReadonlyMap<string, PickleValue>;
}

/** Bytes of a strided tensor, gathered into C order (a view when already contiguous). */
function tensorBytes(
  t: TorchTensor,
  storage: Uint8Array,
  bigEndian: boolean,
  name: string,
  source: string,
): Uint8Array {
  const size = SAFETENSORS_DTYPE_SIZES[t.storage.dtype];
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return new Uint8Array(0);
  let last = t.storageOffset;
  for (let i = 0; i < t.shape.length; i++)
    last += ((t.shape[i] as number) - 1) * (t.stride[i] as number);
  if (last >= t.storage.numel || (last + 1) * size > storage.length) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected tensor "${name}" (offset ${t.storageOffset}, shape ${JSON.stringify(t.shape)}, stride ${JSON.stringify(t.stride)}) inside its storage of ${Math.min(t.storage.numel, Math.floor(storage.length / size))} elements, got one reaching element ${last}`,
    );
  }
  let contiguous = true;
  for (let i = t.shape.length - 1, expect = 1; i >= 0; i--) {
    const d = t.shape[i] as number;
    if (d !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= d;
  }
  let out: Uint8Array;
  if (contiguous) {
    out = storage.subarray(t.storageOffset * size, (t.storageOffset + n) * size);
  } else {
    out = new Uint8Array(n * size);
    const rank = t.shape.length;
    const index = new Array<number>(rank).fill(0);
    let src = t.storageOffset;
    for (let k = 0; k < n; k++) {
      out.set(storage.subarray(src * size, (src + 1) * size), k * size);
      // next multi-index in C order, moving `src` by the strides
      for (let i = rank - 1; i >= 0; i--) {
        index[i] = (index[i] as number) + 1;
        src += t.stride[i] as number;
        if ((index[i] as number) < (t.shape[i] as number)) break;
        src -= (t.shape[i] as number) * (t.stride[i] as number);
        index[i] = 0;
      }
    }
  }
  if (bigEndian && size > 1) {
    out = out.slice();
    for (let o = 0; o < out.length; o += size) out.subarray(o, o + size).reverse();
  }
  return out;
}

/** The state_dict inside the saved object. */
function selectStateDict(
  root: PickleValue,
  key: string,
  source: string,
): [Map<PickleValue, PickleValue>, string] {
  const hasTensors = (v: unknown): v is Map<PickleValue, PickleValue> =>
    v instanceof Map && [...v.values()].some((x) => isObject(x, 'tensor'));
  if (key === 'auto') {
    if (hasTensors(root)) return [root, ''];
    if (root instanceof Map) {
      for (const k of STATE_DICT_KEYS) {
        const v = root.get(k);
        if (hasTensors(v)) return [v, k];
      }
    }
  } else if (key === '') {
    if (root instanceof Map) return [root, ''];
  } else if (root instanceof Map && root.get(key) instanceof Map) {
    return [root.get(key) as Map<PickleValue, PickleValue>, key];
  }
  const keys = root instanceof Map ? [...root.keys()].map((k) => describeValue(k)) : [];
  throw new DenseHybridError(
    'INVALID_INPUT',
    `${FN}: ${source}: expected a state_dict (a dict of tensors${key === 'auto' ? `, or one under ${STATE_DICT_KEYS.map((k) => `"${k}"`).join(', ')}` : ` under "${key}"`}), got ${root instanceof Map ? `a dict with keys ${keys.slice(0, 10).join(', ') || '(none)'}` : describeValue(root)}`,
  );
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** The legacy (PyTorch < 1.6) format starts with a pickled magic number: PROTO 2, LONG1 10 bytes. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/**
 * Parses a PyTorch checkpoint held in memory (`torch.save` zip format) into its state_dict's
 * tensors, without running the pickle. Handles strided views (gathered into C order), `byteorder`
 * big or little, every storage dtype (float16/bfloat16/float64 stay as they are: decode with
 * `decodeSafetensor`), and state_dicts wrapped in a dict (`{'state_dict': …}`). Keys are kept as
 * saved (a DataParallel `module.` prefix included).
 *
 * @param bytes - the whole `.pt` / `.pth` file
 * @param options - see {@link ReadTorchCheckpointOptions}
 * @returns the tensors in file order as a {@link StateDictFile}
 * @throws DenseHybridError `INVALID_INPUT` for a truncated or corrupted archive (CRC), a pickle
 *   naming a global outside {@link TORCH_PICKLE_GLOBALS} (the message names it), a tensor outside
 *   its storage, or the legacy pre-1.6 format
 * @example
 * ```ts
 * const sd = parseTorchCheckpoint(new Uint8Array(await readFile('ldn121.pt')), { source: 'ldn121.pt' });
 * for (const [name, t] of sd.tensors) console.log(name, t.dtype, t.shape); // backbone.features.conv0.weight F32 [64, 3, 7, 7] …
 * ```
 */
export function parseTorchCheckpoint(
  bytes: Uint8Array,
  options: ReadTorchCheckpointOptions = {},
): StateDictFile {
  const source = options.source ?? 'buffer';
  if (!(bytes instanceof Uint8Array)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected the file's bytes as a Uint8Array, got ${describeValue(bytes)}`,
    );
  }
  if (startsWith(bytes, LEGACY_MAGIC)) return parseLegacy(bytes, source, options);
  if (!startsWith(bytes, ZIP_MAGIC)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected a PyTorch checkpoint (a zip archive starting with "PK\\x03\\x04", or the legacy format of PyTorch < 1.6), got ${bytes.length < 4 ? `${bytes.length} bytes` : `bytes ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`}`,
    );
  }
  const zip = readZip(bytes, {
    fn: FN,
    source,
    expected: 'a PyTorch checkpoint (zip archive)',
    verifyCrc: options.verifyCrc ?? DEFAULT_READ_TORCH_CHECKPOINT_OPTIONS.verifyCrc,
  });
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected one <name>/data.pkl in the archive, got ${pickles.length === 0 ? 'none' : pickles.join(', ')} (not a torch.save file?)`,
    );
  }
  const prefix = (pickles[0] as string).slice(0, -'data.pkl'.length);
  const byteorderName = `${prefix}byteorder`;
  const byteorder = zip.entries.has(byteorderName)
    ? new TextDecoder().decode(zip.read(byteorderName)).trim()
    : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected ${byteorderName} to be "little" or "big", got ${JSON.stringify(byteorder)}`,
    );
  }
  const storages = new Map<string, TorchStorage>();
  const { value: root } = unpickle(zip.read(pickles[0] as string), {
    source,
    persistentLoad: (pid) => storageOf(pid, storages, source),
  });
  return collect(
    root,
    options,
    source,
    byteorder === 'big',
    (s) => {
      const data = zip.read(`${prefix}data/${s.key}`);
      const want = s.numel * SAFETENSORS_DTYPE_SIZES[s.dtype];
      if (data.length !== want) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${FN}: ${source}: expected ${want} bytes in storage ${prefix}data/${s.key} (${s.numel} × ${s.dtype}), got ${data.length} (truncated or corrupted)`,
        );
      }
      return data;
    },
    { format: 'pt', archive: prefix.slice(0, -1), byteorder },
    'pytorch-zip',
  );
}

/** The storage a persistent id names (one object per key). */
function storageOf(
  pid: PickleValue,
  storages: Map<string, TorchStorage>,
  source: string,
): TorchStorage {
  const [tag, type, key, location, numel, view] = Array.isArray(pid) ? pid : [];
  if (
    tag !== 'storage' ||
    !isObject(type, 'storage-type') ||
    typeof key !== 'string' ||
    !Number.isSafeInteger(numel) ||
    (numel as number) < 0 ||
    (view !== undefined && view !== null)
  ) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected persistent ids ('storage', torch.<Type>Storage, key, location, numel), got ${describeValue(pid)}${Array.isArray(pid) ? ` starting ${describeValue(pid[0])}${view !== undefined && view !== null ? ' with a storage view (PyTorch < 0.4)' : ''}` : ''}`,
    );
  }
  const known = storages.get(key as string);
  if (known) return known;
  const s: TorchStorage = {
    kind: 'storage',
    dtype: (type as unknown as StorageType).dtype,
    key: key as string,
    location: typeof location === 'string' ? location : 'cpu',
    numel: numel as number,
  };
  storages.set(key as string, s);
  return s;
}

/** The state_dict's tensors as safetensors entries. */
function collect(
  root: PickleValue,
  options: ReadTorchCheckpointOptions,
  source: string,
  bigEndian: boolean,
  readStorage: (s: TorchStorage) => Uint8Array,
  metadata: Record<string, string>,
  format: StateDictFile['format'],
): StateDictFile {
  const [dict, stateDictKey] = selectStateDict(
    root,
    options.stateDictKey ?? DEFAULT_READ_TORCH_CHECKPOINT_OPTIONS.stateDictKey,
    source,
  );
  const storageBytes = new Map<string, Uint8Array>();
  const tensors = new Map<string, SafetensorsEntry>();
  const others = new Map<string, PickleValue>();
  for (const [k, v] of dict) {
    const name = typeof k === 'string' ? k : String(k);
    if (!isObject(v, 'tensor')) {
      others.set(name, v);
      continue;
    }
    const t = v as TorchTensor;
    let data = storageBytes.get(t.storage.key);
    if (data === undefined) {
      data = readStorage(t.storage);
      storageBytes.set(t.storage.key, data);
    }
    tensors.set(name, {
      name,
      dtype: t.storage.dtype,
      shape: t.shape,
      bytes: tensorBytes(t, data, bigEndian, name, source),
    });
  }
  return { format, tensors, metadata, stateDictKey, others };
}

/** torch.save's magic number and protocol of the legacy format. */
const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/**
 * The legacy format (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`): five pickles
 * back to back — the magic number, the protocol version 1001, `sys_info` (byte order), the
 * object, the sorted list of storage keys — then each storage in that order as an int64 element
 * count and its raw bytes.
 */
function parseLegacy(
  bytes: Uint8Array,
  source: string,
  options: ReadTorchCheckpointOptions,
): StateDictFile {
  const bad = (what: string): never => {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected a legacy PyTorch checkpoint, got ${what}`,
    );
  };
  const storages = new Map<string, TorchStorage>();
  const noPid = (): never => bad('a persistent id outside the object pickle');
  const magic = unpickle(bytes, { source, persistentLoad: noPid });
  if (magic.value !== LEGACY_MAGIC_NUMBER) bad(`the magic number ${describeValue(magic.value)}`);
  const protocol = unpickle(bytes, { source, start: magic.end, persistentLoad: noPid });
  if (protocol.value !== LEGACY_PROTOCOL) bad(`protocol ${describeValue(protocol.value)}`);
  // sys_info names the saving machine's byte order; PyTorch writes sizes and storages
  // little-endian whatever it is (and reads them so)
  const info = unpickle(bytes, { source, start: protocol.end, persistentLoad: noPid });
  const object = unpickle(bytes, {
    source,
    start: info.end,
    persistentLoad: (pid) => storageOf(pid, storages, source),
  });
  const keys = unpickle(bytes, { source, start: object.end, persistentLoad: noPid });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    bad(`a storage key list ${describeValue(keys.value)}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value as readonly string[]) {
    const s = storages.get(key);
    if (s === undefined) bad(`storage ${key} in the key list but not in the object`);
    if (pos + 8 > bytes.length) bad(`storage ${key} cut off at byte ${bytes.length} (truncated)`);
    const numel = Number(view.getBigInt64(pos, true));
    const size = SAFETENSORS_DTYPE_SIZES[(s as TorchStorage).dtype];
    if (numel !== (s as TorchStorage).numel || pos + 8 + numel * size > bytes.length) {
      bad(
        `storage ${key} of ${numel} elements (the object says ${(s as TorchStorage).numel}) at byte ${pos} of ${bytes.length} (truncated or corrupted)`,
      );
    }
    data.set(key, bytes.subarray(pos + 8, pos + 8 + numel * size));
    pos += 8 + numel * size;
  }
  return collect(
    object.value,
    options,
    source,
    false,
    (s) => data.get(s.key) ?? bad(`no data for storage ${s.key}`),
    { format: 'pt-legacy', byteorder: 'little' },
    'pytorch-legacy',
  );
}

/**
 * Reads a PyTorch checkpoint (`.pt` / `.pth`, the zip format of `torch.save`) — see
 * {@link parseTorchCheckpoint} — or, for a file that is no zip archive, a `.safetensors` file:
 * both come back as a {@link StateDictFile}.
 *
 * @param file - a path or the file's bytes
 * @param options - see {@link ReadTorchCheckpointOptions}
 * @throws DenseHybridError `IO` when the file cannot be read, `INVALID_INPUT` as
 *   {@link parseTorchCheckpoint} and {@link parseSafetensors}
 * @example
 * ```ts
 * import { loadWeights, readTorchCheckpoint } from '@densehybrid/backbones';
 * const sd = await readTorchCheckpoint('densenet121.pth');
 * await loadWeights(model, sd, { allowMissing: true, allowUnexpected: true });
 * ```
 */
export async function readTorchCheckpoint(
  file: string | Uint8Array,
  options: ReadTorchCheckpointOptions = {},
): Promise<StateDictFile> {
  let bytes: Uint8Array;
  let source = options.source ?? 'buffer';
  if (typeof file === 'string') {
    source = options.source ?? file;
    try {
      const b = await readFile(file);
      bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw new DenseHybridError(
        'IO',
        `${FN}: expected a readable checkpoint at ${file}, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        { cause: e },
      );
    }
  } else bytes = file;
  if (
    bytes instanceof Uint8Array &&
    !startsWith(bytes, ZIP_MAGIC) &&
    !startsWith(bytes, LEGACY_MAGIC) &&
    bytes.length >= 9 &&
    bytes[8] === 0x7b // '{': a safetensors JSON header after its 8-byte length
  ) {
    const st = parseSafetensors(bytes, source);
    return { ...st, format: 'safetensors', stateDictKey: '', others: new Map() };
  }
  return parseTorchCheckpoint(bytes, { ...options, source });
}
