/**
 * The integer fast path of QDQConv / QDQMatMul / QDQGemm (src/kernels/cpu/gemm-int8.ts and quant-fused.ts)
 * against its reference twins:
 *   - int8Gemm: exact (int32) against a plain triple loop, extreme codes included;
 *   - quantizeCodes / fakeQuantizeSimd: bit for bit against fakeQuantize (ties, saturation, NaN, +-0, Inf);
 *   - the QDQ kernels against src/kernels/cpu/reference/quant-fused.ts (the literal QDQ graph) within the
 *     documented rounding bound: the fast path sums exact integer products and scales once, the graph rounds
 *     every x' and w' to float32 (relative 2^-24 each) and sums in double, so per output
 *       |fast - graph| <= L * (2^-22 * sum |x'| |w'| + 2^-22 * |graph|) + 1e-30
 *     with L the activation's Lipschitz constant (1.5 for HardSwish, 1 otherwise);
 *   - the depthwise path and the disabled fast path (setInt8Gemm(false)) equal the literal graph bit for bit.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { cachedPackedInt8B, fakeQuantizeSimd, int8Gemm, int8GemmAvailable, int8GemmQuantized, packInt8B, quantizeCodes, setInt8Gemm } from '../../src/kernels/cpu/gemm-int8.js';
import { integerMatmul, integerRowsTimesMatrix } from '../../src/kernels/cpu/integer-gemm.js';
import { fakeQuantize } from '../../src/kernels/cpu/quant-fused.js';
import { refConv } from '../../src/kernels/cpu/reference/conv.js';
import { referenceGemm, referenceMatMul } from '../../src/kernels/cpu/reference/gemm.js';
import { refFakeQuantize, refQdqConv, refQdqGemm, refQdqMatMul } from '../../src/kernels/cpu/reference/quant-fused.js';
import { refDequantizeLinear } from '../../src/kernels/cpu/reference/quantize.js';
import '../../src/ops/index.js';
import { qdqOp } from '../../src/ops/quant-fused.js';
import { quantizeTensor } from '../../src/quant/math.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectBitwise, randomTensor } from '../util/tensors.js';

const scalar = (v: number): Tensor => new Tensor('float32', Float32Array.from([v]), []);
const u8 = (v: number): Tensor => new Tensor('uint8', Uint8Array.from([v]), []);
const i8 = (v: number): Tensor => new Tensor('int8', Int8Array.from([v]), []);

function int8Weight(dims: number[], axis: number, seed: number): { w: Tensor; scale: Tensor } {
  const q = quantizeTensor(randomTensor('float32', dims, seed, 1), { type: 'int8', symmetric: true }, axis);
  return { w: q.q, scale: q.scale };
}

function abs(t: Tensor): Tensor {
  return new Tensor('float32', Float32Array.from(t.numbers(), Math.abs), t.dims);
}

/** |got - want| <= lipschitz * (2^-22 * absSum + 2^-22 * |want|) + 1e-30, element by element. */
function expectWithinBound(got: Tensor, want: Tensor, absSum: Tensor, lipschitz: number): void {
  expect([...got.dims]).toEqual([...want.dims]);
  const g = got.numbers();
  const w = want.numbers();
  const s = absSum.numbers();
  for (let i = 0; i < w.length; i++) {
    const bound = lipschitz * (2 ** -22 * s[i]! + 2 ** -22 * Math.abs(w[i]!)) + 1e-30;
    if (!(Math.abs(g[i]! - w[i]!) <= bound)) throw new Error(`element ${i}: got ${g[i]}, reference ${w[i]}, bound ${bound}`);
  }
}

afterEach(() => {
  setInt8Gemm(true);
});

describe('int8Gemm', () => {
  it('runs here (WebAssembly SIMD in Node)', () => {
    expect(int8GemmAvailable()).toBe(true);
  });

  it('equals the integer triple loop exactly (row blocks, column panels, odd K, K = 0, extreme codes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (m, k, n, extreme, seed) => {
        let s = seed;
        const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
        const a = Int16Array.from({ length: m * k }, () => (extreme ? (next() < 0.5 ? -255 : 255) : Math.floor(next() * 511) - 255));
        const b = Int8Array.from({ length: k * n }, () => (extreme ? (next() < 0.5 ? -128 : 127) : Math.floor(next() * 256) - 128));
        const got = new Float64Array(m * n).fill(NaN);
        int8Gemm(m, packInt8B(b, 0, n, 1, k, n), (dst, at, kp, row0, rows) => {
          for (let r = 0; r < rows; r++) for (let q = 0; q < k; q++) dst[at + ((r >> 2) * kp + (q >> 1)) * 8 + (r & 3) * 2 + (q & 1)] = a[(row0 + r) * k + q]!;
        }, (acc, at, ldc, row0, rows) => {
          for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) got[(row0 + r) * n + j] = acc[at + r * ldc + j]!;
        });
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let want = 0;
            for (let q = 0; q < k; q++) want += a[i * k + q]! * b[q * n + j]!;
            if (got[i * n + j] !== want) throw new Error(`(${i}, ${j}) of ${m}x${k}x${n}: got ${got[i * n + j]}, want ${want}`);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('int8GemmQuantized (codes staged and packed in wasm) equals the triple loop over fakeQuantize codes, both layouts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (m, k, n, extra, channels, seed) => {
        const ld = m + extra;
        const count = channels ? k * ld : m * k;
        const offset = seed % 5;
        const x = randomTensor('float32', [offset + count], seed, 4).data as Float32Array;
        if (count > offset + 2) x[offset + 2] = NaN;
        const scale = Math.fround(0.03);
        const range = { scale, qlo: -100, qhi: 155, nan: -100 };
        const fq = new Float32Array(count);
        fakeQuantize(x.subarray(offset), scale, 100, 0, 255, fq);
        const code = (i: number): number => Math.round(fq[i]! / scale);
        const b = Int8Array.from({ length: k * n }, (_, i) => ((i * 7919 + seed) % 256) - 128);
        const got = new Float64Array(m * n).fill(NaN);
        int8GemmQuantized(x, offset, count, range, m, packInt8B(b, 0, n, 1, k, n), channels ? { kind: 'channels', ld } : { kind: 'rows' }, (acc, at, ldc, row0, rows) => {
          for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) got[(row0 + r) * n + j] = acc[at + r * ldc + j]!;
        });
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let want = 0;
            for (let q = 0; q < k; q++) want += code(channels ? q * ld + i : i * k + q) * b[q * n + j]!;
            if (got[i * n + j] !== want) throw new Error(`(${i}, ${j}) of ${m}x${k}x${n} (${channels ? 'channels' : 'rows'}): got ${got[i * n + j]}, want ${want}`);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('packs a strided (transposed) weight and caches the pack per weight array, offset and strides', () => {
    const w = Int8Array.from({ length: 6 * 5 }, (_, i) => (i * 37) % 255 - 127);
    const p = cachedPackedInt8B(w, 0, 1, 5, 5, 6);
    expect(cachedPackedInt8B(w, 0, 1, 5, 5, 6)).toBe(p);
    expect(cachedPackedInt8B(w, 5, 1, 5, 5, 5)).not.toBe(p);
    expect(p.data.length).toBe(Math.ceil(6 / 8) * Math.ceil(5 / 2) * 16);
    // B[k, n] = w[n * 5 + k]: panel 0, step k >> 1, column n, half k & 1
    for (let k = 0; k < 5; k++) for (let n = 0; n < 6; n++) expect(p.data[(k >> 1) * 16 + n * 2 + (k & 1)]).toBe(w[n * 5 + k]);
  });
});

describe('SIMD quantizers', () => {
  it('equal fakeQuantize bit for bit (ties, saturation, NaN, -0, Inf, tails, offsets, int8 and uint8 zero points)', () => {
    const specials = [0.25, 0.75, -0.25, -0.75, 1.25, 63.75, 64.25, -64.5, 200, -200, 1e30, -1e30, -Infinity, Infinity, 0, -0, NaN];
    fc.assert(
      fc.property(fc.array(fc.float({ noDefaultInfinity: false }), { minLength: 0, maxLength: 70 }), fc.constantFrom(['uint8', 0], ['uint8', 128], ['uint8', 255], ['int8', 0], ['int8', -5]), fc.float({ min: Math.fround(0.001), max: 4, noNaN: true }), fc.integer({ min: 0, max: 3 }), (xs, [type, zp], scale, offset) => {
        const values = Float32Array.from([...specials.map((v) => v * scale), ...xs]);
        const [lo, hi] = type === 'uint8' ? [0, 255] : [-128, 127];
        const n = values.length - offset;
        const want = new Float32Array(n);
        fakeQuantize(values.subarray(offset), scale, zp as number, lo, hi, want);
        const range = { scale, qlo: lo - (zp as number), qhi: hi - (zp as number), nan: -(zp as number) };
        const got = new Float32Array(n);
        fakeQuantizeSimd(values, offset, n, range, got);
        expectBitwise(new Tensor('float32', got, [n]), new Tensor('float32', want, [n]));
        const codes = new Int16Array(n);
        quantizeCodes(values, offset, n, range, codes);
        for (let i = 0; i < n; i++) expect(Math.fround(codes[i]! * scale)).toBe(want[i]! + 0);
      }),
      { numRuns: 80 },
    );
  });

  it('handles inputs longer than one quantizer chunk', () => {
    const n = 150_001;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    // scales are float32 values (X_scale is a float32 tensor); the SIMD quantizer holds them as float32
    const scale = Math.fround(0.03);
    const want = new Float32Array(n);
    fakeQuantize(x, scale, 7, -128, 127, want);
    const got = new Float32Array(n);
    fakeQuantizeSimd(x, 0, n, { scale, qlo: -135, qhi: 120, nan: -7 }, got);
    expectBitwise(new Tensor('float32', got, [n]), new Tensor('float32', want, [n]));
  });
});

describe('QDQ kernels on the integer GEMM against the literal QDQ graph', () => {
  // '' / Relu / HardSwish / HardSigmoid run in the wasm epilogue of Conv, LeakyRelu and Sigmoid in JavaScript
  const activations = fc.constantFrom('', 'Relu', 'HardSwish', 'HardSigmoid', 'LeakyRelu', 'Sigmoid');
  const paramsOf = (activation: string): number[] => (activation === 'HardSigmoid' ? [0.2, 0.5] : activation === 'LeakyRelu' ? [0.01] : []);

  it('QDQConv: groups, depthwise, 1x1, odd K, padding, strides, dilations, many channels and positions', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      groups: fc.integer({ min: 1, max: 3 }),
      cPerGroup: fc.integer({ min: 1, max: 7 }),
      mPerGroup: fc.integer({ min: 1, max: 19 }),
      depthwise: fc.boolean(),
      h: fc.integer({ min: 1, max: 14 }),
      w: fc.integer({ min: 1, max: 21 }),
      kh: fc.integer({ min: 1, max: 3 }),
      kw: fc.integer({ min: 1, max: 5 }),
      stride: fc.integer({ min: 1, max: 2 }),
      dilation: fc.integer({ min: 1, max: 2 }),
      pad: fc.integer({ min: 0, max: 2 }),
      perTensor: fc.boolean(),
      withBias: fc.boolean(),
      int8Input: fc.boolean(),
      activation: activations,
      seed: fc.integer({ min: 1, max: 10_000 }),
    });
    fc.assert(
      fc.property(arb, (p) => {
        const groups = p.depthwise ? p.cPerGroup * p.groups : p.groups;
        const cPerGroup = p.depthwise ? 1 : p.cPerGroup;
        const mPerGroup = p.depthwise ? 1 + (p.mPerGroup % 2) : p.mPerGroup;
        const c = groups * cPerGroup;
        const m = groups * mPerGroup;
        const kh = Math.min(p.kh, Math.floor((p.h + 2 * p.pad - 1) / p.dilation) + 1);
        const kw = Math.min(p.kw, Math.floor((p.w + 2 * p.pad - 1) / p.dilation) + 1);
        const x = randomTensor('float32', [p.n, c, p.h, p.w], p.seed, 2);
        const q = int8Weight([m, cPerGroup, kh, kw], 0, p.seed + 1);
        const scale = p.perTensor ? scalar(q.scale.numbers()[0]!) : q.scale;
        const bias = p.withBias ? randomTensor('float32', [m], p.seed + 2, 1) : undefined;
        const input = p.int8Input ? { scale: scalar(0.015), zeroPoint: i8(-3) } : { scale: scalar(0.02), zeroPoint: u8(100) };
        const attrs = { strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad], dilations: [p.dilation, p.dilation], group: groups };
        const params = paramsOf(p.activation);
        const got = qdqOp('Conv', x, q.w, scale, bias, input, { ...attrs, activation: p.activation });
        const call = { x, w: q.w, wScale: scale, xScale: input.scale, xZeroPoint: input.zeroPoint, bias };
        const want = refQdqConv(call, attrs, p.activation, params);
        if (p.depthwise && cPerGroup === 1) {
          // the depthwise path runs the float kernel on the SIMD fake-quantized input: bit for bit what the
          // float fallback (JavaScript fakeQuantize, dequantized weight, the Conv kernel) gives
          setInt8Gemm(false);
          const fallback = qdqOp('Conv', x, q.w, scale, bias, input, { ...attrs, activation: p.activation });
          setInt8Gemm(true);
          expectBitwise(got, fallback);
        }
        const absSum = refConv(abs(refFakeQuantize(x, input.scale, input.zeroPoint)), abs(refDequantizeLinear(q.w, scale, undefined, 0, 0)), bias ? abs(bias) : undefined, attrs);
        expectWithinBound(got, want, absSum, p.activation === 'HardSwish' ? 1.5 : 1);
      }),
      { numRuns: 80 },
    );
  });

  it('QDQMatMul and QDQGemm: batched A, odd K and N, many rows, transB, C of every broadcast shape, alpha, beta', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 140 }),
        fc.integer({ min: 1, max: 37 }),
        fc.integer({ min: 1, max: 29 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom('none', 'scalar', 'row', 'column', 'full'),
        activations,
        fc.integer({ min: 1, max: 10_000 }),
        (m, k, n, transB, perTensor, cShape, activation, seed) => {
          const params = paramsOf(activation);
          const lipschitz = activation === 'HardSwish' ? 1.5 : 1;
          const input = { scale: scalar(0.05), zeroPoint: u8(128) };
          const a = randomTensor('float32', [2, m, k], seed, 3);
          const mm = int8Weight([k, n], 1, seed + 1);
          const mmScale = perTensor ? scalar(mm.scale.numbers()[0]!) : mm.scale;
          const call = { x: a, w: mm.w, wScale: mmScale, xScale: input.scale, xZeroPoint: input.zeroPoint };
          const absMm = referenceMatMul(abs(refFakeQuantize(a, input.scale, input.zeroPoint)), abs(refDequantizeLinear(mm.w, mmScale, undefined, 1, 0)));
          expectWithinBound(qdqOp('MatMul', a, mm.w, mmScale, undefined, input, { activation }), refQdqMatMul(call, activation, params), absMm, lipschitz);

          const a2 = randomTensor('float32', [m, k], seed + 3, 3);
          const g = int8Weight(transB ? [n, k] : [k, n], transB ? 0 : 1, seed + 4);
          const cDims = { none: undefined, scalar: [], row: [n], column: [m, 1], full: [m, n] }[cShape];
          const cBias = cDims ? randomTensor('float32', cDims, seed + 5, 1) : undefined;
          const gemmAttrs = { transB, alpha: 0.5, beta: 1.5 };
          const got = qdqOp('Gemm', a2, g.w, g.scale, cBias, input, { transB: transB ? 1 : 0, alpha: 0.5, beta: 1.5, activation });
          const want = refQdqGemm({ x: a2, w: g.w, wScale: g.scale, xScale: input.scale, xZeroPoint: input.zeroPoint, bias: cBias }, gemmAttrs, activation, params);
          const absG = referenceGemm(abs(refFakeQuantize(a2, input.scale, input.zeroPoint)), abs(refDequantizeLinear(g.w, g.scale, undefined, transB ? 0 : 1, 0)), cBias ? abs(cBias) : undefined, gemmAttrs);
          expectWithinBound(got, want, absG, lipschitz);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('with the integer GEMM switched off, the float fallback runs and differs from the fast path by rounding only', () => {
    const x = randomTensor('float32', [1, 4, 5, 6], 3, 2);
    const q = int8Weight([6, 4, 3, 3], 0, 4);
    const bias = randomTensor('float32', [6], 5, 1);
    const input = { scale: scalar(0.02), zeroPoint: u8(100) };
    const attrs = { strides: [1, 2], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 };
    const fast = qdqOp('Conv', x, q.w, q.scale, bias, input, { ...attrs, activation: 'Relu' });
    expect(setInt8Gemm(false)).toBe(false);
    const slow = qdqOp('Conv', x, q.w, q.scale, bias, input, { ...attrs, activation: 'Relu' });
    const absSum = refConv(abs(refFakeQuantize(x, input.scale, input.zeroPoint)), abs(refDequantizeLinear(q.w, q.scale, undefined, 0, 0)), abs(bias), attrs);
    expectWithinBound(fast, slow, absSum, 1);
    // different code paths: the float one rounds x' and w' to float32, so some output differs in its last bits
    expect(Array.from(fast.numbers()).some((v, i) => v !== slow.numbers()[i])).toBe(true);
  });
});

describe('integerMatmul (MatMulInteger) on the integer GEMM', () => {
  it('equals the float64 loop exactly, batched and broadcast, and falls back when B does not fit int8', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 20 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (batch, m, k, n, broadcastB, wideB, seed) => {
        let s = seed;
        const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
        const a = Float64Array.from({ length: batch * m * k }, () => Math.floor(next() * 511) - 255);
        const bBatch = broadcastB ? 1 : batch;
        const b = Float64Array.from({ length: bBatch * k * n }, () => Math.floor(next() * (wideB ? 511 : 256)) - (wideB ? 255 : 128));
        const aDims = [batch, m, k];
        const bDims = [bBatch, k, n];
        const fast = integerMatmul(a, aDims, b, bDims, [batch], m, k, n);
        setInt8Gemm(false);
        const slow = integerMatmul(a, aDims, b, bDims, [batch], m, k, n);
        setInt8Gemm(true);
        expect(Array.from(fast)).toEqual(Array.from(slow));
      }),
      { numRuns: 40 },
    );
  });
});

describe('integerRowsTimesMatrix (ConvInteger) on the integer GEMM', () => {
  it('equals the float64 row loop exactly, with an offset into the weights, and falls back for wide weights', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (m, k, n, wOffRows, wideW, seed) => {
        let s = seed;
        const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
        const w = Float64Array.from({ length: (m + wOffRows) * k }, () => Math.floor(next() * (wideW ? 511 : 256)) - (wideW ? 255 : 128));
        const cols = Float64Array.from({ length: k * n }, () => Math.floor(next() * 511) - 255);
        const outOff = seed % 3;
        const fast = new Float64Array(outOff + m * n).fill(NaN);
        integerRowsTimesMatrix(w, wOffRows * k, m, k, cols, n, fast, outOff);
        setInt8Gemm(false);
        const slow = new Float64Array(outOff + m * n).fill(NaN);
        integerRowsTimesMatrix(w, wOffRows * k, m, k, cols, n, slow, outOff);
        setInt8Gemm(true);
        expect(Array.from(fast)).toEqual(Array.from(slow));
      }),
      { numRuns: 40 },
    );
  });
});
