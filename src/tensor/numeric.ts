/**
 * Scalar numeric conversions shared by kernels and the quantization passes: rounding half to even and
 * saturation to an integer type's range, as ONNX's QuantizeLinear defines them.
 */
import type { DataType } from './dtype.js';

/** Round to the nearest integer, ties to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties toward +infinity
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** [min, max] of an integer dtype (int64 limited to the safe-integer range). */
export function integerRange(type: DataType): readonly [number, number] {
  switch (type) {
    case 'int8':
      return [-128, 127];
    case 'uint8':
    case 'bool':
      return [0, 255];
    case 'int4':
      return [-8, 7];
    case 'uint4':
      return [0, 15];
    case 'int16':
      return [-32768, 32767];
    case 'uint16':
      return [0, 65535];
    case 'int32':
      return [-2147483648, 2147483647];
    case 'uint32':
      return [0, 4294967295];
    default:
      return [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
  }
}

/** Clamp `v` into [lo, hi]. */
export function saturate(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
