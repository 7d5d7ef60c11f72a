/**
 * Data types: the ONNX element types Tessera stores, their containers and byte sizes.
 *
 * float16 is held as raw IEEE half bits in a Uint16Array (as onnxruntime-web does); bool as a Uint8Array of
 * 0/1; int64 as a BigInt64Array. 'string' (ONNX tensor(string)) is the one dtype not held in a typed array:
 * its elements live in a plain `string[]` (onnxruntime-web's shape: `new Tensor('string', ['a', 'b'], [2])`).
 * Typed-array helpers (`containerOf`, the buffer arena) never see it: `allocate('string', n)` makes a fresh
 * array of empty strings without going through the buffer source, and `bytesPerElement('string')` is a
 * nominal STRING_ELEMENT_BYTES used only for memory accounting (the characters themselves are not counted).
 * Operator schemas list the dtypes they accept; only those that really handle strings list 'string'.
 *
 * int4 and uint4 (ONNX INT4 = 22, UINT4 = 21) are held one value per element in an Int8Array / Uint8Array
 * (values in [-8, 7] / [0, 15]), so generic code (views, gathers, QuantizeLinear/DequantizeLinear) treats them
 * as narrow integers and `bytesPerElement` is honestly 1 for them in memory. They are packed two per byte only
 * at the edges: in ONNX files (src/graph/onnx/tensor-proto.ts, with ./int4.ts's codec) and inside the fused
 * int4 weight kernels, which keep their weight as packed bytes. They are not in DATA_TYPES (see SUB_BYTE_TYPES),
 * so code that enumerates every dtype meets them only where it asks for them (QuantizeLinear/DequantizeLinear,
 * Cast and CastLike list them; the npy codec writes them as int8/uint8).
 */
import { TensorError } from './errors.js';

/** Element types a Tensor can hold. */
export type DataType =
  | 'float32'
  | 'float16'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'bool'
  | 'int4'
  | 'uint4'
  | 'string';

/** Data types stored in a typed array (every dtype but 'string'). */
export type TypedArrayDataType = Exclude<DataType, 'string'>;

/** The typed array behind each data type. */
export interface DataTypeMap {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
  int4: Int8Array;
  uint4: Uint8Array;
  string: string[];
}

/** Any typed array a tensor may be stored in (every container but the string tensor's `string[]`). */
export type TypedArray = DataTypeMap[TypedArrayDataType];

/** Any container of tensor elements: a typed array, or the `string[]` of a string tensor. */
export type TensorStorage = DataTypeMap[DataType];

/** Typed arrays whose elements are JavaScript numbers (every dtype but int64). */
export type NumericArray = Exclude<TypedArray, BigInt64Array>;

type TypedArrayCtor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CTORS: Record<TypedArrayDataType, TypedArrayCtor> = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
  int4: Int8Array,
  uint4: Uint8Array,
} as unknown as Record<TypedArrayDataType, TypedArrayCtor>;

/** The 4-bit dtypes, held one value per byte in memory and packed two per byte in files (see the file comment). */
export const SUB_BYTE_TYPES: readonly TypedArrayDataType[] = Object.freeze(['int4', 'uint4'] as TypedArrayDataType[]);

/**
 * Every data type stored in a typed array, in a stable order, except 'string' and the 4-bit SUB_BYTE_TYPES
 * (which `isDataType` also accepts; see the file comment).
 */
export const DATA_TYPES: readonly TypedArrayDataType[] = Object.freeze((Object.keys(CTORS) as TypedArrayDataType[]).filter((t) => !SUB_BYTE_TYPES.includes(t)));

/** Nominal bytes per element of a string tensor, for memory accounting (one reference; characters not counted). */
export const STRING_ELEMENT_BYTES = 8;

/** ONNX TensorProto.DataType codes of the supported types. */
export const ONNX_TYPE_CODES: Readonly<Record<DataType, number>> = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint4: 21,
  int4: 22,
  string: 8,
});

/**
 * The typed-array dtype for an ONNX TensorProto.DataType code, or undefined when Tessera has none. STRING (8)
 * gives undefined here, so operators that read a dtype code from an attribute (Cast's `to`, EyeLike's
 * `dtype`, ...) keep refusing it; readers of TensorProtos map it with `dataTypeFromOnnxCode`.
 */
export function dataTypeFromOnnx(code: number): TypedArrayDataType | undefined {
  for (const t of DATA_TYPES) if (ONNX_TYPE_CODES[t] === code) return t;
  return undefined;
}

/**
 * The dtype for an ONNX TensorProto.DataType code, 'string' and the 4-bit types included, or undefined when
 * Tessera has none.
 */
export function dataTypeFromOnnxCode(code: number): DataType | undefined {
  if (code === ONNX_TYPE_CODES.string) return 'string';
  for (const t of SUB_BYTE_TYPES) if (ONNX_TYPE_CODES[t] === code) return t;
  return dataTypeFromOnnx(code);
}

/** True for the 4-bit dtypes int4 and uint4. */
export function isSubByte(type: DataType): type is 'int4' | 'uint4' {
  return type === 'int4' || type === 'uint4';
}

/** True for a supported dtype name ('string' included). */
export function isDataType(x: unknown): x is DataType {
  return typeof x === 'string' && (x === 'string' || Object.prototype.hasOwnProperty.call(CTORS, x));
}

/** Bytes per element (for 'string' the nominal STRING_ELEMENT_BYTES; see the file comment). */
export function bytesPerElement(type: DataType): number {
  return type === 'string' ? STRING_ELEMENT_BYTES : CTORS[type].BYTES_PER_ELEMENT;
}

/**
 * Where `allocate` gets buffers while a buffer arena is active (src/graph/arena.ts installs one for the
 * duration of a session run so intermediates reuse the previous run's buffers). It must return a zero-filled
 * array of exactly `length` elements of the dtype's container.
 */
export type BufferSource = (type: TypedArrayDataType, length: number) => TypedArray;

let bufferSource: BufferSource | undefined;

/** Install `source` as the allocator behind `allocate` (undefined = plain `new`); returns the previous one. */
export function setBufferSource(source: BufferSource | undefined): BufferSource | undefined {
  const previous = bufferSource;
  bufferSource = source;
  return previous;
}

/**
 * A zero-filled typed array of `length` elements for `type` (from the active buffer source, if any); for
 * 'string', a fresh array of `length` empty strings (never from the buffer source).
 */
export function allocate<T extends DataType>(type: T, length: number): DataTypeMap[T] {
  if (type === 'string') return new Array<string>(length).fill('') as DataTypeMap[T];
  const t = type as TypedArrayDataType;
  if (bufferSource) return bufferSource(t, length) as DataTypeMap[T];
  return new CTORS[t](length) as DataTypeMap[T];
}

/**
 * True when `data` is the container `type` expects (Uint8Array for bool, Uint16Array for float16, ...; for
 * 'string' an array whose every element is a string).
 */
export function matchesContainer(type: DataType, data: unknown): boolean {
  if (type === 'string') return Array.isArray(data) && data.every((v) => typeof v === 'string');
  return data instanceof CTORS[type];
}

/** The typed-array constructor for a dtype; a TensorError for 'string', which has no typed array. */
export function containerOf(type: DataType): TypedArrayCtor {
  if (type === 'string') throw new TensorError("containerOf: 'string' tensors are stored in a string[], not a typed array");
  return CTORS[type];
}

/** Floating-point dtypes. */
export function isFloat(type: DataType): boolean {
  return type === 'float32' || type === 'float64' || type === 'float16';
}

/** Signed and unsigned integer dtypes (not bool, not string). */
export function isInteger(type: DataType): boolean {
  return !isFloat(type) && type !== 'bool' && type !== 'string';
}

/** Assert a dtype name, with a clear error naming `where`. */
export function assertDataType(x: unknown, where: string): asserts x is DataType {
  if (!isDataType(x)) {
    throw new TensorError(`${where}: unsupported data type ${JSON.stringify(x)}; expected one of ${DATA_TYPES.join(', ')}, ${SUB_BYTE_TYPES.join(', ')}, string`);
  }
}
