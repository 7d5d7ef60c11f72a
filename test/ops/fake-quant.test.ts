/**
 * com.tessera FakeQuantize against its reference twin, the QuantizeLinear -> DequantizeLinear pair
 * (src/kernels/cpu/reference/quantize.ts), bit for bit; its validation; and the GPU-only FakeQuantFusion
 * rewrite (src/graph/passes/fake-quant.ts): when it fires, when not, and that the rewritten graph computes the
 * same values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fakeQuantize } from '../../src/ops/fake-quant.js';
import { refDequantizeLinear, refQuantizeLinear } from '../../src/kernels/cpu/reference/quantize.js';
import { InferenceSession } from '../../src/graph/session.js';
import { buildModel } from '../../src/graph/ir.js';
import { decodeModel } from '../../src/graph/onnx/decode.js';
import { optimizeGraph } from '../../src/graph/passes/index.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { arbShape, arbTensor, expectBitwise, nonContiguous } from '../util/tensors.js';

const scalar = (type: 'float32' | 'uint8' | 'int8', v: number): Tensor =>
  new Tensor(type, type === 'float32' ? new Float32Array([v]) : type === 'uint8' ? new Uint8Array([v]) : new Int8Array([v]), []);

function reference(x: Tensor, s: Tensor, z: Tensor | undefined): Tensor {
  const q = refQuantizeLinear(x, s, z, 1, 0, z ? z.type : 'uint8');
  return refDequantizeLinear(q, s, z, 1, 0);
}

describe('FakeQuantize (CPU) equals QuantizeLinear then DequantizeLinear', () => {
  it('bit for bit on random tensors, scales, int8/uint8/absent zero points, incl. ties and saturation', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 0, maxRank: 4, maxDim: 6 }).chain((dims) =>
          fc.tuple(
            arbTensor('float32', dims, 400),
            fc.double({ min: 0.01, max: 3, noNaN: true }),
            fc.constantFrom('uint8' as const, 'int8' as const, 'none' as const),
            fc.integer({ min: 0, max: 255 }),
            fc.boolean(),
          ),
        ),
        ([x, sv, zt, zv, strided]) => {
          const s = scalar('float32', sv);
          const z = zt === 'none' ? undefined : scalar(zt, zt === 'int8' ? zv - 128 : zv);
          const input = strided && x.rank > 0 ? nonContiguous(x) : x;
          expectBitwise(fakeQuantize(input, s, z), reference(x, s, z));
        },
      ),
    );
  });
  it('known answers: ties to even, saturation at both ends, NaN to 0 like QuantizeLinear', () => {
    const x = new Tensor('float32', new Float32Array([0.5, 1.5, 2.5, -2.5, 1000, -1000, NaN]), [7]);
    const y = fakeQuantize(x, scalar('float32', 1), scalar('int8', 0));
    expect(Array.from(y.data as Float32Array)).toEqual([0, 2, 2, -2, 127, -128, 0]);
    const u = fakeQuantize(x, scalar('float32', 0.5), scalar('uint8', 10));
    // x / 0.5 = 1, 3, 5, -5, 2000, -2000 -> + 10, clamped to [0, 255] -> (q - 10) * 0.5
    expect(Array.from(u.data as Float32Array)).toEqual([0.5, 1.5, 2.5, -2.5, 122.5, -5, -5]);
  });
  it('refuses per-axis parameters and non-float data with the operator named', () => {
    const x = new Tensor('float32', new Float32Array(4), [2, 2]);
    expect(() => fakeQuantize(x, new Tensor('float32', new Float32Array([1, 2]), [2]))).toThrow(/FakeQuantize.*scale must hold one value/);
    expect(() => fakeQuantize(x, scalar('float32', 1), new Tensor('uint8', new Uint8Array(2), [2]))).toThrow(OpValidationError);
    expect(() => fakeQuantize(new Tensor('int32', new Int32Array(4), [2, 2]), scalar('float32', 1))).toThrow(OpValidationError);
  });
});

/** x -> Q(s, z) -> DQ(s2, z2) -> Relu, the shape a static int8 export has on an activation. */
function qdqModel(dqScale = 0.25, dqZero = 128): Uint8Array {
  return modelBytes(
    graph({
      nodes: [
        node('QuantizeLinear', ['x', 's', 'z'], ['q']),
        node('DequantizeLinear', ['q', 's2', 'z2'], ['d']),
        node('Relu', ['d'], ['y']),
      ],
      inputs: [value('x', 'float32', ['n', 4])],
      outputs: [value('y', 'float32', ['n', 4])],
      initializers: { s: scalar('float32', 0.25), z: scalar('uint8', 128), s2: scalar('float32', dqScale), z2: scalar('uint8', dqZero) },
    }),
    19,
  );
}

function optimized(bytes: Uint8Array, target: 'cpu' | 'gpu') {
  const built = buildModel(decodeModel(bytes));
  return optimizeGraph(built.graph, built.opsets, 'all', { target });
}

describe('FakeQuantFusion', () => {
  it('fires for the GPU target only, and the rewritten graph computes the pair exactly', () => {
    const gpu = optimized(qdqModel(), 'gpu');
    expect(gpu.graph.nodes.map((n) => n.opType)).toEqual(['FakeQuantize', 'Relu']);
    expect(gpu.opsets.get('com.tessera')).toBe(1);
    const cpu = optimized(qdqModel(), 'cpu');
    expect(cpu.graph.nodes.map((n) => n.opType)).toEqual(['QuantizeLinear', 'DequantizeLinear', 'Relu']);
    expect(cpu.report.passes.some((p) => p.name === 'FakeQuantFusion')).toBe(false);
    // run the GPU-target graph's operators on the CPU kernels against the plain session
    const x = new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => (i - 6) * 3.3), [3, 4]);
    const want = InferenceSession.createSync(qdqModel(), { graphOptimizationLevel: 'none' }).runSync({ x }).y!;
    const fq = fakeQuantize(x, scalar('float32', 0.25), scalar('uint8', 128));
    const relu = Array.from(fq.data as Float32Array, (v) => Math.max(v, 0));
    expect(relu).toEqual(Array.from(want.data as Float32Array));
  });
  it('leaves pairs with different scales or zero points alone', () => {
    expect(optimized(qdqModel(0.5), 'gpu').graph.nodes.map((n) => n.opType)).toEqual(['QuantizeLinear', 'DequantizeLinear', 'Relu']);
    expect(optimized(qdqModel(0.25, 127), 'gpu').graph.nodes.map((n) => n.opType)).toEqual(['QuantizeLinear', 'DequantizeLinear', 'Relu']);
  });
  it("refuses an unknown target", () => {
    const built = buildModel(decodeModel(qdqModel()));
    expect(() => optimizeGraph(built.graph, built.opsets, 'all', { target: 'tpu' as 'cpu' })).toThrow(/target must be 'cpu' or 'gpu'/);
  });
});
