import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getFloat16 } from '@petamoriken/float16';
import { Tensor, fromNumbers, zeros, int64ToFloat64 } from '../../src/tensor/tensor.js';
import { decodeFloat16, encodeFloat16, halfBitsToNumber, numberToHalfBits } from '../../src/tensor/float16.js';
import { broadcastShapes, normalizeAxis, stridesOf, tryBroadcastShapes, sizeOf } from '../../src/tensor/shape.js';
import { TensorError, TesseraError } from '../../src/tensor/errors.js';
import { allocate, bytesPerElement, containerOf, DATA_TYPES, dataTypeFromOnnx, dataTypeFromOnnxCode, isDataType, STRING_ELEMENT_BYTES } from '../../src/tensor/dtype.js';
import { arbShape, arbTensor } from '../util/tensors.js';

describe('Tensor construction', () => {
  it('mirrors onnxruntime-web: type, data, dims, size', () => {
    const t = new Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(t.type).toBe('float32');
    expect([...t.dims]).toEqual([2, 3]);
    expect(t.size).toBe(6);
    expect(t.data).toBeInstanceOf(Float32Array);
    const inferred = new Tensor(new Int32Array([1, 2]));
    expect(inferred.type).toBe('int32');
    expect([...inferred.dims]).toEqual([2]);
  });
  it('accepts plain arrays for every dtype', () => {
    expect(new Tensor('bool', [true, false, true]).data).toEqual(new Uint8Array([1, 0, 1]));
    expect(new Tensor('int64', [1, -2, 3]).data).toEqual(new BigInt64Array([1n, -2n, 3n]));
    expect(new Tensor('float16', [1, 0.5]).numbers()).toEqual(new Float32Array([1, 0.5]));
    expect(new Tensor('uint8', [255, 0]).data).toEqual(new Uint8Array([255, 0]));
  });
  it('rejects mismatched containers and element counts with clear messages', () => {
    expect(() => new Tensor('float32', new Float64Array(4), [4])).toThrow(/float32 tensor is stored in a Float32Array/);
    expect(() => new Tensor('float32', new Float32Array(5), [2, 3])).toThrow(/need 6 elements but data has 5/);
    expect(() => new Tensor('float32', new Float32Array(0), [-1])).toThrow(TensorError);
    expect(() => new Tensor('float32', new Float32Array(1), [1.5])).toThrow(TesseraError);
    expect(() => new Tensor('complex64' as 'float32', new Float32Array(1), [1])).toThrow(/unsupported data type/);
    expect(() => new Tensor('string', new Float32Array(1), [1])).toThrow(/a string tensor is stored in a string\[\]/);
    expect(() => new Tensor('int64', [1.5])).toThrow(/int64 tensors need integers/);
  });
  it('refuses absurd sizes without allocating', () => {
    expect(() => zeros('float32', [1 << 20, 1 << 20])).toThrow(/more than the limit/);
  });
  it('counts live tensors and frees on dispose', () => {
    const before = Tensor.liveCount;
    const t = zeros('float32', [3]);
    const v = t.reshape([1, 3]);
    expect(Tensor.liveCount).toBe(before + 2);
    t.dispose();
    v.dispose();
    v.dispose();
    expect(Tensor.liveCount).toBe(before);
    expect(() => t.data).toThrow(/used after dispose/);
  });
});

/** Naive element read at a multi-index through dims/strides/offset. */
function readAt(t: Tensor, idx: number[]): number | bigint {
  let p = t.offset;
  idx.forEach((v, i) => (p += v * t.strides[i]!));
  return (t.raw() as unknown as ArrayLike<number | bigint>)[p]!;
}
function allIndices(dims: readonly number[]): number[][] {
  const out: number[][] = [];
  const n = sizeOf(dims);
  for (let f = 0; f < n; f++) {
    const idx: number[] = [];
    let r = f;
    for (let a = dims.length - 1; a >= 0; a--) {
      idx.unshift(r % dims[a]!);
      r = Math.floor(r / dims[a]!);
    }
    out.push(idx);
  }
  return out;
}

describe('views', () => {
  it('transpose is a zero-copy view whose data matches index arithmetic', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4 }).chain((s) => fc.tuple(arbTensor('float32', s), fc.shuffledSubarray([...s.keys()], { minLength: s.length, maxLength: s.length }))),
        ([x, perm]) => {
          const v = x.transpose(perm);
          expect(v.raw()).toBe(x.raw());
          const data = v.data as Float32Array;
          allIndices(v.dims).forEach((idx, f) => {
            const src = new Array<number>(x.rank);
            perm.forEach((p, i) => (src[p] = idx[i]!));
            expect(data[f]).toBe(readAt(x, src));
          });
        },
      ),
    );
  });
  it('slice views follow ONNX Slice semantics (clamping as Operators.md says), including negative steps', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: -9, max: 9 }),
        fc.integer({ min: -9, max: 9 }),
        fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0),
        (n, start, end, step) => {
          const x = fromNumbers('int32', [...Array(n).keys()], [n]);
          const got = Array.from(x.slice([start], [end], [0], [step]).data as Int32Array);
          // python-style reference
          const want: number[] = [];
          let s = start < 0 ? start + n : start;
          let e = end < 0 ? end + n : end;
          if (step > 0) {
            s = Math.min(Math.max(s, 0), n);
            e = Math.min(Math.max(e, 0), n);
            for (let i = s; i < e; i += step) want.push(i);
          } else {
            // ONNX: a backward start is clamped into [0, n-1], the end into [-1, n-1]
            s = Math.min(Math.max(s, 0), n - 1);
            e = Math.min(Math.max(e, -1), n - 1);
            for (let i = s; i > e; i += step) want.push(i);
          }
          expect(got).toEqual(want);
        },
      ),
    );
  });
  it('reshape of a contiguous tensor shares storage; of a strided view copies', () => {
    const x = fromNumbers('float32', [0, 1, 2, 3, 4, 5], [2, 3]);
    const r = x.reshape([3, -1]);
    expect([...r.dims]).toEqual([3, 2]);
    expect(r.raw()).toBe(x.raw());
    const t = x.transpose();
    expect(t.isContiguous).toBe(false);
    const rt = t.reshape([6]);
    expect(Array.from(rt.data as Float32Array)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(() => x.reshape([4, 2])).toThrow(/cannot become/);
  });
});

describe('float16', () => {
  it('table decode equals exact decode for all 65536 bit patterns', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const dec = decodeFloat16(all);
    for (let h = 0; h < 65536; h++) {
      const want = halfBitsToNumber(h);
      if (Number.isNaN(want)) expect(Number.isNaN(dec[h]!)).toBe(true);
      else expect(dec[h]).toBe(want);
    }
  });
  it('encoding rounds to nearest even and round-trips every half value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), (h) => {
        const v = halfBitsToNumber(h);
        if (Number.isNaN(v)) return;
        expect(numberToHalfBits(v)).toBe(h);
      }),
    );
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1
    expect(numberToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(numberToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToHalfBits(65520)).toBe(0x7c00); // rounds to +inf
    fc.assert(
      fc.property(fc.double({ noNaN: true, min: -70000, max: 70000 }), (x) => {
        const bits = encodeFloat16([x]);
        const dv = new DataView(bits.buffer);
        expect(halfBitsToNumber(bits[0]!)).toBe(getFloat16(dv, 0, true));
      }),
    );
  });
});

describe('string tensors', () => {
  it('are built like onnxruntime-web (type, string[] data, dims) and copy plain arrays', () => {
    const src = ['a', 'bc', '', 'déjà'];
    const t = new Tensor('string', src, [2, 2]);
    expect(t.type).toBe('string');
    expect(t.size).toBe(4);
    expect(t.data).toEqual(src);
    src[0] = 'changed';
    expect(t.data[0]).toBe('a');
    expect(new Tensor(['x', 'y']).type).toBe('string');
    expect(() => new Tensor('string', ['a', 1 as unknown as string])).toThrow(/element 1 is number 1; string tensors need strings/);
    expect(() => new Tensor('float32', ['a'] as unknown as number[])).toThrow(/only 'string' tensors/);
    expect(() => new Tensor('string', ['a'], [2])).toThrow(/need 2 elements but data has 1/);
  });
  it('support views (reshape, transpose, slice) by copying elements', () => {
    const t = new Tensor('string', ['a', 'b', 'c', 'd', 'e', 'f'], [2, 3]);
    expect(t.transpose().data).toEqual(['a', 'd', 'b', 'e', 'c', 'f']);
    expect(t.slice([1], [3], [1]).data).toEqual(['b', 'c', 'e', 'f']);
    expect(t.slice([1], [2], [0]).data).toEqual(['d', 'e', 'f']);
    expect(t.reshape([3, 2]).dims).toEqual([3, 2]);
    const c = t.transpose().contiguous();
    expect(c.isContiguous && c.data).toEqual(['a', 'd', 'b', 'e', 'c', 'f']);
  });
  it('refuse numeric accessors with a clear error', () => {
    const t = new Tensor('string', ['1'], []);
    expect(() => t.numbers()).toThrow(/numbers\(\) needs a numeric tensor/);
    expect(() => t.item()).toThrow(/holds a string/);
    expect(() => fromNumbers('string', [1], [1])).toThrow(/cannot be built from numbers/);
  });
  it('have dtype-table entries that keep typed-array code paths safe', () => {
    expect(isDataType('string')).toBe(true);
    expect(DATA_TYPES).not.toContain('string');
    expect(dataTypeFromOnnx(8)).toBeUndefined(); // Cast/EyeLike/... attributes keep refusing STRING
    expect(dataTypeFromOnnxCode(8)).toBe('string');
    expect(bytesPerElement('string')).toBe(STRING_ELEMENT_BYTES);
    expect(allocate('string', 3)).toEqual(['', '', '']);
    expect(zeros('string', [2]).data).toEqual(['', '']);
    expect(() => containerOf('string')).toThrow(/string\[\], not a typed array/);
  });
});

describe('shape math', () => {
  it('broadcasts numpy-style and rejects incompatible shapes', () => {
    expect(broadcastShapes('t', [2, 1, 4], [3, 1])).toEqual([2, 3, 4]);
    expect(broadcastShapes('t', [], [5])).toEqual([5]);
    expect(broadcastShapes('t', [0, 1], [1, 3])).toEqual([0, 3]);
    expect(tryBroadcastShapes([2, 3], [4])).toBeUndefined();
    expect(() => broadcastShapes('Add', [2, 3], [4])).toThrow(/Add: shapes \[2, 3\] and \[4\]/);
  });
  it('normalizes axes and computes strides', () => {
    expect(normalizeAxis(-1, 3)).toBe(2);
    expect(() => normalizeAxis(3, 3, 'Softmax axis')).toThrow(/Softmax axis: axis 3 is out of range for rank 3/);
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
  });
  it('converts int64 with a safe-integer check', () => {
    expect(Array.from(int64ToFloat64(new BigInt64Array([5n, -7n]), 'x'))).toEqual([5, -7]);
    expect(() => int64ToFloat64(new BigInt64Array([2n ** 60n]), 'Gather indices')).toThrow(/Gather indices: int64 value/);
  });
});
