/**
 * Data types: the ONNX element types Tessera stores, their typed-array containers and byte sizes.
 *
 * float16 is held as raw IEEE half bits in a Uint16Array (as onnxruntime-web does); bool as a Uint8Array of
 * 0/1; int64 as a BigInt64Array.
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
  | 'bool';

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
}

/** Any typed array a tensor may be stored in. */
export type TypedArray = DataTypeMap[DataType];

/** Typed arrays whose elements are JavaScript numbers (every dtype but int64). */
export type NumericArray = Exclude<TypedArray, BigInt64Array>;

type TypedArrayCtor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CTORS: Record<DataType, TypedArrayCtor> = {
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
} as unknown as Record<DataType, TypedArrayCtor>;

/** Every supported data type, in a stable order. */
export const DATA_TYPES: readonly DataType[] = Object.freeze(Object.keys(CTORS) as DataType[]);

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
});

/** The dtype for an ONNX TensorProto.DataType code, or undefined when Tessera does not support it. */
export function dataTypeFromOnnx(code: number): DataType | undefined {
  for (const t of DATA_TYPES) if (ONNX_TYPE_CODES[t] === code) return t;
  return undefined;
}

/** True for a supported dtype name. */
export function isDataType(x: unknown): x is DataType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(CTORS, x);
}

/** Bytes per element. */
export function bytesPerElement(type: DataType): number {
  return CTORS[type].BYTES_PER_ELEMENT;
}

/**
 * Where `allocate` gets buffers while a buffer arena is active (src/graph/arena.ts installs one for the
 * duration of a session run so intermediates reuse the previous run's buffers). It must return a zero-filled
 * array of exactly `length` elements of the dtype's container.
 */
export type BufferSource = (type: DataType, length: number) => TypedArray;

let bufferSource: BufferSource | undefined;

/** Install `source` as the allocator behind `allocate` (undefined = plain `new`); returns the previous one. */
export function setBufferSource(source: BufferSource | undefined): BufferSource | undefined {
  const previous = bufferSource;
  bufferSource = source;
  return previous;
}

/** A zero-filled typed array of `length` elements for `type` (from the active buffer source, if any). */
export function allocate<T extends DataType>(type: T, length: number): DataTypeMap[T] {
  if (bufferSource) return bufferSource(type, length) as DataTypeMap[T];
  return new CTORS[type](length) as DataTypeMap[T];
}

/** True when `data` is the container `type` expects (Uint8Array for bool, Uint16Array for float16, ...). */
export function matchesContainer(type: DataType, data: unknown): boolean {
  return data instanceof CTORS[type];
}

/** The typed-array constructor for a dtype. */
export function containerOf(type: DataType): TypedArrayCtor {
  return CTORS[type];
}

/** Floating-point dtypes. */
export function isFloat(type: DataType): boolean {
  return type === 'float32' || type === 'float64' || type === 'float16';
}

/** Signed and unsigned integer dtypes (not bool). */
export function isInteger(type: DataType): boolean {
  return !isFloat(type) && type !== 'bool';
}

/** Assert a dtype name, with a clear error naming `where`. */
export function assertDataType(x: unknown, where: string): asserts x is DataType {
  if (!isDataType(x)) {
    throw new TensorError(`${where}: unsupported data type ${JSON.stringify(x)}; expected one of ${DATA_TYPES.join(', ')}`);
  }
}
