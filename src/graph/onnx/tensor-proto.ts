/**
 * TensorProto <-> Tensor.
 *
 * Reading follows onnx.proto3's rules for where values live: raw_data (little-endian, the common case),
 * or the typed fields: float_data (float), int32_data (int32 and every narrower integer, bool, and the bits
 * of float16/bfloat16), int64_data, double_data, uint64_data (uint32). Element counts are checked against the
 * dims before any allocation. bfloat16 has no Tessera dtype: it is widened to float32 exactly (its bits are
 * the top half of a float32) and the caller is told through `notes`. External data (data_location = EXTERNAL)
 * is read from a file beside the model; locations that are absolute, contain `..`, or resolve (through
 * symlinks) outside the model's folder are refused.
 *
 * String tensors (data_type STRING) keep their elements in string_data, one UTF-8 byte string each (ONNX
 * has no raw_data form for them); they become Tensors of dtype 'string'.
 *
 * INT4 and UINT4 tensors are packed two values per byte (first value in the low nibble) in raw_data, and two
 * per int32_data entry (the packed byte); they become Tensors of dtype 'int4' / 'uint4' holding one value per
 * byte (src/tensor/int4.ts is the codec). An odd count leaves the last high nibble unused.
 *
 * Writing uses raw_data, which every ONNX reader accepts (string_data for string tensors; packed nibbles for
 * int4/uint4).
 */
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { allocate, bytesPerElement, dataTypeFromOnnxCode, isSubByte, ONNX_TYPE_CODES, type DataType, type TypedArray } from '../../tensor/dtype.js';
import { packedInt4Bytes, packInt4, unpackInt4 } from '../../tensor/int4.js';
import { MAX_ELEMENTS } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { LimitExceededError, ModelFormatError, UnsupportedModelError } from '../errors.js';
import { TensorDataType, tensorDataTypeName, type TensorProto } from './proto.js';

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Options for reading tensor data. */
export interface TensorReadOptions {
  /** Folder that external data locations are relative to; without it external data is refused. */
  externalDataFolder?: string;
  /** Receives one-line notes about lossless conversions (bfloat16 -> float32). */
  notes?: string[];
  /**
   * Byte budget checked from the declared dims before any allocation: one tensor may not exceed
   * `maxTensorBytes`, and the tensors read with the same budget object may not exceed `maxTotalBytes` together
   * (`usedBytes` accumulates). Refusals are LimitExceededError.
   */
  budget?: TensorByteBudget;
}

/** A byte budget shared by the tensors of one model (see TensorReadOptions.budget). */
export interface TensorByteBudget {
  readonly maxTensorBytes: number;
  readonly maxTotalBytes: number;
  /** What the tensors read so far hold (updated by tensorFromProto). */
  usedBytes: number;
  /** Name of the total limit for messages (e.g. 'maxPlanBytes'). */
  readonly totalName?: string;
}

/** The Tessera dtype a TensorProto data type becomes, or throws UnsupportedModelError naming it. */
export function dtypeOfCode(code: number, where: string): DataType {
  if (code === TensorDataType.BFLOAT16) return 'float32';
  const t = dataTypeFromOnnxCode(code);
  if (!t) {
    if (code === TensorDataType.UNDEFINED) throw new ModelFormatError(`${where}: data_type is not set`);
    throw new UnsupportedModelError(`${where}: data type ${tensorDataTypeName(code)} is not supported by Tessera`);
  }
  return t;
}

/** Convert a TensorProto to a Tensor (copying the data into an aligned typed array). */
export function tensorFromProto(tp: TensorProto, where: string, options: TensorReadOptions = {}): Tensor {
  const label = tp.name ? `${where} '${tp.name}'` : where;
  const type = dtypeOfCode(tp.dataType, label);
  if (tp.segment) throw new UnsupportedModelError(`${label}: segmented tensors are not supported`);
  let count = 1;
  for (const d of tp.dims) {
    count *= d;
    if (count > MAX_ELEMENTS) throw new ModelFormatError(`${label}: dims [${tp.dims.join(', ')}] have more than ${MAX_ELEMENTS} elements`);
  }
  const dims = [...tp.dims];
  const isBf16 = tp.dataType === TensorDataType.BFLOAT16;
  const budget = options.budget;
  if (budget) {
    // type is the widened dtype for bfloat16 (and int4/uint4 unpack to one byte each), so this is what will be allocated
    const bytes = count * bytesPerElement(type);
    const what = `${label}: ${type} [${tp.dims.join(', ')}] needs ${bytes} bytes`;
    if (bytes > budget.maxTensorBytes) throw new LimitExceededError(`${what}; maxTensorBytes is ${budget.maxTensorBytes}`, bytes, budget.maxTensorBytes);
    if (budget.usedBytes + bytes > budget.maxTotalBytes) {
      throw new LimitExceededError(
        `${what}, making ${budget.usedBytes + bytes} bytes of tensors in the model; ${budget.totalName ?? 'the limit'} is ${budget.maxTotalBytes}`,
        budget.usedBytes + bytes,
        budget.maxTotalBytes,
      );
    }
    budget.usedBytes += bytes;
  }
  if (isBf16) options.notes?.push(`${label}: bfloat16 data widened to float32`);
  if (type === 'string') return stringTensorFromProto(tp, count, dims, label);
  if (isSubByte(type)) return int4TensorFromProto(tp, type, count, dims, label, options);

  let raw = tp.rawData;
  if (tp.dataLocation === 1) raw = readExternal(tp, label, count * (isBf16 ? 2 : bytesPerElement(type)), options);
  if (raw !== undefined && (raw.length > 0 || count === 0 || !hasTypedField(tp))) {
    return new Tensor(type, fromRaw(raw, type, isBf16, count, label), dims);
  }
  if (count === 0) return new Tensor(type, allocate(type, 0) as TypedArray, dims);
  return new Tensor(type, fromTypedFields(tp, type, isBf16, count, label), dims);
}

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** A string tensor from string_data (each entry UTF-8 bytes); external or raw data are malformed for strings. */
function stringTensorFromProto(tp: TensorProto, count: number, dims: number[], label: string): Tensor {
  if (tp.dataLocation === 1) throw new ModelFormatError(`${label}: string tensors cannot use external data`);
  if (tp.rawData !== undefined && tp.rawData.length > 0) throw new ModelFormatError(`${label}: string tensors keep their values in string_data, not raw_data`);
  const src = tp.stringData ?? [];
  if (src.length !== count) throw new ModelFormatError(`${label}: string_data has ${src.length} values; dims [${tp.dims.join(', ')}] need ${count}`);
  return new Tensor('string', src.map((b) => utf8Decoder.decode(b)), dims);
}

/** An int4/uint4 tensor from packed nibbles in raw_data (or external data) or int32_data (one packed byte per entry). */
function int4TensorFromProto(tp: TensorProto, type: 'int4' | 'uint4', count: number, dims: number[], label: string, options: TensorReadOptions): Tensor {
  const bytes = packedInt4Bytes(count);
  let raw = tp.rawData;
  if (tp.dataLocation === 1) raw = readExternal(tp, label, bytes, options);
  let packed: Uint8Array;
  if (raw !== undefined && (raw.length > 0 || count === 0 || !hasTypedField(tp))) {
    if (raw.length !== bytes) throw new ModelFormatError(`${label}: raw_data has ${raw.length} bytes; ${count} ${type} values packed two per byte need ${bytes}`);
    packed = raw;
  } else {
    const src = tp.int32Data;
    if (!src) {
      if (count === 0) return new Tensor(type, allocate(type, 0) as TypedArray, dims);
      throw new ModelFormatError(`${label}: ${count} ${type} values expected in raw_data or int32_data, found none`);
    }
    if (src.length !== bytes) throw new ModelFormatError(`${label}: int32_data has ${src.length} values; ${count} ${type} values packed two per entry need ${bytes}`);
    packed = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) packed[i] = src[i]! & 0xff;
  }
  return new Tensor(type, unpackInt4(packed, count, type === 'int4'), dims);
}

function hasTypedField(tp: TensorProto): boolean {
  return !!(tp.floatData?.length || tp.int32Data?.length || tp.int64Data?.length || tp.doubleData?.length || tp.uint64Data?.length);
}

function fromRaw(raw: Uint8Array, type: DataType, isBf16: boolean, count: number, label: string): TypedArray {
  const width = isBf16 ? 2 : bytesPerElement(type);
  if (raw.length !== count * width) {
    throw new ModelFormatError(`${label}: raw_data has ${raw.length} bytes; ${count} elements of ${isBf16 ? 'bfloat16' : type} need ${count * width}`);
  }
  if (isBf16) {
    const out = new Float32Array(count);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = (raw[2 * i]! | (raw[2 * i + 1]! << 8)) << 16;
    return out;
  }
  const out = allocate(type, count) as TypedArray;
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  bytes.set(raw);
  if (!LE && width > 1) swapBytes(bytes, width);
  if (type === 'bool') {
    const b = out as Uint8Array;
    for (let i = 0; i < count; i++) b[i] = b[i] ? 1 : 0;
  }
  return out;
}

function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
}

function fromTypedFields(tp: TensorProto, type: DataType, isBf16: boolean, count: number, label: string): TypedArray {
  const check = (n: number, field: string): void => {
    if (n !== count) throw new ModelFormatError(`${label}: ${field} has ${n} values; dims [${tp.dims.join(', ')}] need ${count}`);
  };
  const missing = (field: string): never => {
    throw new ModelFormatError(`${label}: ${count} elements of ${type} expected in raw_data or ${field}, found none`);
  };
  if (isBf16) {
    const src = tp.int32Data ?? missing('int32_data');
    check(src.length, 'int32_data');
    const out = new Float32Array(count);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = (src[i]! & 0xffff) << 16;
    return out;
  }
  switch (type) {
    case 'float32': {
      const src = tp.floatData ?? missing('float_data');
      check(src.length, 'float_data');
      return Float32Array.from(src);
    }
    case 'float64': {
      const src = tp.doubleData ?? missing('double_data');
      check(src.length, 'double_data');
      return Float64Array.from(src);
    }
    case 'int64': {
      const src = tp.int64Data ?? missing('int64_data');
      check(src.length, 'int64_data');
      return BigInt64Array.from(src);
    }
    case 'uint32': {
      const src = tp.uint64Data ?? missing('uint64_data');
      check(src.length, 'uint64_data');
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(BigInt.asUintN(32, src[i]!));
      return out;
    }
    default: {
      // int32, int16, uint16, int8, uint8, bool, float16: all stored in int32_data
      const src = tp.int32Data ?? missing('int32_data');
      check(src.length, 'int32_data');
      const out = allocate(type, count) as Exclude<TypedArray, BigInt64Array>;
      if (type === 'bool') for (let i = 0; i < count; i++) out[i] = src[i] ? 1 : 0;
      else for (let i = 0; i < count; i++) out[i] = src[i]!; // typed-array stores wrap like C casts
      return out;
    }
  }
}

function readExternal(tp: TensorProto, label: string, expectBytes: number, options: TensorReadOptions): Uint8Array {
  const entries = new Map(tp.externalData.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location) throw new ModelFormatError(`${label}: data_location is EXTERNAL but external_data has no 'location'`);
  const folder = options.externalDataFolder;
  if (!folder) throw new ModelFormatError(`${label}: external data '${location}' needs the model's folder; load the model from a path`);
  if (isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.includes('\0')) {
    throw new ModelFormatError(`${label}: external data location '${location}' must be a relative path inside the model's folder`);
  }
  const norm = normalize(location);
  if (norm === '..' || norm.startsWith(`..${sep}`) || norm.split(/[\\/]/).includes('..')) {
    throw new ModelFormatError(`${label}: external data location '${location}' escapes the model's folder`);
  }
  let file: string;
  let root: string;
  try {
    root = realpathSync(folder);
    file = realpathSync(join(folder, norm));
  } catch {
    throw new ModelFormatError(`${label}: external data file '${location}' not found next to the model`);
  }
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new ModelFormatError(`${label}: external data location '${location}' resolves outside the model's folder`);
  }
  const parseNum = (key: string, dflt: number): number => {
    const s = entries.get(key);
    if (s === undefined) return dflt;
    if (!/^\d+$/.test(s)) throw new ModelFormatError(`${label}: external data ${key} '${s}' is not a non-negative integer`);
    return Number(s);
  };
  const size = statSync(file).size;
  const offset = parseNum('offset', 0);
  const length = parseNum('length', size - offset);
  if (offset > size || length > size - offset) {
    throw new ModelFormatError(`${label}: external data [${offset}, ${offset + length}) lies beyond the end of '${location}' (${size} bytes)`);
  }
  if (length !== expectBytes) throw new ModelFormatError(`${label}: external data has ${length} bytes; the dims need ${expectBytes}`);
  const out = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n <= 0) throw new ModelFormatError(`${label}: external data file '${location}' ended early`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Encode a Tensor as a TensorProto with little-endian raw_data. */
export function tensorToProto(t: Tensor, name = ''): TensorProto {
  if (t.type === 'string') {
    const strings = (t.data as string[]).map((s) => utf8Encoder.encode(s));
    return { dims: [...t.dims], dataType: ONNX_TYPE_CODES.string, name, stringData: strings, dataLocation: 0, externalData: [] };
  }
  if (isSubByte(t.type)) {
    return { dims: [...t.dims], dataType: ONNX_TYPE_CODES[t.type], name, rawData: packInt4(t.data as Int8Array | Uint8Array, t.type === 'int4'), dataLocation: 0, externalData: [] };
  }
  const data = t.data as TypedArray;
  const bytes = new Uint8Array(data.byteLength);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (!LE && bytesPerElement(t.type) > 1) swapBytes(bytes, bytesPerElement(t.type));
  return { dims: [...t.dims], dataType: ONNX_TYPE_CODES[t.type], name, rawData: bytes, dataLocation: 0, externalData: [] };
}
