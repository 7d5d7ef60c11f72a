/**
 * The 4-bit codec: int4 / uint4 values packed two per byte, as ONNX stores them (onnx.proto3 TensorProto:
 * "the first element is stored in the 4 LSB and the second element is stored in the 4 MSB"). Element i lives
 * in byte i >> 1, in the low nibble when i is even and in the high nibble when i is odd; an odd count leaves
 * the last high nibble zero. int4 nibbles are two's complement: 0..7 are 0..7, 8..15 are -8..-1.
 *
 * Tensors of dtype int4/uint4 hold one value per byte (./dtype.ts); this codec packs them for files and for the
 * fused int4 weight kernels, which keep their weights packed in memory (src/kernels/cpu/int4-matmul.ts).
 * Cost: one pass over the values, ceil(n / 2) bytes out.
 */
import { TensorError } from './errors.js';

/** Bytes that `count` 4-bit values take packed: ceil(count / 2). */
export function packedInt4Bytes(count: number): number {
  return Math.ceil(count / 2);
}

/**
 * Pack 4-bit values (int4 in [-8, 7] when `signed`, uint4 in [0, 15] otherwise) two per byte, first element in
 * the low nibble. Values out of range are refused with their index.
 */
export function packInt4(values: ArrayLike<number>, signed: boolean): Uint8Array {
  const n = values.length;
  const [lo, hi] = signed ? [-8, 7] : [0, 15];
  const out = new Uint8Array(packedInt4Bytes(n));
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!(v >= lo && v <= hi) || v !== Math.trunc(v)) {
      throw new TensorError(`packInt4: element ${i} is ${v}; ${signed ? 'int4' : 'uint4'} values are integers in [${lo}, ${hi}]`);
    }
    out[i >> 1]! |= (v & 15) << ((i & 1) << 2);
  }
  return out;
}

/**
 * Unpack `count` 4-bit values from `bytes` (at least ceil(count / 2) of them): an Int8Array of values in
 * [-8, 7] when `signed` (nibbles read as two's complement), else a Uint8Array of values in [0, 15].
 */
export function unpackInt4(bytes: Uint8Array, count: number, signed: true): Int8Array;
export function unpackInt4(bytes: Uint8Array, count: number, signed: false): Uint8Array;
export function unpackInt4(bytes: Uint8Array, count: number, signed: boolean): Int8Array | Uint8Array;
export function unpackInt4(bytes: Uint8Array, count: number, signed: boolean): Int8Array | Uint8Array {
  if (bytes.length < packedInt4Bytes(count)) {
    throw new TensorError(`unpackInt4: ${bytes.length} bytes hold at most ${2 * bytes.length} values; ${count} requested`);
  }
  const out = signed ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const nib = (bytes[i >> 1]! >> ((i & 1) << 2)) & 15;
    // (nib ^ 8) - 8 maps 8..15 to -8..-1 and keeps 0..7
    out[i] = signed ? (nib ^ 8) - 8 : nib;
  }
  return out;
}

/** The 4-bit value at element `i` of packed `bytes` (two's complement when `signed`). */
export function int4At(bytes: Uint8Array, i: number, signed: boolean): number {
  const nib = (bytes[i >> 1]! >> ((i & 1) << 2)) & 15;
  return signed ? (nib ^ 8) - 8 : nib;
}
