/**
 * A minimal WebAssembly assembler: just enough of the binary format to build small SIMD kernels
 * at run time (no toolchain, no binary blobs in the package). Each instruction method appends
 * its encoding; {@link wasmModule} wraps function bodies into a module that imports the caller's
 * memory as `env.memory`.
 * @internal
 */

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function sleb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

/** One function body under construction: locals, then instructions. @internal */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly extraLocals: number[] = [];

  constructor(
    readonly params: readonly number[],
    readonly results: readonly number[] = [],
  ) {}

  /** Declares a new local of type `type` and returns its index. */
  local(type: number): number {
    this.extraLocals.push(type);
    return this.params.length + this.extraLocals.length - 1;
  }

  get(i: number): this {
    this.code.push(0x20);
    uleb(this.code, i);
    return this;
  }
  set(i: number): this {
    this.code.push(0x21);
    uleb(this.code, i);
    return this;
  }
  tee(i: number): this {
    this.code.push(0x22);
    uleb(this.code, i);
    return this;
  }
  i32(value: number): this {
    this.code.push(0x41);
    sleb(this.code, value);
    return this;
  }
  add(): this {
    this.code.push(0x6a);
    return this;
  }
  sub(): this {
    this.code.push(0x6b);
    return this;
  }
  mul(): this {
    this.code.push(0x6c);
    return this;
  }
  ltU(): this {
    this.code.push(0x49);
    return this;
  }
  /** `block` … `end` with no result. */
  block(body: () => void): this {
    this.code.push(0x02, 0x40);
    body();
    this.code.push(0x0b);
    return this;
  }
  /** `loop` … `end` with no result. */
  loop(body: () => void): this {
    this.code.push(0x03, 0x40);
    body();
    this.code.push(0x0b);
    return this;
  }
  brIf(depth: number): this {
    this.code.push(0x0d);
    uleb(this.code, depth);
    return this;
  }
  br(depth: number): this {
    this.code.push(0x0c);
    uleb(this.code, depth);
    return this;
  }
  eqz(): this {
    this.code.push(0x45);
    return this;
  }
  private simd(op: number): void {
    this.code.push(0xfd);
    uleb(this.code, op);
  }
  private memarg(offset: number): void {
    uleb(this.code, 2); // alignment hint: 4 bytes (float32 data)
    uleb(this.code, offset);
  }
  /** v128.load at (address on the stack) + offset. */
  load(offset = 0): this {
    this.simd(0x00);
    this.memarg(offset);
    return this;
  }
  /** v128.load32_splat: one float broadcast to four lanes. */
  loadSplat(offset = 0): this {
    this.simd(0x09);
    this.memarg(offset);
    return this;
  }
  /** v128.store: [address, value] on the stack. */
  store(offset = 0): this {
    this.simd(0x0b);
    this.memarg(offset);
    return this;
  }
  /** v128.const 0 */
  v128Zero(): this {
    this.simd(0x0c);
    for (let k = 0; k < 16; k++) this.code.push(0);
    return this;
  }
  f32x4Add(): this {
    this.simd(0xe4);
    return this;
  }
  f32x4Mul(): this {
    this.simd(0xe6);
    return this;
  }

  /** The body's encoding (locals, code, `end`), size-prefixed. */
  encode(): number[] {
    const body: number[] = [];
    uleb(body, this.extraLocals.length);
    for (const t of this.extraLocals) {
      uleb(body, 1);
      body.push(t);
    }
    body.push(...this.code, 0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    out.push(...body);
    return out;
  }
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  out.push(...content);
}

/**
 * A module importing `env.memory` (any size, not shared) and exporting `functions` by name.
 * @internal
 */
export function wasmModule(functions: Record<string, FunctionBuilder>): Uint8Array<ArrayBuffer> {
  const entries = Object.entries(functions);
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(types, entries.length);
  for (const [, f] of entries) {
    types.push(0x60);
    uleb(types, f.params.length);
    types.push(...f.params);
    uleb(types, f.results.length);
    types.push(...f.results);
  }
  section(out, 1, types);
  const imports: number[] = [1];
  name(imports, 'env');
  name(imports, 'memory');
  imports.push(0x02, 0x00, 0x00); // memory, limits: min 0, no max
  section(out, 2, imports);
  const funcs: number[] = [];
  uleb(funcs, entries.length);
  entries.forEach((_, i) => uleb(funcs, i));
  section(out, 3, funcs);
  const exports: number[] = [];
  uleb(exports, entries.length);
  entries.forEach(([n], i) => {
    name(exports, n);
    exports.push(0x00);
    uleb(exports, i);
  });
  section(out, 7, exports);
  const code: number[] = [];
  uleb(code, entries.length);
  for (const [, f] of entries) code.push(...f.encode());
  section(out, 10, code);
  return new Uint8Array(out);
}
