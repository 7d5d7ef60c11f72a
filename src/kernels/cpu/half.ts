/**
 * Fast float32 -> float16 encoding for kernel outputs, round to nearest even, exact for every float32 input.
 *
 * The shared encoder (src/tensor/float16.ts, through @petamoriken/float16's setFloat16) measured about 750 ns
 * an element here; this one works on the float32 bits and costs a few integer operations per element:
 * - |x| >= 2^-14 (normal halves): rebias the exponent by subtracting (127 - 15) << 23 and drop 13 mantissa bits
 *   with round-half-even (`(m + 0xfff + ((m >>> 13) & 1)) >>> 13`; a mantissa carry rolls into the exponent);
 * - |x| >= 65520 (0x477ff000, the midpoint past the largest half) -> Infinity; Inf stays Inf; NaN -> quiet NaN keeping the sign
 *   and the top payload bits;
 * - |x| < 2^-14 (subnormal halves): round |x| * 2^24 to an integer, ties to even (exact in doubles).
 * Only float32 values go through it: a double or a large integer would be rounded twice.
 * The default output buffer comes from `allocate` (a session's arena when one is active).
 */
import { allocate } from '../../tensor/dtype.js';

/** Half bits of every float32 in `values` (round to nearest even). */
export function float32ToHalfBits(values: Float32Array, out: Uint16Array = allocate('float16', values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i]!;
    const sign = (f >>> 16) & 0x8000;
    const abs = f & 0x7fffffff;
    let h: number;
    if (abs >= 0x38800000) {
      if (abs >= 0x7f800000) h = abs > 0x7f800000 ? 0x7e00 | ((abs >>> 13) & 0x3ff) : 0x7c00;
      else if (abs >= 0x477ff000) h = 0x7c00;
      else {
        const m = abs - 0x38000000;
        h = (m + 0xfff + ((m >>> 13) & 1)) >>> 13;
      }
    } else {
      const q = Math.abs(values[i]!) * 16777216;
      let r = Math.round(q);
      if (r - q === 0.5 && (r & 1) === 1) r -= 1;
      h = r;
    }
    out[i] = sign | h;
  }
  return out;
}
