/**
 * MatMulInteger's int8 SIMD path (a 2-D int8 B without zero point, A uint8/int8 with one zero point; see
 * matMulIntegerInt8 in src/kernels/cpu/quantize.ts) against the plain reference, exactly: random shapes
 * including K and N not multiples of the GEMM tile, batched A, extreme codes, B given as a graph constant (its
 * packed panels are cached) and as a per-call value whose bytes change between calls (must not hit the cache).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import { refIntegerMatmul2D } from '../../src/kernels/cpu/reference/quantize.js';
import { runOp } from '../../src/ops/dispatch.js';
import { Tensor } from '../../src/tensor/tensor.js';

function ints(n: number, lo: number, hi: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => lo + ((s = (s * 1103515245 + 12345) >>> 0) % (hi - lo + 1)));
}

describe('MatMulInteger int8 path', () => {
  it('equals the reference exactly on random shapes, batched A, extreme codes, both A types', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 21 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1e6 }),
        (m, k, n, batch, signedA, seed) => {
          const aVals = ints(batch * m * k, signedA ? -128 : 0, signedA ? 127 : 255, seed);
          if (seed % 5 === 0) aVals.fill(signedA ? -128 : 255); // extreme
          const a = signedA ? new Tensor('int8', Int8Array.from(aVals), [batch, m, k]) : new Tensor('uint8', Uint8Array.from(aVals), [batch, m, k]);
          const b = new Tensor('int8', Int8Array.from(ints(k * n, -128, 127, seed + 1)), [k, n]);
          const zp = signedA ? new Tensor('int8', new Int8Array([seed % 7 - 3]), []) : new Tensor('uint8', new Uint8Array([seed % 256]), []);
          const got = runOp('MatMulInteger', [a, b, zp], {}, { constantInputs: [false, true, true] })[0]!;
          expect(got.dims).toEqual([batch, m, n]);
          const want: number[] = [];
          for (let i = 0; i < batch; i++) want.push(...refIntegerMatmul2D(new Tensor(a.type, (a.data as Int8Array).slice(i * m * k, (i + 1) * m * k), [m, k]), b, zp, undefined));
          expect(Array.from(got.data as Int32Array)).toEqual(want);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a B that is not a constant is packed per call: new bytes in the same array give new results', () => {
    const a = new Tensor('uint8', Uint8Array.from(ints(3 * 40, 0, 255, 9)), [3, 40]);
    const bData = Int8Array.from(ints(40 * 12, -128, 127, 10));
    const b = new Tensor('int8', bData, [40, 12]);
    const first = Array.from(runOp('MatMulInteger', [a, b], {})[0]!.data as Int32Array);
    expect(first).toEqual(refIntegerMatmul2D(a, b, undefined, undefined));
    bData.set(Int8Array.from(ints(40 * 12, -128, 127, 11)));
    const second = Array.from(runOp('MatMulInteger', [a, b], {})[0]!.data as Int32Array);
    expect(second).toEqual(refIntegerMatmul2D(a, b, undefined, undefined));
    expect(second).not.toEqual(first);
  });
});
