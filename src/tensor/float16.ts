/**
 * float16 codec. Tensors keep half floats as their raw 16 bits in a Uint16Array.
 *
 * Decoding goes through a 65,536-entry Float32Array lookup table built once (0.25 MiB): one load per element,
 * as fast as reading a Float32Array. Encoding uses @petamoriken/float16's `setFloat16`, which rounds to the
 * nearest half with ties to even and handles subnormals, infinities and NaN.
 */
import { setFloat16 } from '@petamoriken/float16';

let table: Float32Array | undefined;

/** Exact float32 value of half-precision bits `h` (no table). */
export function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The 65,536-entry decode table (built on first use). */
export function float16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfBitsToNumber(h);
  }
  return table;
}

/** Decode half bits in bulk into a new (or the given) Float32Array. */
export function decodeFloat16(bits: Uint16Array, out?: Float32Array): Float32Array {
  const t = float16Table();
  const n = bits.length;
  const dst = out ?? new Float32Array(n);
  for (let i = 0; i < n; i++) dst[i] = t[bits[i]!]!;
  return dst;
}

const scratch = new DataView(new ArrayBuffer(2));

/** Half bits nearest to `x` (round half to even). */
export function numberToHalfBits(x: number): number {
  setFloat16(scratch, 0, x, true);
  return scratch.getUint16(0, true);
}

/** Encode numbers to half bits in bulk, with correct rounding. */
export function encodeFloat16(values: ArrayLike<number>, out?: Uint16Array): Uint16Array {
  const n = values.length;
  const dst = out ?? new Uint16Array(n);
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let i = 0; i < n; i++) setFloat16(view, i * 2, values[i]!, true);
  return dst;
}
