import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/conv.js';
import { conv, convTranspose, type AutoPad } from '../../src/ops/conv.js';
import { runOp } from '../../src/ops/dispatch.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor, fromNumbers } from '../../src/tensor/tensor.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { im2col, col2im } from '../../src/kernels/cpu/im2col.js';
import { refConv, refConvTranspose } from '../../src/kernels/cpu/reference/conv.js';
import { expectBitwise, expectClose, nonContiguous, randomTensor } from '../util/tensors.js';

const AUTO_PADS: readonly AutoPad[] = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** Test-side restatement of the SAME/VALID padding rule (Operators.md), independent of src/ops/conv.ts. */
function resolvePads(auto: AutoPad, spatial: number[], kernel: number[], strides: number[], dilations: number[], pads: number[]): number[] {
  const r = spatial.length;
  if (auto === 'NOTSET') return pads;
  if (auto === 'VALID') return new Array<number>(2 * r).fill(0);
  const out = new Array<number>(2 * r);
  for (let i = 0; i < r; i++) {
    const o = Math.ceil(spatial[i]! / strides[i]!);
    const total = Math.max(0, (o - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
    const begin = auto === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    out[i] = begin;
    out[r + i] = total - begin;
  }
  return out;
}

interface ConvCase {
  dtype: DataType;
  n: number;
  group: number;
  cPerGroup: number;
  mPerGroup: number;
  spatial: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: AutoPad;
  withBias: boolean;
  strided: boolean;
  seed: number;
}

/** Random convolution problems: 1-3 spatial axes, dims 0..6 (smaller for 3-D), groups, depthwise cases. */
function arbConvCase(dtypes: readonly DataType[] = ['float32']): fc.Arbitrary<ConvCase> {
  return fc.integer({ min: 1, max: 3 }).chain((rank) => {
    const maxDim = rank === 3 ? 4 : 6;
    const axis = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: rank, maxLength: rank });
    return fc.record({
      dtype: fc.constantFrom(...dtypes),
      n: fc.integer({ min: 0, max: 2 }),
      group: fc.integer({ min: 1, max: 3 }),
      // cPerGroup 1 with mPerGroup >= 1 and group == C gives the depthwise path
      cPerGroup: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 3 })),
      mPerGroup: fc.integer({ min: 0, max: 3 }),
      spatial: axis(fc.oneof(fc.constant(1), fc.integer({ min: 0, max: maxDim }))),
      kernel: axis(fc.integer({ min: 1, max: 3 })),
      strides: axis(fc.integer({ min: 1, max: 3 })),
      dilations: axis(fc.integer({ min: 1, max: 2 })),
      pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2 * rank, maxLength: 2 * rank }),
      autoPad: fc.constantFrom(...AUTO_PADS),
      withBias: fc.boolean(),
      strided: fc.boolean(),
      seed: fc.integer({ min: 1, max: 1 << 30 }),
    });
  });
}

function convInputs(c: ConvCase): { x: Tensor; w: Tensor; b: Tensor | undefined } {
  const C = c.group * c.cPerGroup;
  const M = c.group * c.mPerGroup;
  const x = randomTensor(c.dtype, [c.n, C, ...c.spatial], c.seed);
  const w = randomTensor(c.dtype, [M, c.cPerGroup, ...c.kernel], c.seed + 1);
  const b = c.withBias ? randomTensor(c.dtype, [M], c.seed + 2) : undefined;
  return { x, w, b };
}

function tolerance(dtype: DataType): { rtol: number; atol: number } {
  return dtype === 'float16' ? { rtol: 2e-3, atol: 2e-2 } : dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-4, atol: 1e-5 };
}

function convAttrs(c: ConvCase) {
  return { strides: c.strides, dilations: c.dilations, pads: c.pads, auto_pad: c.autoPad, group: c.group };
}

describe('Conv', () => {
  it('matches the direct reference on random shapes, groups, strides, dilations, pads and auto_pad', () => {
    fc.assert(
      fc.property(arbConvCase(['float32', 'float32', 'float64', 'float16']), (c) => {
        const { x, w, b } = convInputs(c);
        const pads = resolvePads(c.autoPad, c.spatial, c.kernel, c.strides, c.dilations, c.pads);
        const rank = c.spatial.length;
        const fits = c.spatial.every((d, i) => d + pads[i]! + pads[rank + i]! >= (c.kernel[i]! - 1) * c.dilations[i]! + 1);
        const input = c.strided ? nonContiguous(x) : x;
        if (!fits) {
          expect(() => runOp('Conv', [input, w, b], convAttrs(c))).toThrow(/larger than the padded input/);
          return;
        }
        const got = runOp('Conv', [input, w, b], convAttrs(c))[0]!;
        expectClose(got, refConv(x, w, b, { strides: c.strides, dilations: c.dilations, pads, group: c.group }), tolerance(c.dtype));
      }),
      { numRuns: 150 },
    );
  });

  it('gives bitwise identical results with 1 and 2 threads', () => {
    fc.assert(
      fc.property(arbConvCase(), (c) => {
        const { x, w, b } = convInputs(c);
        const attrs = convAttrs(c);
        let one: Tensor;
        try {
          one = runOp('Conv', [x, w, b], attrs, { threads: 1 })[0]!;
        } catch (e) {
          expect(e).toBeInstanceOf(OpValidationError);
          return;
        }
        expectBitwise(runOp('Conv', [x, w, b], attrs, { threads: 2 })[0]!, one);
      }),
      { numRuns: 40 },
    );
  });

  it('takes the pointwise, depthwise and tiled paths on larger inputs and still matches the reference', () => {
    const x = randomTensor('float32', [1, 6, 9, 11], 3);
    // pointwise 1x1
    const w1 = randomTensor('float32', [5, 6, 1, 1], 4);
    expectClose(conv(x, w1), refConv(x, w1, undefined, { strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1 }), { rtol: 1e-4, atol: 1e-5 });
    // depthwise with multiplier 2, stride 2, dilation 2, asymmetric pads
    const wd = randomTensor('float32', [12, 1, 3, 3], 5);
    const bd = randomTensor('float32', [12], 6);
    const a = { strides: [2, 1], dilations: [2, 2], pads: [1, 2, 2, 0], group: 6 };
    expectClose(conv(x, wd, bd, a), refConv(x, wd, bd, a), { rtol: 1e-4, atol: 1e-5 });
    // 1-D depthwise
    const x1 = randomTensor('float32', [2, 4, 13], 7);
    const w1d = randomTensor('float32', [4, 1, 5], 8);
    const a1 = { strides: [3], dilations: [1], pads: [2, 4], group: 4 };
    expectClose(conv(x1, w1d, undefined, a1), refConv(x1, w1d, undefined, a1), { rtol: 1e-4, atol: 1e-5 });
  });

  it('tiles the column matrix by output lines when it exceeds the budget', () => {
    // 64 * 9 rows x 100 x 100 columns is above the 4M-element budget: tiles of 72 output rows
    const x = randomTensor('float32', [1, 64, 100, 100], 9);
    const w = randomTensor('float32', [2, 64, 3, 3], 10);
    const got = conv(x, w, undefined, { pads: [1, 1, 1, 1] });
    // output rows 70..75 straddle the tile boundary; they only need input rows 69..76
    const crop = x.slice([69], [77], [2]).contiguous();
    const want = refConv(crop, w, undefined, { strides: [1, 1], dilations: [1, 1], pads: [0, 1, 0, 1], group: 1 });
    expectClose(got.slice([70], [76], [2]).contiguous(), want, { rtol: 1e-4, atol: 1e-4 });
  });

  it('computes the Operators.md example (5x5 input, 3x3 ones kernel, with and without padding)', () => {
    const x = fromNumbers('float32', Array.from({ length: 25 }, (_, i) => i), [1, 1, 5, 5]);
    const w = fromNumbers('float32', new Array<number>(9).fill(1), [1, 1, 3, 3]);
    const padded = conv(x, w, undefined, { pads: [1, 1, 1, 1] });
    expect(Array.from(padded.data as Float32Array)).toEqual([
      12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84,
    ]);
    expect(Array.from(conv(x, w).data as Float32Array)).toEqual([54, 63, 72, 99, 108, 117, 144, 153, 162]);
    // 7 x 5 input, strides 2 with asymmetric padding [1, 0, 1, 0]: output 4 x 2
    const tall = fromNumbers('float32', Array.from({ length: 35 }, (_, i) => i), [1, 1, 7, 5]);
    const asym = conv(tall, w, undefined, { pads: [1, 0, 1, 0], strides: [2, 2] });
    expect([...asym.dims]).toEqual([1, 1, 4, 2]);
    expect(Array.from(asym.data as Float32Array)).toEqual([21, 33, 99, 117, 189, 207, 171, 183]);
    // SAME_LOWER with stride 2: 3 x 3, the odd padding at the beginning
    const same = conv(x, w, undefined, { autoPad: 'SAME_LOWER', strides: [2, 2] });
    expect(Array.from(same.data as Float32Array)).toEqual([12, 27, 24, 63, 108, 81, 72, 117, 84]);
  });

  it('adds the bias per output channel', () => {
    const x = fromNumbers('float64', [1, 2, 3, 4], [1, 1, 2, 2]);
    const w = fromNumbers('float64', [1, 10], [2, 1, 1, 1]);
    const b = fromNumbers('float64', [0.5, -1], [2]);
    expect(Array.from(conv(x, w, b).data as Float64Array)).toEqual([1.5, 2.5, 3.5, 4.5, 9, 19, 29, 39]);
  });

  it('rejects bad input with OpValidationError naming the op, the input and the shapes', () => {
    const x = randomTensor('float32', [1, 3, 5, 5]);
    const bad = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(OpValidationError);
      expect(f).toThrow(re);
    };
    bad(() => conv(x, randomTensor('float32', [8, 3, 3])), /Conv: input 'W' has shape \[8, 3, 3\] \(rank 3\); expected rank 4/);
    bad(() => conv(x, randomTensor('float32', [4, 2, 3, 3])), /Conv: input 'W' has shape \[4, 2, 3, 3\].*expected the 3 channels of input 'X' \[1, 3, 5, 5\]/);
    bad(() => conv(x, randomTensor('float32', [4, 1, 3, 3]), undefined, { group: 2 }), /group 2 does not divide the 3 channels of input 'X' \[1, 3, 5, 5\]/);
    bad(() => conv(randomTensor('float32', [1, 4, 5, 5]), randomTensor('float32', [3, 2, 3, 3]), undefined, { group: 2 }), /group 2 does not divide the 3 output channels of input 'W'/);
    bad(() => conv(x, randomTensor('float32', [2, 3, 7, 3])), /kernel extent 7 .* larger than the padded input 5 on spatial axis 0/);
    bad(() => conv(x, randomTensor('float32', [2, 3, 3, 3]), undefined, { autoPad: 'SAME' as AutoPad }), /auto_pad' is 'SAME'; expected one of NOTSET, SAME_UPPER, SAME_LOWER, VALID/);
    bad(() => conv(x, randomTensor('float32', [2, 3, 3, 3]), undefined, { pads: [1, 1] }), /'pads' has 2 values \[1, 1\]; expected 4 .*\[5, 5\]/);
    bad(() => conv(x, randomTensor('float32', [2, 3, 3, 3]), undefined, { strides: [0, 1] }), /'strides' is \[0, 1\]; every value must be >= 1/);
    bad(() => conv(x, randomTensor('float32', [2, 3, 3, 3]), undefined, { kernelShape: [2, 2] }), /kernel_shape' is \[2, 2\] but input 'W' has shape \[2, 3, 3, 3\]/);
    bad(() => conv(x, randomTensor('float32', [2, 3, 3, 3]), randomTensor('float32', [3])), /input 'B' has shape \[3\]; expected \[2\]/);
    bad(() => conv(randomTensor('float32', [3, 5]), randomTensor('float32', [3, 5])), /input 'X' has shape \[3, 5\] \(rank 2\); expected rank >= 3/);
    bad(() => conv(randomTensor('int32', [1, 3, 5, 5]), randomTensor('int32', [2, 3, 3, 3])), /Conv: input 0 'X' has type int32/);
    bad(() => conv(x, randomTensor('float64', [2, 3, 3, 3])), /'W' has type float64 but 'X' has float32/);
    bad(() => runOp('Conv', [x, randomTensor('float32', [2, 3, 3, 3])], { padding: [1] }), /unknown attribute 'padding'/);
  });
});

interface TransposeCase extends ConvCase {
  outputPadding: number[];
  useOutputShape: boolean;
  outputShapeDelta: number[];
}

function arbTransposeCase(dtypes: readonly DataType[] = ['float32']): fc.Arbitrary<TransposeCase> {
  return arbConvCase(dtypes).chain((c) => {
    const r = c.spatial.length;
    return fc.record({
      outputPadding: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: r, maxLength: r }),
      useOutputShape: fc.boolean(),
      outputShapeDelta: fc.array(fc.integer({ min: -2, max: 1 }), { minLength: r, maxLength: r }),
    }).map((extra) => ({
      ...c,
      // output_padding must stay below max(stride, dilation)
      outputPadding: extra.outputPadding.map((p, i) => p % Math.max(c.strides[i]!, c.dilations[i]!)),
      useOutputShape: extra.useOutputShape,
      outputShapeDelta: extra.outputShapeDelta,
    }));
  });
}

/** Test-side restatement of ConvTranspose's output size and pads (Operators.md). */
function transposeGeometry(c: TransposeCase): { pads: number[]; out: number[]; outputShape?: number[] } {
  const r = c.spatial.length;
  const full = c.spatial.map((d, i) => c.strides[i]! * (d - 1) + c.outputPadding[i]! + (c.kernel[i]! - 1) * c.dilations[i]! + 1);
  let target: number[] | undefined;
  let outputShape: number[] | undefined;
  if (c.useOutputShape) {
    outputShape = full.map((f, i) => Math.max(0, f + c.outputShapeDelta[i]!));
    target = outputShape;
  } else if (c.autoPad === 'SAME_UPPER' || c.autoPad === 'SAME_LOWER') target = c.spatial.map((d, i) => d * c.strides[i]!);
  if (!target) {
    const pads = c.autoPad === 'VALID' ? new Array<number>(2 * r).fill(0) : c.pads;
    return { pads, out: full.map((f, i) => f - pads[i]! - pads[r + i]!) };
  }
  const pads = new Array<number>(2 * r);
  for (let i = 0; i < r; i++) {
    const total = full[i]! - target[i]!;
    pads[i] = c.autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    pads[r + i] = total - pads[i]!;
  }
  return { pads, out: target, outputShape };
}

describe('ConvTranspose', () => {
  it('matches the scatter-form reference on random shapes, groups, strides, dilations, pads, output_padding and output_shape', () => {
    fc.assert(
      fc.property(arbTransposeCase(['float32', 'float32', 'float64', 'float16']), (c) => {
        const C = c.group * c.cPerGroup;
        const M = c.group * c.mPerGroup;
        const x = randomTensor(c.dtype, [c.n, C, ...c.spatial], c.seed);
        const w = randomTensor(c.dtype, [C, c.mPerGroup, ...c.kernel], c.seed + 1);
        const b = c.withBias ? randomTensor(c.dtype, [M], c.seed + 2) : undefined;
        const geom = transposeGeometry(c);
        const attrs = {
          strides: c.strides,
          dilations: c.dilations,
          pads: c.pads,
          auto_pad: c.autoPad,
          group: c.group,
          output_padding: c.outputPadding,
          output_shape: geom.outputShape,
        };
        const input = c.strided ? nonContiguous(x) : x;
        if (geom.out.some((d) => d < 0)) {
          expect(() => runOp('ConvTranspose', [input, w, b], attrs)).toThrow(OpValidationError);
          return;
        }
        const got = runOp('ConvTranspose', [input, w, b], attrs)[0]!;
        const want = refConvTranspose(x, w, b, { strides: c.strides, dilations: c.dilations, pads: geom.pads, group: c.group, outputShape: geom.out });
        expectClose(got, want, tolerance(c.dtype));
        expectBitwise(runOp('ConvTranspose', [input, w, b], attrs, { threads: 2 })[0]!, got);
      }),
      { numRuns: 150 },
    );
  });

  it('tiles the GEMM + col2im by input lines when the column matrix exceeds the budget', () => {
    // 64 * 9 rows x 100 x 100 input positions: above the 4M-element budget, tiles of 72 input rows
    const x = randomTensor('float32', [1, 2, 100, 100], 11);
    const w = randomTensor('float32', [2, 64, 3, 3], 12);
    const got = convTranspose(x, w, undefined, { pads: [1, 1, 1, 1] });
    // output row o receives input rows o-1..o+1: rows 70..75 need input rows 69..76 (across the tile boundary)
    const crop = x.slice([69], [77], [2]).contiguous();
    const want = refConvTranspose(crop, w, undefined, { strides: [1, 1], dilations: [1, 1], pads: [0, 1, 0, 1], group: 1, outputShape: [10, 100] });
    expectClose(got.slice([70], [76], [2]).contiguous(), want.slice([2], [8], [2]).contiguous(), { rtol: 1e-4, atol: 1e-4 });
  });

  it('handles 4 spatial axes through the reference fallback', () => {
    const x = randomTensor('float32', [1, 2, 3, 2, 3, 2], 13);
    const w = randomTensor('float32', [2, 3, 2, 1, 2, 2], 14);
    const y = convTranspose(x, w, undefined, { strides: [1, 2, 1, 1] });
    const want = refConvTranspose(x, w, undefined, { strides: [1, 2, 1, 1], dilations: [1, 1, 1, 1], pads: new Array<number>(8).fill(0), group: 1, outputShape: [4, 3, 4, 3] });
    expectClose(y, want);
    const wc = randomTensor('float32', [3, 2, 2, 1, 2, 2], 15);
    expectClose(conv(x, wc), refConv(x, wc, undefined, { strides: [1, 1, 1, 1], dilations: [1, 1, 1, 1], pads: new Array<number>(8).fill(0), group: 1 }));
  });

  it('computes the Operators.md example and the output_shape / SAME_UPPER cases', () => {
    const x = fromNumbers('float32', [0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 3, 3]);
    const w = fromNumbers('float32', new Array<number>(18).fill(1), [1, 2, 3, 3]);
    const y = convTranspose(x, w);
    expect([...y.dims]).toEqual([1, 2, 5, 5]);
    const plane = [0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8];
    expect(Array.from(y.data as Float32Array)).toEqual([...plane, ...plane]);
    // output_shape larger than the full result: the extra last row and column hold zeros
    const big = convTranspose(x, w, undefined, { strides: [3, 2], outputShape: [10, 8] });
    expect([...big.dims]).toEqual([1, 2, 10, 8]);
    const v = Array.from(big.data as Float32Array);
    expect(v.slice(0, 8)).toEqual([0, 0, 1, 1, 3, 2, 2, 0]);
    expect(v.slice(72, 80)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // SAME_UPPER with stride 2: 6 x 6, the full 7 x 7 result cropped at the end
    const same = convTranspose(x, w, undefined, { strides: [2, 2], autoPad: 'SAME_UPPER' });
    expect([...same.dims]).toEqual([1, 2, 6, 6]);
    expect(Array.from(same.data as Float32Array).slice(12, 18)).toEqual([3, 3, 8, 5, 12, 7]);
  });

  it('rejects bad input naming the op, the input and the shapes', () => {
    const x = randomTensor('float32', [1, 3, 4, 4]);
    expect(() => convTranspose(x, randomTensor('float32', [2, 2, 3, 3]))).toThrow(/ConvTranspose: input 'W' has shape \[2, 2, 3, 3\]; expected W.shape\[0\] = 3/);
    expect(() => convTranspose(x, randomTensor('float32', [3, 2, 3]))).toThrow(/ConvTranspose: input 'W' has shape \[3, 2, 3\] \(rank 3\); expected rank 4/);
    expect(() => convTranspose(x, randomTensor('float32', [3, 1, 3, 3]), undefined, { group: 2 })).toThrow(/group 2 does not divide the 3 channels/);
    expect(() => convTranspose(x, randomTensor('float32', [3, 1, 3, 3]), undefined, { outputPadding: [1, 0] })).toThrow(/output_padding' is \[1, 0\]; value 0 must be in \[0, 1\)/);
    expect(() => convTranspose(x, randomTensor('float32', [3, 1, 3, 3]), undefined, { pads: [5, 5, 5, 5] })).toThrow(/pads \[5, 5, 5, 5\] remove more than the full output/);
    expect(() => convTranspose(x, randomTensor('float32', [3, 1, 3, 3]), undefined, { outputShape: [4] })).toThrow(/output_shape' has 1 values/);
    expect(() => convTranspose(x, randomTensor('float32', [3, 1, 3, 3]), randomTensor('float32', [3]))).toThrow(/input 'B' has shape \[3\]; expected \[1\]/);
  });
});

describe('im2col / col2im', () => {
  it('col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>', () => {
    fc.assert(
      fc.property(arbConvCase(), (c) => {
        const pads = resolvePads(c.autoPad, c.spatial, c.kernel, c.strides, c.dilations, c.pads);
        const r = c.spatial.length;
        const grid = c.spatial.map((d, i) => Math.floor((d + pads[i]! + pads[r + i]! - (c.kernel[i]! - 1) * c.dilations[i]! - 1) / c.strides[i]!) + 1);
        if (grid.some((d) => d < 1)) return;
        const channels = c.cPerGroup + 1;
        const geom = { channels, imageShape: c.spatial, gridShape: grid, kernelShape: c.kernel, strides: c.strides, dilations: c.dilations, padsBegin: pads.slice(0, r) };
        const image = randomTensor('float64', [channels, ...c.spatial], c.seed).data as Float64Array;
        const rows = channels * c.kernel.reduce((p, k) => p * k, 1);
        const cols = grid.reduce((p, k) => p * k, 1);
        const colsIn = randomTensor('float64', [rows * cols], c.seed + 1).data as Float64Array;
        const unfolded = new Float64Array(rows * cols).fill(NaN);
        im2col(image, 0, geom, unfolded);
        const folded = new Float64Array(image.length);
        col2im(colsIn, 0, geom, folded, 0);
        let lhs = 0;
        let rhs = 0;
        for (let i = 0; i < unfolded.length; i++) lhs += unfolded[i]! * colsIn[i]!;
        for (let i = 0; i < image.length; i++) rhs += image[i]! * folded[i]!;
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9 * (1 + Math.abs(lhs)));
      }),
      { numRuns: 60 },
    );
  });

  it('writes padValue for padding positions and can unfold a range of output lines', () => {
    const image = Uint8Array.from([1, 2, 3, 4, 5, 6]); // 1 channel, 2 x 3
    const geom = { channels: 1, imageShape: [2, 3], gridShape: [2, 3], kernelShape: [1, 2], strides: [1, 1], dilations: [1, 1], padsBegin: [0, 1] };
    const all = new Uint8Array(2 * 6);
    im2col(image, 0, geom, all, { padValue: 128 });
    expect(Array.from(all)).toEqual([128, 1, 2, 128, 4, 5, 1, 2, 3, 4, 5, 6]);
    const second = new Uint8Array(2 * 3);
    im2col(image, 0, geom, second, { padValue: 128, firstLine: 1, lineCount: 1 });
    expect(Array.from(second)).toEqual([128, 4, 5, 4, 5, 6]);
  });
});
