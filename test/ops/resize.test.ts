import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, Tensor, OpValidationError, runOp, fromNumbers, type DataType } from '../../src/index.js';
import { refResize, type RefResizeArgs } from '../../src/kernels/cpu/reference/resize.js';
import type { CoordinateTransformationMode, KeepAspectRatioPolicy, NearestMode, ResizeMode, ResizeOptions } from '../../src/ops/resize.js';
import { arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const COORD_MODES: CoordinateTransformationMode[] = [
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_crop_and_resize',
  'tf_half_pixel_for_nn',
];
const NEAREST_MODES: NearestMode[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const SCALES = [0.25, 1 / 3, 0.5, 0.6, 0.75, 0.8, 1, 1.5, 2, 2.5, 3];

function t(type: DataType, values: readonly number[], dims: readonly number[]): Tensor {
  return fromNumbers(type, values, dims);
}

function values(x: Tensor): number[] {
  return x.type === 'int64' ? Array.from(x.data as BigInt64Array, Number) : Array.from(x.numbers());
}

function expectValues(x: Tensor, want: readonly number[], dims: readonly number[], tol = 1e-5): void {
  expect([...x.dims]).toEqual([...dims]);
  const got = values(x);
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!), `element ${i}: got ${v}, want ${want[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!))));
}

const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

/** The canonical (full-rank) arguments of a Resize call, computed independently of src/ops/resize.ts. */
function canonicalArgs(dims: readonly number[], o: ResizeOptions): RefResizeArgs {
  const r = dims.length;
  const axes = (o.axes ?? [...dims.keys()]).map((a) => (a < 0 ? a + r : a));
  const scales = new Array<number>(r).fill(1);
  const sizes = [...dims];
  // output_width of the spec: fractional scale * in (float32, as scales are float) when the size comes from a
  // scale, the size itself for 'stretch' sizes
  const widths = [...dims];
  const roi = [...new Array<number>(r).fill(0), ...new Array<number>(r).fill(1)];
  if (o.roi) axes.forEach((d, i) => ((roi[d] = Math.fround(o.roi![i]!)), (roi[r + d] = Math.fround(o.roi![axes.length + i]!))));
  if (o.scales) {
    axes.forEach((d, i) => {
      scales[d] = Math.fround(o.scales![i]!);
      sizes[d] = Math.floor(scales[d]! * dims[d]!);
      widths[d] = Math.fround(scales[d]! * dims[d]!);
    });
  } else {
    const policy = o.keepAspectRatioPolicy ?? 'stretch';
    const ratios = axes.map((d, i) => (dims[d] === 0 ? 1 : o.sizes![i]! / dims[d]!));
    axes.forEach((d, i) => {
      if (policy === 'stretch') {
        scales[d] = ratios[i]!;
        sizes[d] = o.sizes![i]!;
        widths[d] = sizes[d]!;
      } else {
        scales[d] = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
        sizes[d] = Math.floor(scales[d]! * dims[d]! + 0.5);
        widths[d] = Math.fround(Math.fround(scales[d]!) * dims[d]!);
      }
    });
  }
  return {
    scales,
    roi,
    widths,
    sizes,
    mode: o.mode ?? 'nearest',
    coordinateTransformationMode: o.coordinateTransformationMode ?? 'half_pixel',
    nearestMode: o.nearestMode ?? 'round_prefer_floor',
    cubicCoeffA: o.cubicCoeffA ?? -0.75,
    excludeOutside: o.excludeOutside ?? false,
    extrapolationValue: o.extrapolationValue ?? 0,
    antialias: o.antialias ?? false,
  };
}

function tolFor(type: DataType, mode: ResizeMode): { rtol: number; atol: number } {
  if (type === 'float16') return { rtol: 2e-3, atol: 2e-3 };
  if (type === 'float32') return { rtol: 1e-4, atol: 1e-4 };
  if (type === 'float64') return { rtol: 1e-9, atol: 1e-9 };
  // integer linear/cubic results are rounded: the separable kernel and the tensor-product reference may sit
  // on either side of a .5 boundary by a rounding error
  return { rtol: 0, atol: mode === 'nearest' ? 0 : 1 };
}

interface Case {
  dims: number[];
  type: DataType;
  opts: ResizeOptions;
  strided: boolean;
}

/** Random Resize calls: any rank 1-4, a random subset of axes, scales or sizes, every mode and option. */
function arbCase(opts: { nchw?: boolean } = {}): fc.Arbitrary<[Case, Tensor]> {
  const dimsArb = opts.nchw ? fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 5 })).map((d) => [...d]) : arbShape({ minRank: 1, maxRank: 4, maxDim: 4 });
  return fc
    .record({
      dims: dimsArb,
      mode: fc.constantFrom<ResizeMode>('nearest', 'linear', 'cubic'),
      coord: fc.constantFrom(...COORD_MODES),
      nearest: fc.constantFrom(...NEAREST_MODES),
      cubicA: fc.constantFrom(-0.75, -0.5),
      exclude: fc.boolean(),
      antialias: fc.boolean(),
      extrapolation: fc.constantFrom(0, -1.5, 10),
      useSizes: fc.boolean(),
      policy: fc.constantFrom<KeepAspectRatioPolicy>('stretch', 'stretch', 'not_larger', 'not_smaller'),
      axisMask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      scalePicks: fc.array(fc.constantFrom(...SCALES), { minLength: 4, maxLength: 4 }),
      sizePicks: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 4, maxLength: 4 }),
      roiPicks: fc.array(fc.double({ min: -0.3, max: 1.3, noNaN: true }), { minLength: 8, maxLength: 8 }),
      typePick: fc.constantFrom<DataType>('float32', 'float32', 'float64', 'float16', 'int32', 'uint8', 'int64', 'bool'),
      strided: fc.boolean(),
      listAxes: fc.boolean(),
    })
    .chain((c) => {
      const r = c.dims.length;
      let axes = opts.nchw ? [2, 3] : [...c.dims.keys()].filter((d) => c.axisMask[d]);
      if (axes.length === 0) axes = [r - 1];
      let type = c.typePick;
      if ((type === 'bool' || type === 'int64') && c.mode !== 'nearest') type = 'int32';
      const o: ResizeOptions = {
        mode: c.mode,
        coordinateTransformationMode: c.coord,
        nearestMode: c.nearest,
        cubicCoeffA: c.cubicA,
        excludeOutside: c.exclude,
        antialias: c.antialias,
        extrapolationValue: c.extrapolation,
      };
      const listed = c.listAxes || opts.nchw ? axes : [...c.dims.keys()];
      if (c.listAxes || opts.nchw) o.axes = axes.map((a, i) => (i % 2 ? a - r : a));
      if (c.coord === 'tf_crop_and_resize') o.roi = [...listed.map((_, i) => c.roiPicks[i]!), ...listed.map((_, i) => c.roiPicks[4 + i]!)];
      if (c.useSizes) {
        o.sizes = listed.map((d, i) => (c.dims[d] === 0 ? 0 : axes.includes(d) ? c.sizePicks[i]! : c.dims[d]!));
        const emptyAxis = listed.some((d) => c.dims[d] === 0);
        if (!emptyAxis && listed.length > 0 && o.sizes.every((s) => s > 0)) o.keepAspectRatioPolicy = c.policy;
      } else {
        o.scales = listed.map((d, i) => (axes.includes(d) ? c.scalePicks[i]! : 1));
      }
      return fc.tuple(fc.constant<Case>({ dims: c.dims, type, opts: o, strided: c.strided }), arbTensor(type, c.dims, 20));
    });
}

function checkAgainstReference([c, x]: [Case, Tensor]): void {
  const args = canonicalArgs(c.dims, c.opts);
  const got = ops.resize(c.strided ? nonContiguous(x) : x, c.opts);
  expectClose(got, refResize(x, args), { ...tolFor(c.type, args.mode), label: JSON.stringify({ dims: c.dims, type: c.type, ...c.opts }) });
}

describe('Resize: fast kernel vs reference', () => {
  it('matches the reference on random N-D calls (every mode, transform, option, dtype)', () => {
    fc.assert(fc.property(arbCase(), checkAgainstReference), { numRuns: 150 });
  });

  it('matches the reference on NCHW images resized on H and W (the fast path)', () => {
    fc.assert(fc.property(arbCase({ nchw: true }), checkAgainstReference), { numRuns: 120 });
  });

  it('NCHW fast path: bigger float32 images, nearest and bilinear, up and down', () => {
    const x = fromNumbers('float32', range(2 * 3 * 9 * 11).map((v) => Math.sin(v)), [2, 3, 9, 11]);
    for (const mode of ['nearest', 'linear'] as const) {
      for (const coord of ['half_pixel', 'align_corners', 'asymmetric', 'pytorch_half_pixel'] as const) {
        for (const scales of [[2, 2], [0.5, 0.75], [1.5, 1], [1, 3]]) {
          const o: ResizeOptions = { mode, coordinateTransformationMode: coord, scales, axes: [2, 3] };
          expectClose(ops.resize(x, o), refResize(x, canonicalArgs(x.dims, o)), { rtol: 1e-5, atol: 1e-5, label: `${mode} ${coord} ${scales}` });
        }
      }
    }
  });
});

describe('Resize: known answers from Operators.md', () => {
  const x22 = t('float32', [1, 2, 3, 4], [1, 1, 2, 2]);
  const x24 = t('float32', range(8), [1, 1, 2, 4]);
  const x44 = t('float32', range(16), [1, 1, 4, 4]);

  it('upsample_scales_nearest and its axes form', () => {
    const want = [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4];
    expectValues(ops.resize(x22, { scales: [1, 1, 2, 3] }), want, [1, 1, 4, 6]);
    expectValues(ops.resize(x22, { scales: [2, 3], axes: [2, 3] }), want, [1, 1, 4, 6]);
    expectValues(ops.resize(x22, { scales: [3, 2], axes: [3, 2] }), want, [1, 1, 4, 6]);
  });

  it('upsample_scales_linear and linear_align_corners', () => {
    expectValues(ops.resize(x22, { mode: 'linear', scales: [1, 1, 2, 2] }), [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4], [1, 1, 4, 4]);
    const third = 1 / 3;
    expectValues(
      ops.resize(x22, { mode: 'linear', scales: [1, 1, 2, 2], coordinateTransformationMode: 'align_corners' }),
      [1, 1 + third, 1 + 2 * third, 2, 1 + 2 * third, 2, 2 + third, 2 + 2 * third, 2 + third, 2 + 2 * third, 3, 3 + third, 3, 3 + third, 3 + 2 * third, 4],
      [1, 1, 4, 4],
    );
  });

  it('downsample_scales_linear, linear_align_corners, nearest and half_pixel_symmetric', () => {
    expectValues(ops.resize(x24, { mode: 'linear', scales: [1, 1, 0.6, 0.6] }), [2.6666665, 4.3333331], [1, 1, 1, 2]);
    expectValues(ops.resize(x24, { mode: 'linear', scales: [1, 1, 0.6, 0.6], coordinateTransformationMode: 'align_corners' }), [1, 3.142857], [1, 1, 1, 2]);
    expectValues(ops.resize(x24, { scales: [1, 1, 0.6, 0.6] }), [1, 3], [1, 1, 1, 2]);
    const row = t('float32', [1, 2, 3, 4], [1, 1, 1, 4]);
    expectValues(ops.resize(row, { mode: 'linear', scales: [1, 1, 1, 0.6], coordinateTransformationMode: 'half_pixel_symmetric' }), [1.6666667, 3.3333333], [1, 1, 1, 2]);
  });

  it('downsample_scales_cubic, cubic_A_n0p5_exclude_outside, cubic_align_corners', () => {
    const s = [1, 1, 0.8, 0.8];
    expectValues(ops.resize(x44, { mode: 'cubic', scales: s }), [1.47119141, 2.78125, 4.08251953, 6.71142578, 8.02148438, 9.32275391, 11.91650391, 13.2265625, 14.52783203], [1, 1, 3, 3]);
    expectValues(
      ops.resize(x44, { mode: 'cubic', scales: s, cubicCoeffA: -0.5, excludeOutside: true }),
      [1.36812675, 2.6695014, 4.0133367, 6.57362535, 7.875, 9.2188353, 11.94896657, 13.25034122, 14.59417652],
      [1, 1, 3, 3],
    );
    expectValues(
      ops.resize(x44, { mode: 'cubic', scales: s, coordinateTransformationMode: 'align_corners' }),
      [1, 2.39519159, 3.79038317, 6.58076634, 7.97595793, 9.37114951, 12.16153268, 13.55672427, 14.95191585],
      [1, 1, 3, 3],
    );
  });

  it('upsample_scales_cubic (first row)', () => {
    const y = ops.resize(x44, { mode: 'cubic', scales: [1, 1, 2, 2] });
    expect(y.dims).toEqual([1, 1, 8, 8]);
    expectValues(y.slice([0], [1], [2]).contiguous(), [0.47265625, 0.76953125, 1.24609375, 1.875, 2.28125, 2.91015625, 3.38671875, 3.68359375], [1, 1, 1, 8]);
  });

  it('antialias: downsample_scales_linear_antialias and cubic_antialias', () => {
    expectValues(ops.resize(x44, { mode: 'linear', antialias: true, scales: [1, 1, 0.6, 0.6] }), [2.875, 4.5, 9.375, 11], [1, 1, 2, 2]);
    expectValues(ops.resize(x44, { mode: 'cubic', antialias: true, scales: [1, 1, 0.6, 0.6] }), [2.5180721, 4.2858863, 9.589329, 11.357142], [1, 1, 2, 2]);
  });

  it('sizes: downsample_sizes_nearest, linear_pytorch_half_pixel, not_larger / not_smaller', () => {
    expectValues(ops.resize(x24, { sizes: [1, 1, 1, 3] }), [1, 2, 4], [1, 1, 1, 3]);
    expectValues(ops.resize(x44, { mode: 'linear', sizes: [1, 1, 3, 1], coordinateTransformationMode: 'pytorch_half_pixel' }), [1.6666666, 7, 12.333333], [1, 1, 3, 1]);
    expectValues(ops.resize(x24, { sizes: [1, 3], axes: [2, 3], keepAspectRatioPolicy: 'not_larger' }), [1, 3], [1, 1, 1, 2]);
    expectValues(ops.resize(x24, { sizes: [1, 3], axes: [2, 3], keepAspectRatioPolicy: 'not_smaller' }), [1, 2, 4, 5, 6, 8], [1, 1, 2, 3]);
  });

  it('tf_crop_and_resize with roi, with axes, and with an extrapolation value', () => {
    const want = [7.6000004, 7.9, 8.2, 8.8, 9.1, 9.400001, 10, 10.3, 10.6];
    const o: ResizeOptions = { mode: 'linear', coordinateTransformationMode: 'tf_crop_and_resize' };
    expectValues(ops.resize(x44, { ...o, roi: [0, 0, 0.4, 0.6, 1, 1, 0.6, 0.8], sizes: [1, 1, 3, 3] }), want, [1, 1, 3, 3]);
    expectValues(ops.resize(x44, { ...o, roi: [0.4, 0.6, 0.6, 0.8], sizes: [3, 3], axes: [2, 3] }), want, [1, 1, 3, 3]);
    const ex = ops.resize(x44, { ...o, roi: [0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7], sizes: [1, 1, 3, 3], extrapolationValue: 10 });
    expectValues(ex, [7.6000004, 10, 10, 12.400001, 10, 10, 10, 10, 10], [1, 1, 3, 3]);
  });

  it('nearest modes: upsample_sizes_nearest_ceil_half_pixel and floor_align_corners (first rows)', () => {
    const ceil = ops.resize(x44, { sizes: [1, 1, 8, 8], nearestMode: 'ceil', coordinateTransformationMode: 'half_pixel' });
    expect(values(ceil).slice(0, 8)).toEqual([1, 2, 2, 3, 3, 4, 4, 4]);
    const floor = ops.resize(x44, { sizes: [1, 1, 8, 8], nearestMode: 'floor', coordinateTransformationMode: 'align_corners' });
    expect(values(floor).slice(0, 8)).toEqual([1, 1, 1, 2, 2, 3, 3, 4]);
    const pc = ops.resize(x44, { sizes: [1, 1, 8, 8], nearestMode: 'round_prefer_ceil', coordinateTransformationMode: 'asymmetric' });
    expect(values(pc).slice(0, 8)).toEqual([1, 2, 2, 3, 3, 4, 4, 4]);
  });
});

describe('Resize: float32 source coordinates (former fast-kernel/reference disagreements, answers from onnxruntime-node)', () => {
  // Each case once made the property test flaky: the reference found neighbours by sorting |x + pad - p|,
  // where x + pad rounds a tiny x away, and both sides computed coordinates in float64 while onnxruntime uses
  // float32. The expected values are onnxruntime-node 1.30's outputs for the same one-node models.
  const both = (x: Tensor, o: ResizeOptions, want: readonly number[], dims: readonly number[]): void => {
    expectValues(ops.resize(x, o), want, dims, 0);
    expectValues(refResize(x, canonicalArgs(x.dims, o)), want, dims, 0);
  };

  it('tf_crop_and_resize with a denormal roi end: j * 1e-45 / 3 underflows to 0 in float32, so ceil picks 0', () => {
    const x = t('float32', [0, -0.0001], [1, 1, 2, 1]);
    const o: ResizeOptions = { coordinateTransformationMode: 'tf_crop_and_resize', nearestMode: 'ceil', axes: [2, -1], roi: [0, 0, 7.006492321624087e-46, 0], scales: [2, 1] };
    both(x, o, [0, 0, -0.0001, -0.0001].map(Math.fround), [1, 1, 4, 1]);
  });

  it('half_pixel_symmetric with not_larger sizes: x = 1.00000006 rounds to 1, not to the padded neighbour 0', () => {
    const o: ResizeOptions = { coordinateTransformationMode: 'half_pixel_symmetric', nearestMode: 'round_prefer_floor', sizes: [1, 1], keepAspectRatioPolicy: 'not_larger' };
    both(t('int32', range(15, 0), [1, 1, 5, 3]), { ...o, axes: [2, 3] }, [7], [1, 1, 1, 1]);
    both(t('bool', [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 5, 3]), { ...o, axes: [2, -1] }, [1], [1, 1, 1, 1]);
  });

  it('tf_crop_and_resize with a denormal roi: x = 2.7e-42 is inside the crop box and ceil picks 1', () => {
    const o: ResizeOptions = { coordinateTransformationMode: 'tf_crop_and_resize', nearestMode: 'ceil', extrapolationValue: 10, roi: [-2.476e-306, 1.3637e-42], sizes: [2], keepAspectRatioPolicy: 'not_smaller' };
    both(t('float32', [0, 0.002, 0.5], [3]), o, [0, Math.fround(0.002)], [2]);
    both(t('float16', [0, 0.002, 0.5], [3]), o, [0, 0.0020008087158203125], [2]);
  });

  it('tf_crop_and_resize rounds like float32: 0.1f + 3 * (0.9f - 0.1f) / 6 is 0.49999997, below the tie', () => {
    // linear reads the coordinate back as a value (input [0, 1]); onnxruntime gives the same float32 numbers
    const o: ResizeOptions = { mode: 'linear', coordinateTransformationMode: 'tf_crop_and_resize', roi: [0.1, 0.9], sizes: [7] };
    const want = [0.10000000149011612, 0.23333331942558289, 0.36666664481163025, 0.4999999701976776, 0.6333333253860474, 0.7666666507720947, 0.8999999761581421];
    expectValues(ops.resize(t('float32', [0, 1], [2]), o), want, [7], 1e-7);
    // nearest sees the same 0.49999997, which is not a tie: round_prefer_ceil keeps index 0. (onnxruntime 1.30's
    // nearest path treats |frac - 0.5| <= ~1e-6 as a tie and picks 1; we evaluate the spec exactly in float32.)
    expect(values(ops.resize(t('float32', [0, 1], [2]), { ...o, mode: 'nearest', nearestMode: 'round_prefer_ceil' }))).toEqual([0, 0, 0, 0, 1, 1, 1]);
  });
});

describe('Resize and Upsample: older opset forms', () => {
  const x22 = t('float32', [1, 2, 3, 4], [1, 1, 2, 2]);
  const repeat2 = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4];
  const scales = t('float32', [1, 1, 2, 2], [4]);

  it('Resize-10 (X, scales) nearest repeats and linear is asymmetric', () => {
    expectValues(runOp('Resize', [x22, scales], { mode: 'nearest' }, { opset: 10 })[0]!, repeat2, [1, 1, 4, 4]);
    expectValues(runOp('Resize', [x22, scales], { mode: 'linear' }, { opset: 10 })[0]!, [1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4], [1, 1, 4, 4]);
  });

  it('Resize-11/13 with empty roi/scales placeholders (PP-OCR detector form: asymmetric + floor)', () => {
    const emptyRoi = t('float32', [], [0]);
    const attrs = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    expectValues(runOp('Resize', [x22, emptyRoi, scales], attrs, { opset: 11 })[0]!, repeat2, [1, 1, 4, 4]);
    const sizes = t('int64', [1, 1, 4, 4], [4]);
    expectValues(runOp('Resize', [x22, emptyRoi, t('float32', [], [0]), sizes], attrs, { opset: 13 })[0]!, repeat2, [1, 1, 4, 4]);
  });

  it('Upsample-7 (scales attribute) and Upsample-9 (scales input)', () => {
    expectValues(runOp('Upsample', [x22], { mode: 'nearest', scales: [1, 1, 2, 2] }, { opset: 7 })[0]!, repeat2, [1, 1, 4, 4]);
    expectValues(runOp('Upsample', [x22, scales], { mode: 'nearest' }, { opset: 9 })[0]!, repeat2, [1, 1, 4, 4]);
    const lin = runOp('Upsample', [x22, scales], { mode: 'linear' }, { opset: 9 })[0]!;
    expectValues(lin, [1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4], [1, 1, 4, 4]);
  });

  it('nearest works on every dtype, including bool, int64 and float16 (bit-exact copies)', () => {
    for (const type of ['bool', 'int64', 'float16', 'uint8', 'int8'] as DataType[]) {
      const x = t(type, [1, 0, 1, 1], [1, 1, 2, 2]);
      const y = ops.resize(x, { scales: [1, 1, 2, 2] });
      expect(y.type).toBe(type);
      expect(values(y)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    }
  });

  it('linear on integers rounds and cubic on uint8 saturates', () => {
    expect(values(ops.resize(t('int32', [0, 3], [2]), { mode: 'linear', sizes: [4] }))).toEqual([0, 1, 2, 3]); // 0, 0.75, 2.25, 3
    const y = ops.resize(t('uint8', [0, 255, 255, 0, 0], [5]), { mode: 'cubic', sizes: [9] });
    expect(values(y).every((v) => v >= 0 && v <= 255)).toBe(true);
  });
});

describe('Resize: bad inputs', () => {
  const x = t('float32', range(4), [1, 1, 2, 2]);
  const expectError = (f: () => unknown, re: RegExp): void => {
    expect(f).toThrow(OpValidationError);
    expect(f).toThrow(re);
  };

  it('rejects scales and sizes both given, or neither', () => {
    expectError(() => ops.resize(x, { scales: [1, 1, 2, 2], sizes: [1, 1, 4, 4] }), /'scales' and 'sizes' are both given/);
    expectError(() => ops.resize(x, {}), /neither 'scales' nor 'sizes'/);
    expectError(() => runOp('Resize', [x, undefined, t('float32', [], [0]), t('int64', [], [0])], {}, { opset: 13 }), /neither/);
  });

  it('rejects bad mode strings and flags', () => {
    expectError(() => runOp('Resize', [x, undefined, t('float32', [1, 1, 2, 2], [4])], { mode: 'bilinear' }), /'mode' is "bilinear"; expected one of nearest, linear, cubic/);
    expectError(() => runOp('Resize', [x, undefined, t('float32', [1, 1, 2, 2], [4])], { coordinate_transformation_mode: 'corners' }), /'coordinate_transformation_mode' is "corners"/);
    expectError(() => runOp('Resize', [x, undefined, t('float32', [1, 1, 2, 2], [4])], { nearest_mode: 'round' }), /'nearest_mode' is "round"/);
    expectError(() => runOp('Resize', [x, undefined, undefined, t('int64', [1, 1, 3, 3], [4])], { keep_aspect_ratio_policy: 'fit' }), /'keep_aspect_ratio_policy' is "fit"/);
    expectError(() => runOp('Resize', [x, t('float32', [1, 1, 2, 2], [4])], { mode: 'cubic' }, { opset: 10 }), /'mode' is "cubic"; expected one of nearest, linear$/);
    expectError(() => runOp('Resize', [x, undefined, t('float32', [1, 1, 2, 2], [4])], { antialias: 2 }), /'antialias' is 2/);
  });

  it('rejects wrong lengths of scales, sizes, roi and bad axes', () => {
    expectError(() => ops.resize(x, { scales: [2, 2] }), /'scales' has 2 values; expected 4 \(the rank of 'X' \[1, 1, 2, 2\]\)/);
    expectError(() => ops.resize(x, { sizes: [4], axes: [2, 3] }), /'sizes' has 1 values; expected 2 \(the length of 'axes' \[2, 3\]\)/);
    expectError(() => ops.resize(x, { scales: [2, 2], axes: [2, 2] }), /repeats an axis/);
    expectError(() => ops.resize(x, { scales: [2, 2], axes: [2, 4] }), /axis 4 out of range/);
    expectError(() => ops.resize(x, { mode: 'linear', coordinateTransformationMode: 'tf_crop_and_resize', roi: [0, 1], sizes: [3, 3], axes: [2, 3] }), /'roi' has 2 values; expected 4/);
  });

  it('rejects non-positive scales, negative sizes, bool with linear, growing an empty axis', () => {
    expectError(() => ops.resize(x, { scales: [1, 1, 0, 2] }), /scale 0 for axis 2 must be a positive/);
    // scales are float: a float64 scale that underflows float32 is rejected rather than divided by
    expectError(() => runOp('Resize', [x, undefined, t('float64', [1, 1, 1e-50, 1], [4])], {}), /scale 1e-50 for axis 2 is outside the float32 range/);
    expectError(() => ops.resize(x, { sizes: [1, 1, -1, 2] }), /size -1 for axis 2/);
    expectError(() => ops.resize(t('bool', [1, 0], [2]), { mode: 'linear', scales: [2] }), /type bool; mode 'linear'/);
    expectError(() => ops.resize(t('float32', [], [0, 2]), { sizes: [3, 2] }), /cannot resize axis 0 .* from 0 to 3/);
    expectError(() => runOp('Upsample', [x, t('float32', [1, 1, 0.5, 2], [4])], { mode: 'nearest' }, { opset: 9 }), /must be >= 1/);
    expectError(() => runOp('Upsample', [x], { mode: 'nearest' }, { opset: 9 }), /'scales' is required/);
  });

  it('rejects a sizes input of the wrong dtype', () => {
    expectError(() => runOp('Resize', [x, undefined, undefined, t('float32', [1, 1, 4, 4], [4])], {}), /'sizes' has type float32; expected int64/);
  });
});
