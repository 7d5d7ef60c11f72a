/**
 * Plain-loop reference of the int4 blocked quantizer in ./int4.ts (`quantizeInt4Blocked`), written the obvious
 * way so the property tests can compare: every weight finds its block's largest magnitude by scanning that block
 * from scratch, rounds with the textbook half-to-even, and clamps. Slow by design; never used by the passes.
 */
import { roundHalfEvenReference } from './reference.js';

/** Reference of quantizeInt4Blocked: codes [K * N] row-major, scales [ceil(K / blockSize) * N] row-major. */
export function refQuantizeInt4Blocked(b: ArrayLike<number>, k: number, n: number, blockSize: number): { codes: number[]; scales: number[] } {
  const blocks = Math.ceil(k / blockSize);
  const scales: number[] = [];
  for (let blk = 0; blk < blocks; blk++) {
    for (let c = 0; c < n; c++) {
      let amax = 0;
      for (let r = blk * blockSize; r < Math.min(k, (blk + 1) * blockSize); r++) amax = Math.max(amax, Math.abs(b[r * n + c]!));
      const s = Math.fround(amax / 7);
      // a zero block (or one whose scale would be subnormal) gets scale 1
      scales.push(s < 2 ** -126 ? 1 : s);
    }
  }
  const codes: number[] = [];
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const s = scales[Math.floor(r / blockSize) * n + c]!;
      codes.push(Math.min(7, Math.max(-7, roundHalfEvenReference(Math.fround(b[r * n + c]! / s)))));
    }
  }
  return { codes, scales };
}
