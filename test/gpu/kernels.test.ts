/**
 * Every GPU kernel against the CPU kernel on random shapes and attributes (float32 tolerance), run through
 * runOp with backend 'gpu'. Outputs must come back resident on the GPU (location 'gpu') for the shader
 * paths, and the CPU result is the reference. Shapes stay small and numRuns modest: each new shape compiles
 * a shader on a software rasterizer (Mesa llvmpipe here), which costs tens to hundreds of milliseconds.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import '../../src/kernels/gpu/index.js';
import { GPU_ELEMENTWISE_OPS } from '../../src/kernels/gpu/elementwise.js';
import { GPU_REDUCE_OPS } from '../../src/kernels/gpu/reduce.js';
import { GpuTensor } from '../../src/kernels/gpu/runtime.js';
import type { AttrValue } from '../../src/kernels/registry.js';
import { runOp } from '../../src/ops/dispatch.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor, fromNumbers } from '../../src/tensor/tensor.js';
import { arbBroadcastPair, arbShape, expectClose, randomTensor } from '../util/tensors.js';
import { describeGpu } from './gpu-env.js';

const RUNS = 6;
const TOL = { rtol: 1e-4, atol: 1e-5 };

type Attrs = Record<string, AttrValue | undefined>;

/** Run `op` on both backends and compare every output; returns the GPU outputs' locations. */
function same(op: string, inputs: (Tensor | undefined)[], attrs: Attrs = {}, tol = TOL, opset?: number): string[] {
  const want = runOp(op, inputs, attrs, { backend: 'cpu', opset });
  const got = runOp(op, inputs, attrs, { backend: 'gpu', opset });
  expect(got.length).toBe(want.length);
  const locations = got.map((t) => t.location);
  got.forEach((g, i) => {
    expectClose(g, want[i]!, { ...tol, label: `${op} output ${i}` });
    g.dispose();
    want[i]!.dispose();
  });
  return locations;
}

let seed = 1;
const rnd = (dims: readonly number[], range = 1): Tensor => randomTensor('float32', dims, seed++, range);
const positive = (dims: readonly number[]): Tensor => {
  const t = rnd(dims);
  return fromNumbers('float32', Array.from(t.numbers(), (v) => Math.abs(v) + 0.1), dims);
};

describeGpu('GPU kernels match the CPU kernels', () => {
  it('unary math and activations, on random shapes', () => {
    const domainSafe: Record<string, (dims: number[]) => Tensor> = {
      Log: positive,
      Sqrt: positive,
      Reciprocal: positive,
      Acosh: (d) => fromNumbers('float32', Array.from(positive(d).numbers(), (v) => v + 1), d),
      Asin: (d) => rnd(d, 0.9),
      Acos: (d) => rnd(d, 0.9),
      Atanh: (d) => rnd(d, 0.9),
    };
    const unary = GPU_ELEMENTWISE_OPS.filter((op) => !['Add', 'Sub', 'Mul', 'Div', 'Pow', 'PRelu', 'Sum', 'Mean', 'Max', 'Min', 'Clip', 'Where'].includes(op));
    for (const op of unary) {
      const dims = [2, 3, 5];
      const x = (domainSafe[op] ?? ((d: number[]) => rnd(d, 3)))(dims);
      const attrs: Attrs = op === 'Gelu' ? { approximate: 'tanh' } : {};
      expect(same(op, [x], attrs, { rtol: 1e-4, atol: 2e-6 })).toEqual(['gpu']);
      if (op === 'Gelu') same(op, [x], {}, { rtol: 1e-4, atol: 2e-6 });
    }
  });

  it('Round is half to even, Sign of zero is zero', () => {
    const x = new Tensor('float32', Float32Array.from([-2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 2.4, -2.6]), [9]);
    same('Round', [x]);
    same('Sign', [x]);
  });

  it('broadcasting binary ops on random shape pairs', () => {
    fc.assert(
      fc.property(arbBroadcastPair({ maxRank: 4, maxDim: 4 }), fc.constantFrom('Add', 'Sub', 'Mul', 'Div', 'PRelu', 'Max', 'Min', 'Pow'), ([da, db], op) => {
        const a = op === 'Pow' ? positive(da) : rnd(da, 2);
        const b = op === 'Div' ? positive(db) : rnd(db, 2);
        if (op === 'PRelu') {
          // PRelu broadcasts the slope to X only (a scalar slope when db has more dims than X)
          same(op, [a, rnd(db.length <= da.length ? db.map((d, i) => (d === da[da.length - db.length + i] ? d : 1)) : [])]);
        } else same(op, [a, b]);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('Pow with a negative base and integer exponents keeps the sign rules', () => {
    const x = new Tensor('float32', Float32Array.from([-2, -1.5, 0, 3, -3]), [5]);
    same('Pow', [x, new Tensor('float32', Float32Array.from([3]), [])]);
    same('Pow', [x, new Tensor('float32', Float32Array.from([2]), [])]);
    same('Pow', [x, new Tensor('float32', Float32Array.from([0]), [])]);
  });

  it('variadic Sum/Mean/Max/Min and Clip', () => {
    for (const op of ['Sum', 'Mean', 'Max', 'Min']) same(op, [rnd([2, 3]), rnd([3]), rnd([2, 1])]);
    const scalar = (v: number): Tensor => new Tensor('float32', Float32Array.from([v]), []);
    same('Clip', [rnd([4, 5], 3), scalar(-1), scalar(0.5)]);
    same('Clip', [rnd([4, 5], 3), undefined, scalar(0.5)]);
    same('Clip', [rnd([7], 3)], { min: -0.5, max: 2 }, TOL, 6);
  });

  it('MatMul with batch broadcasting and 1-D operands', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 6 }),
        arbBroadcastPair({ maxRank: 2, maxDim: 3 }),
        fc.constantFrom('both', 'a1d', 'b1d'),
        (m, k, n, [ba, bb], form) => {
          const a = form === 'a1d' ? rnd([k]) : rnd([...ba, m, k]);
          const b = form === 'b1d' ? rnd([k]) : rnd([...bb, k, n]);
          if (a.size === 0 || b.size === 0) return;
          same('MatMul', [a, b]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('Gemm with transposes, alpha, beta and broadcast C', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.boolean(), fc.constantFrom('none', 'row', 'full', 'scalar'), (m, k, n, ta, tb, cForm) => {
        const a = rnd(ta ? [k, m] : [m, k]);
        const b = rnd(tb ? [n, k] : [k, n]);
        const c = cForm === 'none' ? undefined : rnd(cForm === 'row' ? [n] : cForm === 'full' ? [m, n] : []);
        same('Gemm', [a, b, c], { transA: ta ? 1 : 0, transB: tb ? 1 : 0, alpha: 0.7, beta: 1.3 });
      }),
      { numRuns: RUNS },
    );
  });

  it('Conv: groups, depthwise, strides, dilations, pads, 1-D and 2-D', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          groups: fc.integer({ min: 1, max: 3 }),
          cg: fc.integer({ min: 1, max: 3 }),
          mg: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 3, max: 7 }),
          w: fc.integer({ min: 3, max: 7 }),
          k: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 2 }),
          d: fc.integer({ min: 1, max: 2 }),
          p: fc.integer({ min: 0, max: 2 }),
          oneD: fc.boolean(),
          bias: fc.boolean(),
        }),
        (g) => {
          const c = g.groups * g.cg;
          const m = g.groups * g.mg;
          if ((g.k - 1) * g.d + 1 > g.w + 2 * g.p || (!g.oneD && (g.k - 1) * g.d + 1 > g.h + 2 * g.p)) return;
          const x = rnd(g.oneD ? [g.n, c, g.w] : [g.n, c, g.h, g.w]);
          const w = rnd(g.oneD ? [m, g.cg, g.k] : [m, g.cg, g.k, g.k]);
          const r = g.oneD ? 1 : 2;
          same('Conv', [x, w, g.bias ? rnd([m]) : undefined], {
            group: g.groups,
            strides: new Array(r).fill(g.s),
            dilations: new Array(r).fill(g.d),
            pads: new Array(2 * r).fill(g.p),
          });
        },
      ),
      { numRuns: RUNS },
    );
    // depthwise, asymmetric pads
    same('Conv', [rnd([1, 4, 6, 5]), rnd([4, 1, 3, 3]), rnd([4])], { group: 4, pads: [1, 0, 0, 1] });
  });

  it('ConvTranspose: strides, pads, output_padding, groups', () => {
    fc.assert(
      fc.property(
        fc.record({ groups: fc.integer({ min: 1, max: 2 }), cg: fc.integer({ min: 1, max: 2 }), mg: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), p: fc.integer({ min: 0, max: 1 }), bias: fc.boolean() }),
        (g) => {
          const c = g.groups * g.cg;
          if (2 * g.p >= (g.h - 1) * g.s + g.k) return;
          same('ConvTranspose', [rnd([1, c, g.h, g.h + 1]), rnd([c, g.mg, g.k, g.k]), g.bias ? rnd([g.groups * g.mg]) : undefined], {
            group: g.groups,
            strides: [g.s, g.s],
            pads: [g.p, g.p, g.p, g.p],
            output_padding: g.s > 1 ? [1, 0] : [0, 0],
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('MaxPool, AveragePool (count_include_pad, ceil_mode), global pools', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.boolean(), fc.boolean(), (k, s, p, ceil, include, oneD) => {
        const x = rnd(oneD ? [1, 2, 7] : [1, 2, 6, 7]);
        const r = oneD ? 1 : 2;
        if (p >= k) return;
        const attrs = { kernel_shape: new Array(r).fill(k), strides: new Array(r).fill(s), pads: new Array(2 * r).fill(p), ceil_mode: ceil ? 1 : 0 };
        same('MaxPool', [x], attrs);
        same('AveragePool', [x], { ...attrs, count_include_pad: include ? 1 : 0 });
      }),
      { numRuns: RUNS },
    );
    same('GlobalAveragePool', [rnd([2, 3, 4, 5])]);
    same('GlobalMaxPool', [rnd([2, 3, 4, 5])]);
  });

  it('BatchNormalization and LayerNormalization (with Mean and InvStdDev outputs)', () => {
    same('BatchNormalization', [rnd([2, 3, 4, 5]), rnd([3]), rnd([3]), rnd([3]), positive([3])], { epsilon: 1e-5 });
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 5 }), fc.nat(), (dims, a) => {
        const axis = -1 - (a % dims.length);
        const norm = dims.slice(dims.length + axis);
        const ins = [rnd(dims, 2), rnd(norm), rnd(norm)];
        const want = runOp('LayerNormalization', ins, { axis, epsilon: 1e-5 }, { backend: 'cpu', numOutputs: 3 });
        const got = runOp('LayerNormalization', ins, { axis, epsilon: 1e-5 }, { backend: 'gpu', numOutputs: 3 });
        got.forEach((g, i) => expectClose(g, want[i]!, { rtol: 1e-4, atol: 1e-5, label: `LayerNormalization output ${i}` }));
        for (const t of [...got, ...want]) t.dispose();
      }),
      { numRuns: RUNS },
    );
  });

  it('Softmax and LogSoftmax, opset 13 axis and opset 11 2-D coercion', () => {
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 5 }), fc.nat(), fc.constantFrom(11, 13), (dims, a, opset) => {
        const axis = (a % (2 * dims.length)) - dims.length;
        const x = rnd(dims, 4);
        same('Softmax', [x], { axis }, TOL, opset);
        same('LogSoftmax', [x], { axis }, TOL, opset);
      }),
      { numRuns: RUNS },
    );
  });

  it('reductions over random axes, keepdims both ways', () => {
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 4 }), fc.constantFrom(...GPU_REDUCE_OPS), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), fc.boolean(), (dims, op, picks, keep) => {
        const axes = [...new Set(picks.map((p) => p % dims.length))];
        const x = op === 'ReduceLogSum' || op === 'ReduceProd' ? positive(dims) : rnd(dims, 2);
        const axesT = new Tensor('int64', BigInt64Array.from(axes, (v) => BigInt(v)), [axes.length]);
        same(op, [x, axesT], { keepdims: keep ? 1 : 0 }, { rtol: 1e-4, atol: 1e-5 });
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('Transpose, Slice (negative steps), Concat, Split, Expand, Gather (negative indices)', () => {
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 4 }), fc.nat(), (dims, r) => {
        const x = rnd(dims);
        const perm = [...dims.keys()].sort((p, q) => ((p * 7 + r) % 5) - ((q * 7 + r) % 5));
        same('Transpose', [x], { perm });
        const axis = r % dims.length;
        const i64 = (v: number[]): Tensor => new Tensor('int64', BigInt64Array.from(v, (n) => BigInt(n)), [v.length]);
        same('Slice', [x, i64([-1]), i64([-100]), i64([axis]), i64([-2])]);
        same('Slice', [x, i64([1]), i64([3]), i64([axis]), i64([1])]);
        same('Concat', [x, rnd(dims.map((d, i) => (i === axis ? d + 1 : d))), x], { axis: axis - dims.length });
        const idx = new Tensor('int64', BigInt64Array.from([0, -1, 0].map((v) => BigInt(v))), [3]);
        same('Gather', [x, idx], { axis });
        same('Expand', [rnd(dims.map((d, i) => (i === axis ? 1 : d))), i64([2, ...dims])]);
        if (dims[axis]! >= 2) same('Split', [x, i64([1, dims[axis]! - 1])], { axis });
      }),
      { numRuns: RUNS },
    );
  });

  it('Resize: nearest and linear (half_pixel, align_corners, asymmetric), up and down', () => {
    const x = rnd([1, 2, 5, 6]);
    const f32 = (v: number[]): Tensor => new Tensor('float32', Float32Array.from(v), [v.length]);
    for (const mode of ['nearest', 'linear', 'cubic']) {
      for (const ctm of ['half_pixel', 'align_corners', 'asymmetric', 'pytorch_half_pixel']) {
        same('Resize', [x, undefined, f32([1, 1, 2, 0.5])], { mode, coordinate_transformation_mode: ctm });
        same('Resize', [x, undefined, f32([1, 1, 0.6, 1.5])], { mode, coordinate_transformation_mode: ctm });
      }
    }
  });

  it('DequantizeLinear of int8 per tensor and per axis; Cast of float16 decoded in the shader', () => {
    const q = fromNumbers('int8', [-128, -5, 0, 7, 127, 3], [2, 3]);
    same('DequantizeLinear', [q, new Tensor('float32', Float32Array.from([0.05]), []), fromNumbers('int8', [3], [])]);
    same('DequantizeLinear', [q, new Tensor('float32', Float32Array.from([0.5, 0.25]), [2]), fromNumbers('int8', [1, -2], [2])], { axis: 0 });
    const half = fromNumbers('float16', [0, -0, 1, -2.5, 65504, 6.1e-5, 3e-7, 0.1, -1234.5], [9]);
    expect(same('Cast', [half], { to: 1 })).toEqual(['gpu']);
  });

  it('outputs stay on the GPU and chain without downloads; integer shape arithmetic stays on the host', () => {
    const a = runOp('Relu', [rnd([3, 4])], {}, { backend: 'gpu' })[0]!;
    expect(a).toBeInstanceOf(GpuTensor);
    const b = runOp('Reshape', [a, new Tensor('int64', BigInt64Array.from([4n, 3n]), [2])], {}, { backend: 'gpu' })[0]!;
    expect(b.location).toBe('gpu');
    const shape = runOp('Shape', [b], {}, { backend: 'gpu' })[0]!;
    expect(shape.location).toBe('cpu');
    expect(Array.from(shape.data as BigInt64Array)).toEqual([4n, 3n]);
    for (const t of [a, b, shape]) t.dispose();
  });

  it('Where broadcasts a host bool condition over float32 X and Y', () => {
    fc.assert(
      fc.property(arbBroadcastPair({ maxRank: 4, maxDim: 4 }), fc.nat(), ([dc, dx], bits) => {
        const n = dc.reduce((p, d) => p * d, 1);
        const cond = new Tensor('bool', Uint8Array.from({ length: n }, (_, i) => ((bits >> i % 31) ^ i) & 1), dc);
        const locations = same('Where', [cond, rnd(dx, 3), rnd(dc, 3)]);
        // a non-empty result stays on the GPU (an empty one has no texture)
        if (dx.every((d) => d > 0) && dc.every((d) => d > 0)) expect(locations).toEqual(['gpu']);
      }),
      { numRuns: RUNS },
    );
  });

  it('Pad: constant (input and opset 2 attribute), edge, reflect, wrap, negative pads, axes', () => {
    const i64 = (v: number[]): Tensor => new Tensor('int64', BigInt64Array.from(v, (n) => BigInt(n)), [v.length]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 2, max: 4 }), { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 8, maxLength: 8 }), fc.constantFrom('constant', 'edge', 'reflect', 'wrap'), (dims, raw, mode) => {
        const rank = dims.length;
        // reflect and wrap fold within the axis: keep their pads below the axis length
        const pads = [...raw.slice(0, rank), ...raw.slice(4, 4 + rank)].map((p, k) => (mode === 'constant' || mode === 'edge' ? p : Math.min(p, dims[k % rank]! - 2)));
        const x = rnd(dims, 3);
        const locations = same('Pad', [x, i64(pads), mode === 'constant' ? new Tensor('float32', Float32Array.of(-7.5), []) : undefined], { mode });
        if (dims.every((d, k) => d + pads[k]! + pads[k + rank]! > 0)) expect(locations).toEqual(['gpu']);
      }),
      { numRuns: RUNS * 2 },
    );
    const x = rnd([2, 3, 4]);
    same('Pad', [x], { mode: 'constant', pads: [0, 1, 2, 1, 0, -1], value: 2.5 }, TOL, 2);
    same('Pad', [x, i64([2, -1]), undefined, i64([-1])], { mode: 'reflect' }, TOL, 18);
    // hand-computed: reflect [1, 2, 3] by 2 on both sides
    const r = runOp('Pad', [fromNumbers('float32', [1, 2, 3], [3]), i64([2, 2])], { mode: 'reflect' }, { backend: 'gpu' })[0]!;
    expect(Array.from(r.numbers())).toEqual([3, 2, 1, 2, 3, 2, 1]);
    r.dispose();
  });

  it('InstanceNormalization and GroupNormalization (opset 18 per-group and opset 21 per-channel scale)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.constantFrom(1, 2, 3), fc.integer({ min: 1, max: 3 }), fc.constantFrom([1], [3], [2, 3]), (n, groups, perGroup, spatial) => {
        const c = groups * perGroup;
        const dims = [n, c, ...spatial];
        const x = rnd(dims, 3);
        same('InstanceNormalization', [x, rnd([c]), rnd([c])], { epsilon: 1e-5 }, TOL);
        same('GroupNormalization', [x, rnd([c]), rnd([c])], { num_groups: groups, epsilon: 1e-5 }, TOL, 21);
        same('GroupNormalization', [x, rnd([groups]), rnd([groups])], { num_groups: groups, epsilon: 1e-5 }, TOL, 18);
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('infinities pass exactly: ReduceMax/Min and max pools of -Infinity, float16 Infinity cast', () => {
    const inf = new Tensor('float32', Float32Array.from([-Infinity, -Infinity, 1, -Infinity, 2, -Infinity]), [1, 2, 3]);
    for (const op of ['ReduceMax', 'ReduceMin']) {
      const out = runOp(op, [inf, new Tensor('int64', BigInt64Array.of(1n), [1])], { keepdims: 0 }, { backend: 'gpu' })[0]!;
      const want = runOp(op, [inf, new Tensor('int64', BigInt64Array.of(1n), [1])], { keepdims: 0 }, { backend: 'cpu' })[0]!;
      expect(Array.from(out.numbers())).toEqual(Array.from(want.numbers()));
      out.dispose();
    }
    const pooled = runOp('GlobalMaxPool', [inf.reshape([1, 2, 3, 1])], {}, { backend: 'gpu' })[0]!;
    expect(Array.from(pooled.numbers())).toEqual([1, 2]);
    pooled.dispose();
    const allInf = new Tensor('float32', new Float32Array(4).fill(-Infinity), [1, 1, 2, 2]);
    const mp = runOp('MaxPool', [allInf], { kernel_shape: [2, 2] }, { backend: 'gpu' })[0]!;
    expect(Array.from(mp.numbers())).toEqual([-Infinity]);
    mp.dispose();
    const half = runOp('Cast', [fromNumbers('float16', [Infinity, -Infinity, NaN, 1], [4])], { to: 1 }, { backend: 'gpu' })[0]!;
    expect(Array.from(half.numbers())).toEqual([Infinity, -Infinity, NaN, 1]);
    half.dispose();
  });

  it('fused operators (com.tessera FusedConv/FusedGemm/FusedMatMul) with every activation stay on the GPU', () => {
    const acts: [string, number[]][] = [['Relu', []], ['LeakyRelu', [0.2]], ['Clip', [-0.5, 0.5]], ['Sigmoid', []], ['HardSigmoid', [0.3, 0.4]], ['Tanh', []], ['HardSwish', []]];
    const x = rnd([1, 2, 5, 5], 2);
    const w = rnd([3, 2, 3, 3]);
    for (const [activation, activation_params] of acts) {
      const cases: [string, Tensor[], Attrs][] = [
        ['FusedConv', [x, w, rnd([3])], { pads: [1, 1, 1, 1] }],
        ['FusedGemm', [rnd([3, 4], 2), rnd([4, 2]), rnd([2])], {}],
        ['FusedMatMul', [rnd([2, 3, 4], 2), rnd([4, 5])], {}],
      ];
      for (const [op, ins, attrs] of cases) {
        const all = { ...attrs, activation, activation_params };
        const opts = { opset: 1, domain: 'com.tessera' };
        const want = runOp(op, ins, all, { ...opts, backend: 'cpu' })[0]!;
        const got = runOp(op, ins, all, { ...opts, backend: 'gpu' })[0]!;
        expect(got.location).toBe('gpu');
        expectClose(got, want, { rtol: 1e-4, atol: 1e-5, label: `${op} ${activation}` });
        got.dispose();
      }
    }
    // a 3-D FusedConv has no shader: the base and the activation run on the host
    const want = runOp('FusedConv', [rnd([1, 1, 3, 3, 3]), rnd([1, 1, 2, 2, 2])], { activation: 'Relu' }, { opset: 1, domain: 'com.tessera', backend: 'cpu' })[0]!;
    seed -= 2;
    const got = runOp('FusedConv', [rnd([1, 1, 3, 3, 3]), rnd([1, 1, 2, 2, 2])], { activation: 'Relu' }, { opset: 1, domain: 'com.tessera', backend: 'gpu' })[0]!;
    expect(got.location).toBe('cpu');
    expectClose(got, want, { rtol: 1e-5, atol: 1e-6, label: 'FusedConv 3-D on the host' });
  });

  it('validation errors are the same as on the CPU', () => {
    expect(() => runOp('Conv', [rnd([1, 2, 4, 4]), rnd([3, 3, 3])], {}, { backend: 'gpu' })).toThrow(OpValidationError);
    expect(() => runOp('MatMul', [rnd([2, 3]), rnd([4, 2])], {}, { backend: 'gpu' })).toThrow(/MatMul/);
  });
});
