/**
 * The .npy reader/writer: round trips for every dtype and rank, files as numpy writes them (big-endian,
 * Fortran order, version 2.0, 1-D shapes written "(n,)"), and actionable errors for bad files.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NpyError, readNpy, writeNpy } from '../../src/cli/npy.js';
import { DATA_TYPES, type DataType } from '../../src/tensor/dtype.js';
import { fromNumbers, Tensor } from '../../src/tensor/tensor.js';

/** Hand-made .npy bytes with the given header dict and raw data. */
function npyBytes(dict: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}

describe('writeNpy/readNpy', () => {
  it('round-trips every dtype and rank (0-D to 4-D, size-0 dims)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DATA_TYPES), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }), (type: DataType, dims) => {
        const n = dims.reduce((a, b) => a * b, 1);
        const t = fromNumbers(type, Array.from({ length: n }, (_, i) => (i % 7) - 3), dims);
        const bytes = writeNpy(t);
        expect((bytes.length - (t.data as unknown as ArrayBufferView).byteLength) % 64).toBe(0); // data starts aligned
        const back = readNpy(bytes);
        expect(back.type).toBe(type);
        expect(back.dims).toEqual(dims);
        expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
      }),
      { numRuns: 60 },
    );
  });

  it('writes the header numpy expects, data on a 64-byte boundary', () => {
    const bytes = writeNpy(new Tensor('float32', new Float32Array([1, 2, 3]), [3]));
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLength) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3,\), \} *\n$/);
    expect(new Float32Array(bytes.buffer.slice(10 + headerLength))).toEqual(new Float32Array([1, 2, 3]));
  });

  it('reads big-endian data, Fortran order, version 2.0 and bool', () => {
    const be = new Uint8Array([0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]); // 1.0f, 2.0f big-endian
    expect([...(readNpy(npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be)).data as Float32Array)]).toEqual([1, 2]);
    // Fortran order: column-major [[1, 2, 3], [4, 5, 6]] is stored 1 4 2 5 3 6
    const f = new Uint8Array(new Int32Array([1, 4, 2, 5, 3, 6]).buffer);
    const t = readNpy(npyBytes("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", f));
    expect(t.dims).toEqual([2, 3]);
    expect([...(t.data as Int32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
    const v2 = readNpy(npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", new Uint8Array(new BigInt64Array([-5n]).buffer), 2));
    expect(v2.dims).toEqual([]);
    expect(v2.data[0]).toBe(-5n);
    expect(readNpy(npyBytes("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", new Uint8Array([0, 1]))).type).toBe('bool');
  });

  it('refuses bad files with a message naming the file and the problem', () => {
    expect(() => readNpy(new Uint8Array([1, 2, 3]), 'x.npy')).toThrow(NpyError);
    expect(() => readNpy(new Uint8Array(20), 'x.npy')).toThrow(/x\.npy: not a \.npy file/);
    expect(() => readNpy(npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'c.npy')).toThrow(/c\.npy: dtype '<c8' is not supported/);
    expect(() => readNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8)), 'short.npy')).toThrow(/needs 16 data bytes; the file has 8/);
    expect(() => readNpy(npyBytes("{'descr': '<f4'}", new Uint8Array(0)), 'h.npy')).toThrow(/cannot parse the header/);
    const v9 = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4));
    v9[6] = 9;
    expect(() => readNpy(v9, 'v9.npy')).toThrow(/version 9\.0 is not supported/);
  });
});
