import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/conv.js';
import { averagePool, globalAveragePool, globalLpPool, globalMaxPool, lpPool, maxPool, maxPoolWithIndices, type AutoPad } from '../../src/ops/conv.js';
import { runOp } from '../../src/ops/dispatch.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { fromNumbers, type Tensor } from '../../src/tensor/tensor.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { refGlobalPool, refPool, type PoolKind } from '../../src/kernels/cpu/reference/conv.js';
import { expectBitwise, expectClose, nonContiguous, randomTensor } from '../util/tensors.js';

/** Elements of a non-int64 tensor as numbers. */
const vals = (t: Tensor): number[] => Array.from(t.numbers() as ArrayLike<number>);

const AUTO_PADS: readonly AutoPad[] = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** Test-side restatement of the SAME/VALID padding rule (Operators.md). */
function resolvePads(auto: AutoPad, spatial: number[], kernel: number[], strides: number[], dilations: number[], pads: number[]): number[] {
  const r = spatial.length;
  if (auto === 'NOTSET') return pads;
  if (auto === 'VALID') return new Array<number>(2 * r).fill(0);
  const out = new Array<number>(2 * r);
  for (let i = 0; i < r; i++) {
    const o = Math.ceil(spatial[i]! / strides[i]!);
    const total = Math.max(0, (o - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
    out[i] = auto === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    out[r + i] = total - out[i]!;
  }
  return out;
}

interface PoolCase {
  kind: PoolKind;
  dtype: DataType;
  n: number;
  c: number;
  spatial: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: AutoPad;
  ceilMode: boolean;
  countIncludePad: boolean;
  p: number;
  storageOrder: number;
  strided: boolean;
  seed: number;
}

function arbPoolCase(): fc.Arbitrary<PoolCase> {
  return fc.tuple(fc.integer({ min: 1, max: 3 }), fc.constantFrom<PoolKind>('max', 'average', 'lp')).chain(([rank, kind]) => {
    const maxDim = rank === 3 ? 5 : 6;
    const axis = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: rank, maxLength: rank });
    const dtypes: DataType[] = kind === 'max' ? ['float32', 'float64', 'float16', 'int8', 'uint8'] : ['float32', 'float64', 'float16'];
    return fc.record({
      kind: fc.constant(kind),
      dtype: fc.constantFrom(...dtypes),
      n: fc.integer({ min: 0, max: 2 }),
      c: fc.integer({ min: 0, max: 3 }),
      spatial: axis(fc.oneof(fc.constant(1), fc.integer({ min: 0, max: maxDim }))),
      kernel: axis(fc.integer({ min: 1, max: 3 })),
      strides: axis(fc.integer({ min: 1, max: 3 })),
      dilations: axis(fc.integer({ min: 1, max: 2 })),
      pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2 * rank, maxLength: 2 * rank }),
      autoPad: fc.constantFrom(...AUTO_PADS),
      ceilMode: fc.boolean(),
      countIncludePad: fc.boolean(),
      p: fc.constantFrom(1, 2, 3),
      storageOrder: fc.constantFrom(0, 1),
      strided: fc.boolean(),
      seed: fc.integer({ min: 1, max: 1 << 30 }),
    });
  });
}

const OP: Record<PoolKind, string> = { max: 'MaxPool', average: 'AveragePool', lp: 'LpPool' };

function poolAttrs(c: PoolCase) {
  const a: Record<string, number | string | number[]> = {
    kernel_shape: c.kernel,
    strides: c.strides,
    dilations: c.dilations,
    pads: c.pads,
    auto_pad: c.autoPad,
    ceil_mode: c.ceilMode ? 1 : 0,
  };
  if (c.kind === 'average') a['count_include_pad'] = c.countIncludePad ? 1 : 0;
  if (c.kind === 'lp') a['p'] = c.p;
  if (c.kind === 'max') a['storage_order'] = c.storageOrder;
  return a;
}

function tolerance(dtype: DataType): { rtol: number; atol: number } {
  return dtype === 'float16' ? { rtol: 2e-3, atol: 1e-3 } : dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 };
}

describe('MaxPool, AveragePool, LpPool', () => {
  it('match the naive pooling loops on random shapes, strides, dilations, pads, auto_pad and ceil_mode', () => {
    fc.assert(
      fc.property(arbPoolCase(), (c) => {
        const x = randomTensor(c.dtype, [c.n, c.c, ...c.spatial], c.seed, c.dtype.includes('int') ? 100 : 1);
        const pads = resolvePads(c.autoPad, c.spatial, c.kernel, c.strides, c.dilations, c.pads);
        const r = c.spatial.length;
        const fits = c.spatial.every((d, i) => d + pads[i]! + pads[r + i]! >= (c.kernel[i]! - 1) * c.dilations[i]! + 1);
        const input = c.strided ? nonContiguous(x) : x;
        const numOutputs = c.kind === 'max' ? 2 : 1;
        if (!fits) {
          expect(() => runOp(OP[c.kind], [input], poolAttrs(c), { numOutputs })).toThrow(/larger than the padded input/);
          return;
        }
        const got = runOp(OP[c.kind], [input], poolAttrs(c), { numOutputs });
        const want = refPool(c.kind, x, {
          kernelShape: c.kernel,
          strides: c.strides,
          dilations: c.dilations,
          pads,
          ceilMode: c.ceilMode,
          countIncludePad: c.countIncludePad,
          p: c.p,
          storageOrder: c.storageOrder,
        });
        expectClose(got[0]!, want.y, tolerance(c.dtype));
        if (c.kind === 'max') {
          expectClose(got[1]!, want.indices, { rtol: 0, atol: 0, label: 'indices' });
          // the single-output form gives the same values
          expectBitwise(runOp('MaxPool', [input], poolAttrs(c))[0]!, got[0]!);
        }
      }),
      { numRuns: 250 },
    );
  });

  it('computes the Operators.md examples', () => {
    const x16 = fromNumbers('float32', Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    expect(vals(averagePool(x16, { kernelShape: [3, 3], strides: [2, 2], ceilMode: true }))).toEqual([6, 7.5, 12, 13.5]);
    expect(vals(maxPool(x16, { kernelShape: [3, 3], strides: [2, 2], ceilMode: true }))).toEqual([11, 12, 15, 16]);
    expect(vals(averagePool(x16, { kernelShape: [2, 2], dilations: [2, 2], ceilMode: true }))).toEqual([6, 7, 10, 11]);
    const x25 = fromNumbers('float32', Array.from({ length: 25 }, (_, i) => i + 1), [1, 1, 5, 5]);
    const included = averagePool(x25, { kernelShape: [5, 5], pads: [2, 2, 2, 2], countIncludePad: true });
    expectClose(included, fromNumbers('float32', [
      2.52, 3.6, 4.8, 4.08, 3.24, 4.56, 6.4, 8.4, 7.04, 5.52, 7.2, 10, 13, 10.8, 8.4, 6.96, 9.6, 12.4, 10.24, 7.92, 6.12, 8.4, 10.8, 8.88, 6.84,
    ], [1, 1, 5, 5]));
    const excluded = averagePool(x25, { kernelShape: [5, 5], pads: [2, 2, 2, 2] });
    expect(vals(excluded).slice(0, 5)).toEqual([7, 7.5, 8, 8.5, 9]);
    expect(vals(averagePool(x25, { kernelShape: [3, 3], strides: [2, 2], autoPad: 'SAME_UPPER' }))).toEqual([4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22]);
    expect(vals(maxPool(x25, { kernelShape: [3, 3], strides: [2, 2], autoPad: 'SAME_UPPER' }))).toEqual([7, 9, 10, 17, 19, 20, 22, 24, 25]);
    const { values, indices } = maxPoolWithIndices(x25, { kernelShape: [2, 2], strides: [2, 2], storageOrder: 1 });
    expect(vals(values)).toEqual([7, 9, 17, 19]);
    expect(Array.from(indices.data as BigInt64Array)).toEqual([6n, 16n, 8n, 18n]);
    const rowMajor = maxPoolWithIndices(x25, { kernelShape: [2, 2], strides: [2, 2] });
    expect(Array.from(rowMajor.indices.data as BigInt64Array)).toEqual([6n, 8n, 16n, 18n]);
    // the last window would start in the end padding: dropped, and the divisor counts the 9 padded taps
    const x4 = fromNumbers('float32', [0.858, 0.0786, 0.2692, 0.1537], [1, 1, 2, 2]);
    const last = averagePool(x4, { kernelShape: [3, 3], strides: [3, 3], pads: [1, 1, 1, 1], ceilMode: true, countIncludePad: true });
    expect([...last.dims]).toEqual([1, 1, 1, 1]);
    expectClose(last, fromNumbers('float32', [(0.858 + 0.0786 + 0.2692 + 0.1537) / 9], [1, 1, 1, 1]));
    // LpPool p = 2 over a 1-D window
    const x3 = fromNumbers('float32', [3, 4, 12], [1, 1, 3]);
    expectClose(lpPool(x3, { kernelShape: [2], p: 2 }), fromNumbers('float32', [5, Math.hypot(4, 12)], [1, 1, 2]));
    // uint8 max pooling keeps the dtype
    const u8 = fromNumbers('uint8', [1, 200, 3, 4], [1, 1, 2, 2]);
    const pooled = maxPool(u8, { kernelShape: [2, 2] });
    expect(pooled.type).toBe('uint8');
    expect(vals(pooled)).toEqual([200]);
  });

  it('skips NaN in max pooling unless the window holds nothing else', () => {
    const x = fromNumbers('float32', [NaN, 2, NaN, NaN, -Infinity, -Infinity], [1, 1, 6]);
    const { values, indices } = maxPoolWithIndices(x, { kernelShape: [2], strides: [2] });
    expect(vals(values)).toEqual([2, NaN, -Infinity]);
    expect(Array.from(indices.data as BigInt64Array)).toEqual([1n, 2n, 4n]);
  });

  it('rejects bad input naming the op, the input and the shapes', () => {
    const x = randomTensor('float32', [1, 2, 5, 5]);
    const bad = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(OpValidationError);
      expect(f).toThrow(re);
    };
    bad(() => runOp('MaxPool', [x], {}), /MaxPool: attribute 'kernel_shape' is required/);
    bad(() => maxPool(x, { kernelShape: [2] }), /MaxPool: attribute 'kernel_shape' \[2\] has 1 dims; input 'X' \[1, 2, 5, 5\] has 2 spatial dims/);
    bad(() => maxPool(x, { kernelShape: [6, 2] }), /MaxPool: kernel extent 6 .* larger than the padded input 5/);
    bad(() => averagePool(x, { kernelShape: [2, 2], pads: [1, 1, 1] }), /AveragePool: attribute 'pads' has 3 values/);
    bad(() => averagePool(x, { kernelShape: [2, 2], autoPad: 'same_upper' as AutoPad }), /auto_pad' is 'same_upper'/);
    bad(() => runOp('MaxPool', [x], { kernel_shape: [2, 2], storage_order: 2 }), /storage_order' is 2/);
    bad(() => runOp('AveragePool', [x], { kernel_shape: [2, 2], count_include_pad: 3 }), /count_include_pad' is 3/);
    bad(() => runOp('AveragePool', [x], { kernel_shape: [2, 2], ceil_mode: 2 }), /ceil_mode' is 2/);
    bad(() => lpPool(x, { kernelShape: [2, 2], p: 0 }), /LpPool: attribute 'p' is 0/);
    bad(() => averagePool(randomTensor('int8', [1, 2, 5, 5]), { kernelShape: [2, 2] }), /AveragePool: input 0 'X' has type int8/);
    bad(() => maxPool(randomTensor('float32', [2, 5]), { kernelShape: [2] }), /input 'X' has shape \[2, 5\] \(rank 2\); expected rank >= 3/);
    bad(() => runOp('MaxPool', [x], { kernel_shape: [2, 2] }, { numOutputs: 2, opset: 7 }), /Indices output exists from opset 8/);
    bad(() => globalAveragePool(randomTensor('float32', [2, 5])), /GlobalAveragePool: input 'X' has shape \[2, 5\]/);
  });

  it('handles 4 spatial axes through the reference fallback', () => {
    const x = randomTensor('float32', [1, 2, 3, 3, 2, 3], 21);
    const a = { kernelShape: [2, 2, 1, 2], strides: [1, 2, 1, 1], dilations: [1, 1, 1, 1], pads: [0, 1, 0, 0, 1, 0, 0, 1] };
    const { values, indices } = maxPoolWithIndices(x, a);
    const want = refPool('max', x, a);
    expectClose(values, want.y);
    expectClose(indices, want.indices, { rtol: 0, atol: 0 });
    expectClose(averagePool(x, a), refPool('average', x, a).y);
  });

  it('accepts every opset form of the attributes (LpPool-1 float p, legacy pools without dilations)', () => {
    const x = randomTensor('float32', [1, 1, 4, 4], 3);
    const y = runOp('LpPool', [x], { kernel_shape: [2, 2], p: 2.5 }, { opset: 1 })[0]!;
    expectClose(y, refPool('lp', x, { kernelShape: [2, 2], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], p: 2.5 }).y);
    const a = runOp('AveragePool', [x], { kernel_shape: [2, 2], pads: [0, 0, 0, 0], strides: [2, 2] }, { opset: 1 })[0]!;
    expect([...a.dims]).toEqual([1, 1, 2, 2]);
  });
});

describe('GlobalAveragePool, GlobalMaxPool, GlobalLpPool', () => {
  it('match the reference on random shapes (1-3 spatial axes, size 0 and 1), contiguous or not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }).chain((rank) =>
          fc.record({
            kind: fc.constantFrom<PoolKind>('max', 'average', 'lp'),
            dtype: fc.constantFrom<DataType>('float32', 'float64', 'float16'),
            dims: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: rank + 2, maxLength: rank + 2 }),
            p: fc.constantFrom(1, 2, 3),
            strided: fc.boolean(),
            seed: fc.integer({ min: 1, max: 1 << 30 }),
          }),
        ),
        (c) => {
          const x = randomTensor(c.dtype, c.dims, c.seed);
          const input = c.strided ? nonContiguous(x) : x;
          let got: Tensor;
          if (c.kind === 'max') got = globalMaxPool(input);
          else if (c.kind === 'average') got = globalAveragePool(input);
          else got = globalLpPool(input, c.p);
          expectClose(got, refGlobalPool(c.kind, x, c.p), tolerance(c.dtype));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('computes the Operators.md examples', () => {
    const x = fromNumbers('float32', [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    expect(vals(globalAveragePool(x))).toEqual([5]);
    expect(vals(globalMaxPool(x))).toEqual([9]);
    expect([...globalMaxPool(x).dims]).toEqual([1, 1, 1, 1]);
    expectClose(globalLpPool(fromNumbers('float64', [3, 4], [1, 1, 2])), fromNumbers('float64', [5], [1, 1, 1]));
  });
});
