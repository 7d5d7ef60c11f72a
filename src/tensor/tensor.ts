/**
 * Tensor: a typed array (or, for dtype 'string', a string[]) plus a data type, dims, strides and an offset.
 *
 * The constructor mirrors onnxruntime-web: `new Tensor(type, data, dims)` or `new Tensor(data, dims)`, with
 * `.type`, `.data`, `.dims` and `.size`. A tensor built from data is contiguous (row-major, offset 0). Views
 * made by `reshape`, `transpose` and `slice` share the storage of their source with other strides and offset;
 * `.data` of a non-contiguous view returns a contiguous copy (made once and cached), so kernels always read
 * plain row-major arrays.
 *
 * String tensors (`new Tensor('string', ['a', 'b'], [2])`, as in onnxruntime-web) hold a plain string[] and
 * support everything that moves elements (views, `data`, `contiguous`); `numbers()` and `item()` refuse them.
 *
 * Every live tensor is counted; `dispose()` releases the storage reference and decrements the count, which
 * tests read through `Tensor.liveCount` to find leaks.
 */
import {
  allocate,
  assertDataType,
  containerOf,
  isSubByte,
  matchesContainer,
  type DataType,
  type DataTypeMap,
  type NumericArray,
  type TensorStorage,
  type TypedArray,
} from './dtype.js';
import { TensorError } from './errors.js';
import { decodeFloat16, encodeFloat16 } from './float16.js';
import { fmtShape, normalizeAxis, sizeOf, sliceRange, stridesOf } from './shape.js';

/** What the constructor accepts as data: the dtype's typed array or a plain array of values. */
export type TensorData = TypedArray | readonly number[] | readonly boolean[] | readonly bigint[] | readonly string[];

/** Where a tensor's data lives. */
export type TensorLocation = 'cpu' | 'gpu';

let live = 0;
let created = 0;

function inferType(data: TensorData): DataType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (Array.isArray(data)) {
    if (data.length > 0 && typeof data[0] === 'boolean') return 'bool';
    if (data.length > 0 && typeof data[0] === 'bigint') return 'int64';
    if (data.length > 0 && typeof data[0] === 'string') return 'string';
    return 'float32';
  }
  throw new TensorError(`Tensor: cannot infer a data type from ${Object.prototype.toString.call(data)}`);
}

function toInt64Array(values: readonly (number | bigint | boolean)[], where: string): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (typeof v === 'bigint') out[i] = v;
    else if (typeof v === 'number' && Number.isInteger(v)) out[i] = BigInt(v);
    else throw new TensorError(`${where}: element ${i} is ${String(v)}; int64 tensors need integers`);
  }
  return out;
}

function toStringArray(values: readonly unknown[]): string[] {
  const out = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'string') throw new TensorError(`Tensor(string): element ${i} is ${typeof v} ${String(v)}; string tensors need strings`);
    out[i] = v;
  }
  return out;
}

function fromPlainArray(type: DataType, values: readonly (number | boolean | bigint | string)[]): TensorStorage {
  if (type === 'string') return toStringArray(values);
  if (values.some((v) => typeof v === 'string')) throw new TensorError(`Tensor(${type}): data holds strings; only 'string' tensors do`);
  const nums = values as readonly (number | boolean | bigint)[];
  if (type === 'int64') return toInt64Array(nums, 'Tensor(int64)');
  if (type === 'float16') {
    return encodeFloat16(nums.map((v) => Number(v)));
  }
  const out = allocate(type, nums.length) as NumericArray;
  for (let i = 0; i < nums.length; i++) {
    const v = nums[i]!;
    out[i] = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
  }
  return out;
}

/** A multidimensional array of one data type. */
export class Tensor<T extends DataType = DataType> {
  /** Element type. */
  readonly type: T;
  /** Shape. */
  readonly dims: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** Strides in elements of the storage, per dim. */
  readonly strides: readonly number[];
  /** Offset in elements of the first element in the storage. */
  readonly offset: number;
  /** Where the data lives; CPU tensors own a typed array. */
  readonly location: TensorLocation = 'cpu';

  private storage: DataTypeMap[T] | undefined;
  private contiguousCache: DataTypeMap[T] | undefined;
  private disposedFlag = false;

  /** Build a tensor of `type` from `data` (typed array or plain array) with `dims` (default: 1-D). */
  constructor(type: T, data: TensorData, dims?: readonly number[]);
  /** Build a tensor from a typed array, inferring the type from its class. */
  constructor(data: TensorData, dims?: readonly number[]);
  constructor(a: T | TensorData, b?: TensorData | readonly number[], c?: readonly number[]) {
    let type: DataType;
    let data: TensorData;
    let dims: readonly number[] | undefined;
    if (typeof a === 'string') {
      assertDataType(a, 'Tensor');
      type = a;
      data = b as TensorData;
      dims = c;
    } else {
      data = a;
      type = inferType(data);
      dims = b as readonly number[] | undefined;
    }
    if (data === null || data === undefined || typeof data !== 'object' || typeof (data as ArrayLike<unknown>).length !== 'number') {
      throw new TensorError(`Tensor(${type}): data must be a typed array or an array, got ${String(data)}`);
    }
    let storage: TensorStorage;
    if (Array.isArray(data)) storage = fromPlainArray(type, data as readonly (number | boolean | bigint | string)[]);
    else if (matchesContainer(type, data)) storage = data as TypedArray;
    else {
      const want = type === 'string' ? 'string[]' : containerOf(type).name;
      const got = Object.prototype.toString.call(data).slice(8, -1);
      throw new TensorError(`Tensor(${type}): data is a ${got}; a ${type} tensor is stored in a ${want}`);
    }
    if (!Array.isArray(storage) && (storage.buffer as ArrayBuffer).byteLength === 0 && storage.length > 0) {
      throw new TensorError(`Tensor(${type}): data buffer is detached`);
    }
    if (isSubByte(type)) checkSubByteRange(type, storage as Int8Array | Uint8Array);
    const shape = dims === undefined ? [storage.length] : Array.from(dims);
    if (!Array.isArray(shape)) throw new TensorError(`Tensor(${type}): dims must be an array of integers`);
    const size = sizeOf(shape, `Tensor(${type}) dims`);
    if (size !== storage.length) {
      throw new TensorError(`Tensor(${type}): dims ${fmtShape(shape)} need ${size} elements but data has ${storage.length}`);
    }
    this.type = type as T;
    this.dims = Object.freeze(shape);
    this.size = size;
    this.strides = Object.freeze(stridesOf(shape));
    this.offset = 0;
    this.storage = storage as DataTypeMap[T];
    live++;
    created++;
  }

  /** A view over `source`'s storage with other dims, strides and offset (no copy). */
  private static view<U extends DataType>(source: Tensor<U>, dims: readonly number[], strides: readonly number[], offset: number): Tensor<U> {
    const t = Object.create(Tensor.prototype) as Tensor<U>;
    const w = t as unknown as {
      type: U;
      dims: readonly number[];
      size: number;
      strides: readonly number[];
      offset: number;
      location: TensorLocation;
      storage: DataTypeMap[U];
      contiguousCache: undefined;
      disposedFlag: boolean;
    };
    w.type = source.type;
    w.dims = Object.freeze([...dims]);
    w.size = sizeOf(dims);
    w.strides = Object.freeze([...strides]);
    w.offset = offset;
    w.location = 'cpu';
    w.storage = source.raw();
    w.contiguousCache = undefined;
    w.disposedFlag = false;
    live++;
    created++;
    return t;
  }

  /** Number of tensors created and not yet disposed. */
  static get liveCount(): number {
    return live;
  }

  /** Number of tensors created since the process started. */
  static get createdCount(): number {
    return created;
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.disposedFlag;
  }

  /** Rank (number of dims). */
  get rank(): number {
    return this.dims.length;
  }

  /** The underlying storage (may be larger than the view). */
  raw(): DataTypeMap[T] {
    if (this.disposedFlag || !this.storage) throw new TensorError(`Tensor(${this.type}, ${fmtShape(this.dims)}): used after dispose()`);
    return this.storage;
  }

  /** True when the elements are laid out row-major with no gaps. */
  get isContiguous(): boolean {
    let expect = 1;
    for (let i = this.dims.length - 1; i >= 0; i--) {
      const d = this.dims[i]!;
      if (d !== 1 && this.strides[i] !== expect) return false;
      expect *= d;
    }
    return true;
  }

  /**
   * The elements in row-major order as the dtype's typed array. For a contiguous tensor this is the storage
   * itself (or a subarray of it); for a strided view it is a copy made on first access.
   */
  get data(): DataTypeMap[T] {
    const s = this.raw();
    if (this.isContiguous) {
      if (this.offset === 0 && s.length === this.size) return s;
      // a string tensor's contiguous window is a copy (a plain array has no zero-copy subarray)
      if (Array.isArray(s)) return s.slice(this.offset, this.offset + this.size) as DataTypeMap[T];
      return (s as TypedArray).subarray(this.offset, this.offset + this.size) as DataTypeMap[T];
    }
    if (!this.contiguousCache) this.contiguousCache = this.gather();
    return this.contiguousCache;
  }

  private gather(): DataTypeMap[T] {
    const src = this.raw() as unknown as { [i: number]: number | bigint | string };
    const out = allocate(this.type, this.size) as unknown as { [i: number]: number | bigint | string };
    const rank = this.dims.length;
    const dims = this.dims;
    const strides = this.strides;
    if (this.size === 0) return out as unknown as DataTypeMap[T];
    const idx = new Array<number>(rank).fill(0);
    let pos = this.offset;
    const last = rank - 1;
    const lastDim = rank > 0 ? dims[last]! : 1;
    const lastStride = rank > 0 ? strides[last]! : 0;
    for (let o = 0; o < this.size; ) {
      let p = pos;
      for (let j = 0; j < lastDim; j++, p += lastStride) out[o++] = src[p]!;
      // advance the multi-index over all but the last dim
      let ax = last - 1;
      for (; ax >= 0; ax--) {
        idx[ax]!++;
        pos += strides[ax]!;
        if (idx[ax]! < dims[ax]!) break;
        pos -= strides[ax]! * dims[ax]!;
        idx[ax] = 0;
      }
      if (ax < 0) break;
    }
    return out as unknown as DataTypeMap[T];
  }

  /** A contiguous tensor with the same values: `this` when already contiguous and unshifted, else a copy. */
  contiguous(): Tensor<T> {
    if (this.isContiguous && this.offset === 0 && this.raw().length === this.size) return this;
    return new Tensor(this.type, this.data.slice() as TensorData, this.dims);
  }

  /**
   * Same elements, new dims. A view when the tensor is contiguous; otherwise a contiguous copy.
   * One dim may be -1 (inferred).
   */
  reshape(dims: readonly number[]): Tensor<T> {
    const shape = [...dims];
    const neg = shape.indexOf(-1);
    if (neg >= 0) {
      if (shape.indexOf(-1, neg + 1) >= 0) throw new TensorError(`reshape: more than one -1 in ${fmtShape(dims)}`);
      const rest = shape.reduce((p, d, i) => (i === neg ? p : p * d), 1);
      if (rest === 0 || this.size % rest !== 0) {
        throw new TensorError(`reshape: cannot infer -1 in ${fmtShape(dims)} for ${this.size} elements`);
      }
      shape[neg] = this.size / rest;
    }
    const n = sizeOf(shape, 'reshape');
    if (n !== this.size) throw new TensorError(`reshape: ${fmtShape(this.dims)} (${this.size} elements) cannot become ${fmtShape(shape)} (${n})`);
    if (this.isContiguous) return Tensor.view(this, shape, stridesOf(shape), this.offset);
    return new Tensor(this.type, this.data.slice() as TensorData, shape);
  }

  /** A view with dims permuted (default: reversed). No data is moved. */
  transpose(perm?: readonly number[]): Tensor<T> {
    const rank = this.dims.length;
    const p = perm ? perm.map((a) => normalizeAxis(a, rank, 'transpose perm')) : [...Array(rank).keys()].reverse();
    if (p.length !== rank || new Set(p).size !== rank) {
      throw new TensorError(`transpose: perm [${perm?.join(', ')}] is not a permutation of ${rank} axes`);
    }
    return Tensor.view(
      this,
      p.map((a) => this.dims[a]!),
      p.map((a) => this.strides[a]!),
      this.offset,
    );
  }

  /**
   * A strided view of a sub-box: for each listed axis, elements start, start+step, ... before end (ONNX Slice
   * semantics with clamping; negative indices count from the end; step may be negative). No data is moved.
   */
  slice(starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor<T> {
    const rank = this.dims.length;
    const ax = axes ? axes.map((a) => normalizeAxis(a, rank, 'slice axes')) : starts.map((_, i) => i);
    if (starts.length !== ends.length || ax.length !== starts.length || (steps && steps.length !== starts.length)) {
      throw new TensorError('slice: starts, ends, axes and steps must have the same length');
    }
    const dims = [...this.dims];
    const strides = [...this.strides];
    let offset = this.offset;
    for (let i = 0; i < ax.length; i++) {
      const a = ax[i]!;
      const d = this.dims[a]!;
      const step = steps ? steps[i]! : 1;
      if (step === 0) throw new TensorError('slice: step 0');
      const { start: s, count } = sliceRange(starts[i]!, ends[i]!, step, d);
      dims[a] = count;
      if (count > 0) offset += s * this.strides[a]!;
      strides[a] = this.strides[a]! * step;
    }
    return Tensor.view(this, dims, strides, offset);
  }

  /**
   * Values as JavaScript numbers in a typed array: float16 decoded to float32, int64 converted with a check
   * that each value is a safe integer (throws otherwise), other types returned as they are (no copy).
   */
  numbers(): NumericArray {
    if (this.type === 'string') throw new TensorError(`Tensor(string, ${fmtShape(this.dims)}): numbers() needs a numeric tensor`);
    const d = this.data;
    if (this.type === 'float16') return decodeFloat16(d as Uint16Array);
    if (this.type === 'int64') return int64ToFloat64(d as BigInt64Array, `Tensor(int64, ${fmtShape(this.dims)})`);
    return d as NumericArray;
  }

  /** The single value of a one-element tensor, as a number (or bigint for int64). */
  item(): number | bigint {
    if (this.size !== 1) throw new TensorError(`item(): tensor ${fmtShape(this.dims)} has ${this.size} elements, expected 1`);
    if (this.type === 'string') throw new TensorError(`item(): Tensor(string, ${fmtShape(this.dims)}) holds a string; read it from .data[0]`);
    const d = this.data as unknown as { [i: number]: number | bigint };
    const v = d[0]!;
    if (this.type === 'float16') return decodeFloat16(new Uint16Array([v as number]))[0]!;
    return v;
  }

  /** Release the storage. Further use throws. Idempotent. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.storage = undefined;
    this.contiguousCache = undefined;
    live--;
  }

  /** A short description for messages. */
  toString(): string {
    return `Tensor(${this.type}, ${fmtShape(this.dims)})`;
  }
}

/** int4 / uint4 tensors hold one value per byte: refuse values outside [-8, 7] / [0, 15] at construction. */
function checkSubByteRange(type: 'int4' | 'uint4', values: Int8Array | Uint8Array): void {
  const [lo, hi] = type === 'int4' ? [-8, 7] : [0, 15];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lo || v > hi) throw new TensorError(`Tensor(${type}): element ${i} is ${v}; ${type} values lie in [${lo}, ${hi}]`);
  }
}

/** Convert int64 values to float64, throwing when one is not a safe integer (|v| > 2^53 - 1). */
export function int64ToFloat64(values: BigInt64Array, where: string): Float64Array {
  const out = new Float64Array(values.length);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > max || v < -max) throw new TensorError(`${where}: int64 value ${v} at ${i} does not fit a safe JavaScript integer`);
    out[i] = Number(v);
  }
  return out;
}

/** Int64 values clamped into the safe-integer range (for index-like inputs such as Slice's INT64_MAX ends). */
export function int64ToClampedNumbers(values: BigInt64Array): number[] {
  const out = new Array<number>(values.length);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = v > max ? Number.MAX_SAFE_INTEGER : v < -max ? -Number.MAX_SAFE_INTEGER : Number(v);
  }
  return out;
}

/** A contiguous tensor of `type` and `dims` filled with zeros. */
export function zeros<T extends DataType>(type: T, dims: readonly number[]): Tensor<T> {
  return new Tensor(type, allocate(type, sizeOf(dims, 'zeros')) as TensorData, dims);
}

/**
 * Build a tensor of `type` from JavaScript numbers, converting as the dtype requires (float16 encoded with
 * correct rounding, int64 from integers, bool as 0/1, integers truncated toward zero and wrapped as C casts do).
 */
export function fromNumbers<T extends DataType>(type: T, values: ArrayLike<number>, dims: readonly number[]): Tensor<T> {
  const n = values.length;
  let out: TypedArray;
  if (type === 'string') throw new TensorError('fromNumbers: a string tensor cannot be built from numbers');
  if (type === 'float16') out = encodeFloat16(values);
  else if (type === 'int64') {
    const b = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      b[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    }
    out = b;
  } else if (type === 'bool') {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = values[i] ? 1 : 0;
    out = b;
  } else {
    const a = allocate(type, n) as NumericArray;
    if (a instanceof Float32Array || a instanceof Float64Array) for (let i = 0; i < n; i++) a[i] = values[i]!;
    else for (let i = 0; i < n; i++) a[i] = Math.trunc(values[i]!);
    out = a;
  }
  return new Tensor(type, out, dims);
}
