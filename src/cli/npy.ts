/**
 * NumPy .npy files: read one into a Tensor, write a Tensor as one.
 *
 * Format (NEP 1, versions 1.0-3.0): the magic "\x93NUMPY", a major and minor version byte, the header length
 * (uint16 little-endian in 1.0, uint32 in 2.0/3.0), then the header: an ASCII (UTF-8 in 3.0) Python dict
 * literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a newline so the
 * data starts on a 64-byte boundary, then the raw elements. Reading accepts either byte order (big-endian data
 * is byte-swapped) and Fortran order (read as the reversed shape and transposed). Writing produces version 1.0
 * (2.0 when the header would not fit), little-endian, C order. Object arrays and structured dtypes are refused.
 */
import { TesseraError } from '../tensor/errors.js';
import { allocate, bytesPerElement, type DataType, type TypedArray, type TypedArrayDataType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy type character + size -> dtype. */
const FROM_DESCR: Readonly<Record<string, DataType>> = {
  f4: 'float32',
  f8: 'float64',
  f2: 'float16',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  b1: 'bool',
};

const TO_DESCR: Readonly<Record<TypedArrayDataType, string>> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  bool: '|b1',
  // numpy has no 4-bit dtype: int4/uint4 values (held one per byte) are written as int8/uint8
  int4: '|i1',
  uint4: '|u1',
};

/** A malformed or unsupported .npy file. */
export class NpyError extends TesseraError {
  constructor(message: string) {
    super(message);
    this.name = 'NpyError';
  }
}

/** Parse .npy bytes into a Tensor (a copy of the data). `where` names the file in errors. */
export function readNpy(bytes: Uint8Array, where = '.npy data'): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError(`${where}: not a .npy file (missing the \\x93NUMPY magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${where}: truncated header`);
    headerLength = view.getUint32(8, true);
    start = 12;
  } else throw new NpyError(`${where}: .npy version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are)`);
  if (start + headerLength > bytes.length) throw new NpyError(`${where}: the header runs past the end of the file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(`${where}: cannot parse the header ${JSON.stringify(header.trim())}`);
  const order = descr[0]!;
  const type = FROM_DESCR[descr.slice(1)];
  if (!type || !'<>|='.includes(order)) {
    throw new NpyError(`${where}: dtype '${descr}' is not supported; supported: ${Object.values(TO_DESCR).join(', ')} (either byte order)`);
  }
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(d) || d < 0) throw new NpyError(`${where}: bad dimension '${s}' in shape (${shapeText})`);
      return d;
    });
  const size = dims.reduce((a, b) => a * b, 1);
  const width = bytesPerElement(type);
  const dataStart = start + headerLength;
  if (bytes.length - dataStart < size * width) {
    throw new NpyError(`${where}: shape (${dims.join(', ')}) of ${descr} needs ${size * width} data bytes; the file has ${bytes.length - dataStart}`);
  }
  const raw = bytes.slice(dataStart, dataStart + size * width);
  if (order === '>' && width > 1) swapBytes(raw, width);
  const data = allocate(type, size) as TypedArray;
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(raw);
  if (type === 'bool') for (let i = 0; i < size; i++) (data as Uint8Array)[i] = (data as Uint8Array)[i] ? 1 : 0;
  if (fortran === 'True' && dims.length > 1) {
    const reversed = new Tensor(type, data, [...dims].reverse());
    const t = reversed.transpose();
    const out = new Tensor(type, t.data.slice() as TypedArray, dims);
    t.dispose();
    reversed.dispose();
    return out;
  }
  return new Tensor(type, data, dims);
}

/** Encode a tensor as .npy bytes (version 1.0, little-endian, C order). */
export function writeNpy(t: Tensor): Uint8Array {
  if (t.type === 'string') throw new NpyError('writeNpy: string tensors cannot be written as .npy (no fixed-width dtype)');
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  const dict = `{'descr': '${TO_DESCR[t.type]}', 'fortran_order': False, 'shape': ${shape}, }`;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const headerLength = total - prefix;
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  const data = t.data as unknown as ArrayBufferView;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = prefix === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (prefix === 10) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  if (!littleEndianHost() && bytesPerElement(t.type) > 1) swapBytes(out.subarray(total), bytesPerElement(t.type));
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const tmp = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = tmp;
    }
  }
}

function littleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
