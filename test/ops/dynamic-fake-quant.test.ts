/**
 * com.tessera DynamicFakeQuantize against its reference twin, DynamicQuantizeLinear followed by (q - z), bit
 * for bit; known answers; and the GPU-only DynamicQuantToFloat rewrite (src/graph/passes/dynamic-gpu.ts):
 * it fires only for the GPU target and only on the whole pattern, and the rewritten graph (run on the CPU
 * kernels) computes what the integer chain computes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import { dynamicFakeQuantize } from '../../src/ops/dynamic-fake-quant.js';
import { dynamicQuantizeLinear } from '../../src/ops/quantize.js';
import { Executor } from '../../src/graph/executor.js';
import { InferenceSession } from '../../src/graph/session.js';
import { buildModel } from '../../src/graph/ir.js';
import { decodeModel } from '../../src/graph/onnx/decode.js';
import { optimizeGraph } from '../../src/graph/passes/index.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { arbShape, arbTensor, expectBitwise, nonContiguous, randomTensor } from '../util/tensors.js';

/** The reference: DynamicQuantizeLinear's CPU kernel, then q - z as float32. */
function reference(x: Tensor): { y: Tensor; scale: Tensor } {
  const { y, scale, zeroPoint } = dynamicQuantizeLinear(x);
  const z = zeroPoint.numbers()[0]!;
  return { y: new Tensor('float32', Float32Array.from(y.data as Uint8Array, (q) => q - z), x.dims), scale };
}

describe('DynamicFakeQuantize (CPU) equals DynamicQuantizeLinear then q - z', () => {
  it('bit for bit on random tensors (all-positive, all-negative, mixed ranges; strided views)', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 0, maxRank: 4, maxDim: 6 }).chain((dims) =>
          fc.tuple(arbTensor('float32', dims, 50), fc.constantFrom(0, 1, -1), fc.double({ min: 0.001, max: 100, noNaN: true }), fc.boolean()),
        ),
        ([x0, shift, mag, strided]) => {
          // shift the values to one side of 0 or leave them mixed, and scale them, to vary the zero point
          const v = Float32Array.from(x0.data as Float32Array, (a) => (shift === 0 ? a : shift * (Math.abs(a) + 0.1)) * mag);
          const x = new Tensor('float32', v, x0.dims);
          const input = strided && x.rank > 0 ? nonContiguous(x) : x;
          const got = dynamicFakeQuantize(input);
          const want = reference(x);
          expectBitwise(got.y, want.y);
          expectBitwise(got.scale, want.scale);
        },
      ),
    );
  });
  it('known answers: zero point from the range, saturation-free codes, all-zero input', () => {
    // range [-1, 3]: scale 4/255, -min/scale = 63.75 -> z = 64; codes -64, 0, 191
    const x = new Tensor('float32', new Float32Array([-1, 0, 3]), [3]);
    const r = dynamicFakeQuantize(x);
    expect(Array.from(r.y.data as Float32Array)).toEqual([-64, 0, 191]);
    expect(r.scale.dims).toEqual([]);
    expect(r.scale.numbers()[0]).toBe(Math.fround(4 / 255));
    const zeros = dynamicFakeQuantize(new Tensor('float32', new Float32Array(4), [2, 2]));
    expect(Array.from(zeros.y.data as Float32Array)).toEqual([0, 0, 0, 0]);
    expect(zeros.scale.numbers()[0]).toBe(Math.fround(1 / 255));
    // all positive: min is 0, so z = 0 and the largest element maps to 255
    const pos = dynamicFakeQuantize(new Tensor('float32', new Float32Array([0.5, 2.55]), [2]));
    expect(Array.from(pos.y.data as Float32Array)).toEqual([50, 255]);
    // a range of a few denormals: the scale underflows to 0 and DynamicQuantizeLinear stores 0 codes and z = 0
    const tiny = dynamicFakeQuantize(new Tensor('float32', new Float32Array([8.4e-45, 0]), [2]));
    expect(Array.from(tiny.y.data as Float32Array)).toEqual([0, 0]);
    expect(tiny.scale.numbers()[0]).toBe(0);
  });
  it('refuses non-float32 input with the operator named', () => {
    expect(() => dynamicFakeQuantize(new Tensor('int32', new Int32Array(4), [4]))).toThrow(OpValidationError);
    expect(() => dynamicFakeQuantize(new Tensor('int32', new Int32Array(4), [4]))).toThrow(/DynamicFakeQuantize/);
  });
});

type Variant = 'full' | 'xq-output' | 'weight-input' | 'acc-output' | 'no-cast' | 'per-column-zero';

/** x -> DynamicQuantizeLinear -> MatMulInteger -> Cast -> rescale, as quantizeDynamic writes it; variants break one part. */
function dynamicModel(variant: Variant = 'full'): Uint8Array {
  const wq = randomTensor('int8', [6, 5], 3, 127);
  const inits: Record<string, Tensor> = {
    ws: new Tensor('float32', Float32Array.from({ length: 5 }, (_, i) => 0.01 * (i + 1)), [5]),
    wzp: variant === 'per-column-zero' ? new Tensor('int8', new Int8Array(5), [5]) : new Tensor('int8', new Int8Array([0]), []),
  };
  if (variant !== 'weight-input') inits['wq'] = wq;
  const outputs = [value('y', 'float32', [2, 5])];
  if (variant === 'xq-output') outputs.push(value('xq', 'uint8', [2, 6]));
  if (variant === 'acc-output') outputs.push(value('acc', 'int32', [2, 5]));
  const inputs = [value('x', 'float32', [2, 6])];
  if (variant === 'weight-input') inputs.push(value('wq', 'int8', [6, 5]));
  const nodes = [
    node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz'], {}, 'dql'),
    node('MatMulInteger', ['xq', 'wq', 'xz', 'wzp'], ['acc'], {}, 'mmi'),
    variant === 'no-cast' ? node('Cast', ['acc'], ['accF'], { to: 11 }, 'cast') : node('Cast', ['acc'], ['accF'], { to: 1 }, 'cast'),
    node('Mul', ['xs', 'ws'], ['sc'], {}, 'scale'),
    variant === 'no-cast' ? node('Cast', ['accF'], ['accF32'], { to: 1 }, 'cast2') : node('Identity', ['accF'], ['accF32'], {}, 'id'),
    node('Mul', ['accF32', 'sc'], ['y'], {}, 'rescale'),
  ];
  return modelBytes(graph({ nodes, inputs, outputs, initializers: inits }), 19);
}

function optimized(bytes: Uint8Array, target: 'cpu' | 'gpu') {
  const built = buildModel(decodeModel(bytes));
  return optimizeGraph(built.graph, built.opsets, 'all', { target });
}

const opTypes = (r: ReturnType<typeof optimized>): string[] => r.graph.nodes.map((n) => n.opType);

describe('DynamicQuantToFloat', () => {
  it('fires for the GPU target only, and the float graph computes the integer chain', () => {
    const gpu = optimized(dynamicModel(), 'gpu');
    expect(opTypes(gpu)).toEqual(['DynamicFakeQuantize', 'DequantizeLinear', 'MatMul', 'Mul', 'Mul']);
    expect(gpu.report.passes.find((p) => p.name === 'DynamicQuantToFloat')?.rewrites).toBe(1);
    expect(gpu.opsets.get('com.tessera')).toBe(1);
    // the weight stays int8 behind its DequantizeLinear
    const dq = gpu.graph.nodes.find((n) => n.opType === 'DequantizeLinear')!;
    expect(gpu.graph.initializers.get(dq.inputs[0]!)?.type).toBe('int8');
    const cpu = optimized(dynamicModel(), 'cpu');
    expect(opTypes(cpu)).toContain('MatMulInteger');
    expect(cpu.report.passes.some((p) => p.name === 'DynamicQuantToFloat')).toBe(false);
    const x = randomTensor('float32', [2, 6], 11, 3);
    const got = new Executor(gpu.opsets, { backend: 'cpu' }).run(gpu.graph, new Map([['x', x]]), ['y']).outputs[0]!;
    const want = InferenceSession.createSync(dynamicModel(), { graphOptimizationLevel: 'none' }).runSync({ x }).y!;
    // K = 6: the float sums of integer products are exact, so only the identical rescale remains
    expectBitwise(got, want);
  });
  it('rewrites every layer of a chain (a com.tessera node upstream leaves the input dtype unknown)', () => {
    const layer = (k: number, x: string, y: string) => [
      node('DynamicQuantizeLinear', [x], [`xq${k}`, `xs${k}`, `xz${k}`], {}, `dql${k}`),
      node('MatMulInteger', [`xq${k}`, `wq${k}`, `xz${k}`], [`acc${k}`], {}, `mmi${k}`),
      node('Cast', [`acc${k}`], [`accF${k}`], { to: 1 }, `cast${k}`),
      node('Mul', [`xs${k}`, 'ws'], [`sc${k}`], {}, `scale${k}`),
      node('Mul', [`accF${k}`, `sc${k}`], [y], {}, `rescale${k}`),
    ];
    const bytes = modelBytes(
      graph({
        nodes: [...layer(1, 'x', 'h'), ...layer(2, 'h', 'y')],
        inputs: [value('x', 'float32', [2, 4])],
        outputs: [value('y', 'float32', [2, 4])],
        initializers: { wq1: randomTensor('int8', [4, 4], 5, 127), wq2: randomTensor('int8', [4, 4], 6, 127), ws: new Tensor('float32', new Float32Array([0.01, 0.02, 0.03, 0.04]), [4]) },
      }),
      19,
    );
    const gpu = optimized(bytes, 'gpu');
    expect(gpu.report.passes.find((p) => p.name === 'DynamicQuantToFloat')?.rewrites).toBe(2);
    expect(opTypes(gpu).filter((t) => t === 'DynamicFakeQuantize')).toHaveLength(2);
    expect(opTypes(gpu)).not.toContain('MatMulInteger');
    const x = randomTensor('float32', [2, 4], 12, 2);
    const got = new Executor(gpu.opsets, { backend: 'cpu' }).run(gpu.graph, new Map([['x', x]]), ['y']).outputs[0]!;
    expectBitwise(got, InferenceSession.createSync(bytes, { graphOptimizationLevel: 'none' }).runSync({ x }).y!);
  });
  it('leaves partial patterns alone', () => {
    const variants: Variant[] = ['xq-output', 'weight-input', 'acc-output', 'no-cast', 'per-column-zero'];
    for (const v of variants) {
      const r = optimized(dynamicModel(v), 'gpu');
      expect(opTypes(r), v).toContain('DynamicQuantizeLinear');
      expect(opTypes(r), v).toContain('MatMulInteger');
      expect(r.report.passes.find((p) => p.name === 'DynamicQuantToFloat')?.rewrites, v).toBe(0);
    }
  });
});
