import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, runOp, Tensor, type DataType } from '../../src/index.js';
import { refAffineGrid, refCol2Im, refDft, refGridSample, refMaxUnpool, refNonMaxSuppression, refRoiAlign, refDeformConv, refStft, refWindow } from '../../src/kernels/cpu/reference/spatial.js';
import { arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const i64 = (values: number[], dims: number[]): Tensor => fromNumbers('int64', values, dims);
const values = (t: Tensor): number[] => (t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.numbers()));
const tol = { rtol: 1e-4, atol: 1e-4 };

describe('GridSample', () => {
  it('matches the recursive reference (1-3 spatial dims, every mode and padding, float/int X)', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            spatial: arbShape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 4 }),
            out: arbShape({ minRank: 1, maxRank: 3, minDim: 0, maxDim: 3 }),
            batch: fc.integer({ min: 0, max: 2 }),
            channels: fc.integer({ min: 1, max: 2 }),
            type: fc.constantFrom<DataType>('float32', 'float64', 'int32'),
            mode: fc.constantFrom('linear', 'nearest', 'cubic'),
            padding: fc.constantFrom('zeros', 'border', 'reflection'),
            align: fc.boolean(),
          })
          .chain((c) => {
            const r = c.spatial.length;
            const outSpatial = c.out.slice(0, r).concat(new Array<number>(Math.max(0, r - c.out.length)).fill(2));
            return fc.tuple(fc.constant(c), arbTensor(c.type, [c.batch, c.channels, ...c.spatial], 5), arbTensor('float32', [c.batch, ...outSpatial, r], 4));
          }),
        ([c, x, grid]) => {
          const got = ops.gridSample(nonContiguous(x), grid, { mode: c.mode as 'linear', paddingMode: c.padding as 'zeros', alignCorners: c.align });
          const want = refGridSample(x, grid, c.mode, c.padding, c.align);
          if (c.type === 'int32') {
            // integer outputs truncate a double sum: allow one unit where the two sums straddle an integer
            values(got).forEach((v, i) => expect(Math.abs(v - values(want)[i]!)).toBeLessThanOrEqual(1));
          } else expectClose(got, want, tol);
        },
      ),
      { numRuns: 120 },
    );
  });
  it('known answers: the identity grid reproduces the input; opset-16 mode names', () => {
    const x = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    const grid = f32([-0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, 0.5], [1, 2, 2, 2]);
    expect(values(ops.gridSample(x, grid))).toEqual([1, 2, 3, 4]);
    expect(values(runOp('GridSample', [x, grid], { mode: 'bilinear' }, { opset: 16 })[0]!)).toEqual([1, 2, 3, 4]);
  });
  it('rejects a mismatched grid, old mode names at opset 20+ and a bad padding mode', () => {
    const x = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    expect(() => ops.gridSample(x, f32([0, 0, 0], [1, 1, 1, 3]))).toThrow(/GridSample: input 'grid' has shape \[1, 1, 1, 3\]; expected \[1, O, O, 2\]/);
    expect(() => runOp('GridSample', [x, f32([0, 0], [1, 1, 1, 2])], { mode: 'bilinear' }, { opset: 20 })).toThrow(/attribute 'mode' is 'bilinear'/);
    expect(() => runOp('GridSample', [x, f32([0, 0], [1, 1, 1, 2])], { padding_mode: 'wrap' })).toThrow(/attribute 'padding_mode' is 'wrap'/);
    expect(() => runOp('GridSample', [f32([1, 2], [1, 1, 2]), f32([0], [1, 1, 1])], {}, { opset: 16 })).toThrow(/input 'X' has shape \[1, 1, 2\] \(rank 3\); expected rank 4/);
  });
});

describe('AffineGrid', () => {
  it('matches the reference (2-D and 3-D, align_corners)', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 0, max: 2 }), arbShape({ minRank: 2, maxRank: 3, minDim: 0, maxDim: 4 }), fc.boolean(), fc.constantFrom<DataType>('float32', 'float64')).chain(([n, spatial, align, t]) =>
          fc.tuple(arbTensor(t, [n, spatial.length, spatial.length + 1], 2), fc.constant([n, 1, ...spatial]), fc.constant(align)),
        ),
        ([theta, size, align]) => expectClose(ops.affineGrid(theta, size, align), refAffineGrid(theta, size, align), tol),
      ),
      { numRuns: 60 },
    );
  });
  it('identity theta gives the base grid; rejects a mismatched theta', () => {
    const theta = f32([1, 0, 0, 0, 1, 0], [1, 2, 3]);
    expect(values(ops.affineGrid(theta, [1, 1, 1, 2], true))).toEqual([-1, 0, 1, 0]);
    expect(() => ops.affineGrid(theta, [1, 1, 2, 2, 2])).toThrow(/AffineGrid: input 'theta' has shape \[1, 2, 3\]; expected \[1, 3, 4\]/);
  });
});

describe('Col2Im', () => {
  it('matches the scatter reference (1-3 dims, strides, pads, dilations)', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            r: fc.integer({ min: 1, max: 3 }),
            n: fc.integer({ min: 0, max: 2 }),
            c: fc.integer({ min: 1, max: 2 }),
          })
          .chain(({ r, n, c }) =>
            fc.tuple(
              fc.constant({ n, c }),
              fc.array(fc.integer({ min: 1, max: 5 }), { minLength: r, maxLength: r }),
              fc.array(fc.integer({ min: 1, max: 2 }), { minLength: r, maxLength: r }),
              fc.array(fc.integer({ min: 1, max: 2 }), { minLength: r, maxLength: r }),
              fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 2 * r, maxLength: 2 * r }),
              fc.array(fc.integer({ min: 1, max: 2 }), { minLength: r, maxLength: r }),
            ),
          )
          .filter(([, image, block, dil, pads, strides]) => image.every((d, i) => d + pads[i]! + pads[i + image.length]! >= dil[i]! * (block[i]! - 1) + 1) && strides.length > 0)
          .chain(([{ n, c }, image, block, dil, pads, strides]) => {
            const r = image.length;
            const counts = image.map((d, i) => Math.floor((d + pads[i]! + pads[i + r]! - (dil[i]! * (block[i]! - 1) + 1)) / strides[i]!) + 1);
            const rows = c * block.reduce((p, v) => p * v, 1);
            return fc.tuple(arbTensor('float32', [n, rows, counts.reduce((p, v) => p * v, 1)], 3), fc.constant([image, block, dil, pads, strides] as const));
          }),
        ([x, [image, block, dil, pads, strides]]) => {
          expectClose(ops.col2Im(nonContiguous(x), image, block, { dilations: dil, pads, strides }), refCol2Im(x, image, block, dil, pads, strides), tol);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('known answer: overlapping 1-D blocks add up; rejects a wrong block count', () => {
    // image 3, block 2, stride 1: two blocks [a, b] at 0 and [c, d] at 1 -> [a, b + c, d]
    expect(values(ops.col2Im(f32([1, 3, 2, 4], [1, 2, 2]), [3], [2]))).toEqual([1, 5, 4]);
    expect(() => ops.col2Im(f32([1, 2, 3], [1, 1, 3]), [3], [1], { strides: [2] })).toThrow(/Col2Im: input 'input' has shape \[1, 1, 3\]; dim 2 must be 2/);
  });
});

describe('NonMaxSuppression', () => {
  it('matches the greedy reference (both box formats, thresholds, batches, classes)', () => {
    fc.assert(
      fc.property(
        fc
          .record({ b: fc.integer({ min: 0, max: 2 }), c: fc.integer({ min: 0, max: 2 }), s: fc.integer({ min: 0, max: 7 }), center: fc.boolean() })
          .chain((p) =>
            fc.tuple(
              fc.constant(p),
              arbTensor('float32', [p.b, p.s, 4], 3),
              arbTensor('float32', [p.b, p.c, p.s], 1),
              fc.integer({ min: 0, max: 5 }),
              fc.float({ min: Math.fround(0), max: Math.fround(1), noNaN: true }),
              fc.option(fc.float({ min: Math.fround(-1), max: Math.fround(1), noNaN: true }), { nil: undefined }),
            ),
          ),
        ([p, boxes, scores, maxOut, iou, score]) => {
          const got = ops.nonMaxSuppression(boxes, scores, {
            maxOutputBoxesPerClass: i64([maxOut], []),
            iouThreshold: f32([iou], []),
            scoreThreshold: score === undefined ? undefined : f32([score], []),
            centerPointBox: p.center,
          });
          const want = refNonMaxSuppression(boxes, scores, maxOut, Math.fround(iou), score === undefined ? undefined : Math.fround(score), p.center);
          expect(got.dims).toEqual([want.length, 3]);
          expect(values(got)).toEqual(want.flat());
        },
      ),
      { numRuns: 100 },
    );
  });
  it('known answer: an overlapping lower-scored box is suppressed; rejects bad shapes', () => {
    const boxes = f32([0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 5, 1, 6], [1, 3, 4]);
    const scores = f32([0.9, 0.8, 0.7], [1, 1, 3]);
    const sel = ops.nonMaxSuppression(boxes, scores, { maxOutputBoxesPerClass: i64([3], []), iouThreshold: f32([0.5], []) });
    expect(values(sel)).toEqual([0, 0, 0, 0, 0, 2]);
    expect(() => ops.nonMaxSuppression(f32([0, 0, 1], [1, 1, 3]), scores)).toThrow(/NonMaxSuppression: input 'boxes' has shape \[1, 1, 3\]; expected \[num_batches, num_boxes, 4\]/);
    expect(() => ops.nonMaxSuppression(boxes, f32([1, 2], [1, 1, 2]))).toThrow(/input 'scores' has shape \[1, 1, 2\]; expected \[1, num_classes, 3\]/);
  });
});

describe('MaxUnpool', () => {
  it('matches the reference (with and without output_shape)', () => {
    fc.assert(
      fc.property(
        fc
          .record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 3 }), w: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 2 }), s: fc.integer({ min: 1, max: 2 }), extra: fc.integer({ min: 0, max: 2 }), withShape: fc.boolean() })
          .chain((p) => {
            const oh = (p.h - 1) * p.s + p.k;
            const ow = (p.w - 1) * p.s + p.k;
            const total = p.n * p.c * oh * ow;
            const count = p.n * p.c * p.h * p.w;
            return fc.tuple(fc.constant({ ...p, oh, ow }), arbTensor('float32', [p.n, p.c, p.h, p.w], 5), fc.array(fc.integer({ min: 0, max: total - 1 }), { minLength: count, maxLength: count }));
          }),
        ([p, x, idx]) => {
          const shape = p.withShape ? [p.n, p.c, p.oh + p.extra, p.ow + p.extra] : undefined;
          const got = ops.maxUnpool(x, i64(idx, x.dims as number[]), { kernelShape: [p.k, p.k], strides: [p.s, p.s], outputShape: shape ? i64(shape, [4]) : undefined });
          expectClose(got, refMaxUnpool(x, i64(idx, x.dims as number[]), [p.k, p.k], [p.s, p.s], [0, 0, 0, 0], shape), tol);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('rejects out-of-range indices and a mismatched I', () => {
    const x = f32([1], [1, 1, 1, 1]);
    expect(() => ops.maxUnpool(x, i64([4], [1, 1, 1, 1]), { kernelShape: [2, 2] })).toThrow(/MaxUnpool: input 'I' holds 4 at flat index 0; expected \[0, 4\)/);
    expect(() => ops.maxUnpool(x, i64([0, 0], [1, 1, 1, 2]), { kernelShape: [2, 2] })).toThrow(/input 'I' has shape \[1, 1, 1, 2\]; expected the shape of 'X'/);
  });
});

describe('DeformConv', () => {
  it('matches the per-output reference (groups, offset groups, mask, bias, strides, pads, dilations)', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            n: fc.integer({ min: 0, max: 2 }),
            group: fc.integer({ min: 1, max: 2 }),
            og: fc.integer({ min: 1, max: 2 }),
            cpg: fc.integer({ min: 1, max: 2 }),
            ocpg: fc.integer({ min: 1, max: 2 }),
            h: fc.integer({ min: 2, max: 5 }),
            w: fc.integer({ min: 2, max: 5 }),
            kh: fc.integer({ min: 1, max: 2 }),
            kw: fc.integer({ min: 1, max: 2 }),
            stride: fc.integer({ min: 1, max: 2 }),
            pad: fc.integer({ min: 0, max: 1 }),
            dil: fc.integer({ min: 1, max: 2 }),
            withMask: fc.boolean(),
            withBias: fc.boolean(),
            type: fc.constantFrom<DataType>('float32', 'float64'),
          })
          .chain((p) => {
            const c = p.group * p.og * p.cpg;
            const oc = p.group * p.ocpg;
            const oh = Math.floor((p.h + 2 * p.pad - (p.dil * (p.kh - 1) + 1)) / p.stride) + 1;
            const ow = Math.floor((p.w + 2 * p.pad - (p.dil * (p.kw - 1) + 1)) / p.stride) + 1;
            return fc.tuple(
              fc.constant({ ...p, c, oc }),
              arbTensor(p.type, [p.n, c, p.h, p.w], 2),
              arbTensor(p.type, [oc, c / p.group, p.kh, p.kw], 1),
              arbTensor(p.type, [p.n, p.og * p.kh * p.kw * 2, Math.max(oh, 0), Math.max(ow, 0)], 1.5),
              arbTensor(p.type, [p.n, p.og * p.kh * p.kw, Math.max(oh, 0), Math.max(ow, 0)], 1),
              arbTensor(p.type, [oc], 1),
            );
          }),
        ([p, x, w, offset, mask, bias]) => {
          const opts = { bias: p.withBias ? bias : undefined, mask: p.withMask ? mask : undefined, strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad], dilations: [p.dil, p.dil], group: p.group, offsetGroup: p.og };
          expectClose(ops.deformConv(nonContiguous(x), w, offset, opts), refDeformConv(x, w, offset, opts), tol);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('zero offsets give a plain convolution; rejects a bad offset shape and 3-D input', () => {
    const x = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    const w = f32([1, 1, 1, 1], [1, 1, 2, 2]);
    expect(values(ops.deformConv(x, w, f32([0, 0, 0, 0, 0, 0, 0, 0], [1, 8, 1, 1])))).toEqual([10]);
    expect(() => ops.deformConv(x, w, f32([0, 0], [1, 2, 1, 1]))).toThrow(/DeformConv: input 'offset' has shape \[1, 2, 1, 1\]; expected \[1, 8, 1, 1\]/);
    expect(() => ops.deformConv(f32([1, 2], [1, 1, 2]), w, x)).toThrow(/DeformConv: input 'X' has shape \[1, 1, 2\] \(rank 3\); expected rank 4/);
  });
});

describe('RoiAlign', () => {
  it('matches the reference (avg/max, both coordinate modes, fixed and adaptive sampling)', () => {
    fc.assert(
      fc.property(
        fc
          .record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 5 }), w: fc.integer({ min: 1, max: 5 }), r: fc.integer({ min: 0, max: 3 }), oh: fc.integer({ min: 1, max: 3 }), ow: fc.integer({ min: 1, max: 3 }), ratio: fc.integer({ min: 0, max: 2 }), mode: fc.constantFrom('avg', 'max'), halfPixel: fc.boolean(), scale: fc.constantFrom(1, 0.5) })
          .chain((p) =>
            fc.tuple(
              fc.constant(p),
              arbTensor('float32', [p.n, p.c, p.h, p.w], 5),
              fc.array(fc.tuple(fc.float({ min: Math.fround(-2), max: Math.fround(6), noNaN: true }), fc.float({ min: Math.fround(-2), max: Math.fround(6), noNaN: true }), fc.float({ min: Math.fround(0), max: Math.fround(5), noNaN: true }), fc.float({ min: Math.fround(0), max: Math.fround(5), noNaN: true })), { minLength: p.r, maxLength: p.r }),
              fc.array(fc.integer({ min: 0, max: p.n - 1 }), { minLength: p.r, maxLength: p.r }),
            ),
          ),
        ([p, x, boxes, idx]) => {
          const rois = f32(boxes.flatMap(([x1, y1, w, h]) => [x1, y1, x1 + w, y1 + h]), [p.r, 4]);
          const got = ops.roiAlign(x, rois, i64(idx, [p.r]), { mode: p.mode as 'avg', outputHeight: p.oh, outputWidth: p.ow, samplingRatio: p.ratio, spatialScale: p.scale, coordinateTransformationMode: p.halfPixel ? 'half_pixel' : 'output_half_pixel' });
          expectClose(got, refRoiAlign(x, rois, idx, { mode: p.mode, oh: p.oh, ow: p.ow, ratio: p.ratio, scale: p.scale, halfPixel: p.halfPixel }), tol);
        },
      ),
      { numRuns: 80 },
    );
  });
  it('known answer: a constant map pools to the constant; rejects bad rois and indices', () => {
    const x = f32(new Array<number>(16).fill(3), [1, 1, 4, 4]);
    const y = ops.roiAlign(x, f32([0, 0, 3, 3], [1, 4]), i64([0], [1]), { outputHeight: 2, outputWidth: 2, samplingRatio: 2 });
    values(y).forEach((v) => expect(v).toBeCloseTo(3, 6));
    expect(() => ops.roiAlign(x, f32([0, 0, 1], [1, 3]), i64([0], [1]))).toThrow(/RoiAlign: input 'rois' has shape \[1, 3\]; expected \[num_rois, 4\]/);
    expect(() => ops.roiAlign(x, f32([0, 0, 1, 1], [1, 4]), i64([1], [1]))).toThrow(/input 'batch_indices'\[0\] is 1; expected \[0, 1\)/);
    expect(() => runOp('RoiAlign', [x, f32([0, 0, 1, 1], [1, 4]), i64([0], [1])], { coordinate_transformation_mode: 'half_pixel' }, { opset: 10 })).toThrow(/exists from opset 16/);
  });
});

describe('DFT, STFT, windows, MelWeightMatrix', () => {
  it('DFT matches the direct-sum reference (forward/inverse, onesided, lengths, axes, real/complex)', () => {
    fc.assert(
      fc.property(
        fc
          .record({ signal: arbShape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 5 }), complex: fc.boolean(), inverse: fc.boolean(), onesided: fc.boolean(), length: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }), type: fc.constantFrom<DataType>('float32', 'float64') })
          .chain((c) => fc.tuple(fc.constant(c), fc.integer({ min: 0, max: c.signal.length - 1 }), arbTensor(c.type, [...c.signal, c.complex ? 2 : 1], 2))),
        ([c, axis, x]) => {
          const irfft = c.inverse && c.onesided;
          const dim = x.dims[axis]!;
          const length = c.length ?? (irfft ? 2 * (dim - 1) : dim);
          if (length < 1) return;
          const got = ops.dft(x, { dftLength: c.length, axis, inverse: c.inverse, onesided: c.onesided });
          expectClose(got, refDft(x, axis, length, c.inverse, c.onesided), { rtol: 1e-4, atol: 1e-4 });
        },
      ),
      { numRuns: 100 },
    );
  });
  it('DFT known answer and opset-19 attribute form', () => {
    const x = f32([1, 2, 3, 4], [4, 1]);
    const want = [10, 0, -2, 2, -2, 0, -2, -2];
    values(ops.dft(x, { axis: 0 })).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    const viaAttr = runOp('DFT', [f32([1, 2, 3, 4], [1, 4, 1])], { axis: 1 }, { opset: 19 })[0]!;
    values(viaAttr).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    expect(() => runOp('DFT', [x], { axis: 0 }, { opset: 20 })).toThrow(/DFT: opset 20 takes 'axis' as an input/);
    expect(() => ops.dft(f32([1, 2, 3], [1, 3]), { axis: 0 })).toThrow(/the last dim must be 1 \(real\) or 2 \(complex\)/);
    expect(() => ops.dft(x, { axis: 1 })).toThrow(/DFT: axis 1 is out of range for input shape \[4, 1\]/);
  });
  it('STFT matches the reference', () => {
    fc.assert(
      fc.property(
        fc
          .record({ batch: fc.integer({ min: 0, max: 2 }), samples: fc.integer({ min: 1, max: 12 }), complex: fc.boolean(), step: fc.integer({ min: 1, max: 3 }), withWindow: fc.boolean() })
          .chain((c) => fc.tuple(fc.constant(c), fc.integer({ min: 1, max: c.samples }), arbTensor('float32', [c.batch, c.samples, c.complex ? 2 : 1], 2)))
          .chain(([c, n, x]) => fc.tuple(fc.constant(c), fc.constant(n), fc.constant(x), arbTensor('float32', [n], 1))),
        ([c, n, x, w]) => {
          const onesided = !c.complex;
          const got = ops.stft(x, c.step, { window: c.withWindow ? w : undefined, frameLength: c.withWindow ? undefined : n, onesided });
          expectClose(got, refStft(x, c.step, n, c.withWindow ? w : undefined, onesided), { rtol: 1e-4, atol: 1e-4 });
        },
      ),
      { numRuns: 60 },
    );
  });
  it('windows match their formulas (periodic/symmetric, dtypes)', () => {
    for (const kind of ['hann', 'hamming', 'blackman'] as const) {
      for (const size of [0, 1, 2, 5, 10]) {
        for (const periodic of [true, false]) {
          for (const dtype of ['float32', 'float64', 'int32'] as DataType[]) {
            expectClose(ops.window(kind, size, { periodic, dtype }), refWindow(kind, size, periodic, dtype), { rtol: 1e-6, atol: 1e-6, label: `${kind} ${size}` });
          }
        }
      }
    }
    expect(() => ops.window('hann', -1)).toThrow(/HannWindow: input 'size' is -1/);
  });
  it('MelWeightMatrix: known small case and errors', () => {
    // 4 mel bands over a 16-point DFT at 8 kHz (0-4000 Hz): 9 bins, each column a triangle peaking at 1
    const m = ops.melWeightMatrix(4, 16, 8000, 0, 4000);
    expect(m.dims).toEqual([9, 4]);
    const cols = [0, 1, 2, 3].map((i) => values(m).filter((_, j) => j % 4 === i));
    for (const col of cols) expect(Math.max(...col)).toBe(1);
    expect(() => ops.melWeightMatrix(4, 16, 8000, 100, 50)).toThrow(/MelWeightMatrix: edges \[100, 50\] Hz/);
  });
});
