/**
 * Shape specialization (src/graph/specialize.ts): a session re-runs the passes for each new feed shape so the
 * shape arithmetic on symbolic dims folds away. Checked on a small graph (Shape -> Gather -> Concat -> Reshape
 * on a dynamic batch) and on PP-OCR cls and rec: the specialized graph has no Shape node, results are bitwise
 * those of the unspecialized session, each shape gets its own graph, the cache is LRU-bounded, and release
 * disposes what specialization created.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/graph/session.js';
import { ShapeSpecializer } from '../../src/graph/specialize.js';
import type { Graph } from '../../src/graph/ir.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from './build.js';
import { randomFloats } from '../util/tensors.js';

const MODELS = join(import.meta.dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets');

/** The private specializer of a session (white-box: the tests check what it holds). */
function specializerOf(s: InferenceSession): ShapeSpecializer | undefined {
  return (s as unknown as { specializer?: ShapeSpecializer }).specializer;
}

function opCount(g: Graph, op: string): number {
  return g.nodes.filter((n) => n.opType === op).length;
}

/** y = Reshape(x, [batch, -1]) * 2 with the target shape computed from Shape(x): the usual exporter pattern. */
function flattenModel(): Uint8Array {
  return modelBytes(
    graph({
      nodes: [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'zero'], ['b'], { axis: 0 }),
        node('Unsqueeze', ['b', 'axes'], ['b1']),
        node('Concat', ['b1', 'minus1'], ['target'], { axis: 0 }),
        node('Reshape', ['x', 'target'], ['r']),
        node('Mul', ['r', 'two'], ['y']),
      ],
      inputs: [value('x', 'float32', ['batch', 3, 'w'])],
      outputs: [value('y', 'float32', ['batch', null])],
      initializers: {
        zero: new Tensor('int64', new BigInt64Array([0n]), []),
        axes: new Tensor('int64', new BigInt64Array([0n]), [1]),
        minus1: new Tensor('int64', new BigInt64Array([-1n]), [1]),
        two: new Tensor('float32', new Float32Array([2]), []),
      },
    }),
  );
}

describe('shape specialization', () => {
  it('folds Shape -> Gather -> Concat into a constant for each feed shape; results equal the generic graph', () => {
    const bytes = flattenModel();
    const plain = InferenceSession.createSync(bytes);
    const spec = InferenceSession.createSync(bytes, { specializeShapes: true });
    expect(specializerOf(plain)).toBeUndefined(); // off by default on the CPU
    const s = specializerOf(spec)!;
    expect(s.applies).toBe(true);
    expect(opCount(spec.model.graph, 'Shape')).toBe(1); // the load-time graph keeps it: dims are symbolic
    for (const dims of [[2, 3, 5], [1, 3, 7], [2, 3, 5], [4, 3, 1]]) {
      const x = new Tensor('float32', randomFloats(dims[0]! * dims[1]! * dims[2]!, dims[2]!), dims);
      const want = plain.runSync({ x }).y!;
      const got = spec.runSync({ x }).y!;
      expect(got.dims).toEqual([dims[0], dims[1]! * dims[2]!]);
      expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
      const g = s.graphFor(new Map([['x', x]]));
      expect(opCount(g, 'Shape')).toBe(0);
      expect(opCount(g, 'Concat')).toBe(0);
      expect(g.nodes.map((n) => n.opType)).toEqual(['Reshape', 'Mul']);
    }
    expect(s.size).toBe(3); // [2,3,5] was a hit
    expect(s.builds).toBe(3);
  });

  it('keeps at most `capacity` graphs (least recently used goes) and release disposes their constants', () => {
    const spec = InferenceSession.createSync(flattenModel(), { specializeShapes: 2 });
    const s = specializerOf(spec)!;
    const run = (b: number): void => {
      const x = new Tensor('float32', new Float32Array(b * 3 * 2), [b, 3, 2]);
      spec.runSync({ x }).y!.dispose();
    };
    run(1);
    run(2);
    run(1); // hit: 1 becomes most recent
    run(3); // evicts 2
    expect(s.size).toBe(2);
    expect(s.builds).toBe(3);
    run(1); // still cached
    expect(s.builds).toBe(3);
    run(2); // rebuilt
    expect(s.builds).toBe(4);
    const folded = s.graphFor(new Map([['x', new Tensor('float32', new Float32Array(6), [1, 3, 2])]]));
    const own = [...folded.initializers.values()].filter((t) => ![...spec.model.graph.initializers.values()].includes(t));
    expect(own.length).toBeGreaterThan(0); // the folded target shape
    void spec.release();
    expect(s.size).toBe(0);
    for (const t of own) expect(t.disposed).toBe(true);
  });

  it('is off for static inputs, for level none, and refuses a bad option value', () => {
    const fixed = modelBytes(
      graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', [2, 2])], outputs: [value('y', 'float32', [2, 2])] }),
    );
    expect(specializerOf(InferenceSession.createSync(fixed, { specializeShapes: true }))).toBeUndefined();
    expect(specializerOf(InferenceSession.createSync(flattenModel(), { specializeShapes: true, graphOptimizationLevel: 'none' }))).toBeUndefined();
    expect(() => InferenceSession.createSync(flattenModel(), { specializeShapes: -1 })).toThrow(/specializeShapes must be true, false or a non-negative integer/);
  });

  it('PP-OCR cls and rec: no Shape/Cast node left for a concrete input, outputs bitwise equal', { timeout: 120_000 }, () => {
    for (const [file, dims] of [
      ['ch_ppocr_mobile_v2.0_cls_infer.onnx', [1, 3, 48, 192]],
      ['ch_PP-OCRv4_rec_infer.onnx', [1, 3, 48, 160]],
    ] as const) {
      const plain = InferenceSession.createSync(join(MODELS, file));
      const spec = InferenceSession.createSync(join(MODELS, file), { specializeShapes: true });
      const x = new Tensor('float32', randomFloats(dims.reduce((a: number, b: number) => a * b, 1), 7), [...dims]);
      const want = plain.runSync({ x });
      const got = spec.runSync({ x });
      for (const k of Object.keys(want)) expect(Array.from(got[k]!.data as Float32Array)).toEqual(Array.from(want[k]!.data as Float32Array));
      const g = specializerOf(spec)!.graphFor(new Map([['x', x]]));
      expect(opCount(spec.model.graph, 'Shape')).toBeGreaterThan(0);
      for (const op of ['Shape', 'Cast', 'Gather']) expect(opCount(g, op)).toBe(0);
      void plain.release();
      void spec.release();
    }
  });
});

describe('shape specialization guards', () => {
  it('refuses a specialized graph that needs an operator domain the session was not set up for', () => {
    const s = InferenceSession.createSync(join(MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), { graphOptimizationLevel: 'basic' });
    // level 'all' fuses activations into com.tessera operators, which these opsets do not list
    const spec = new ShapeSpecializer(s.model.graph, new Map([['', 13]]), 'all', 'cpu');
    const x = new Tensor('float32', new Float32Array(3 * 48 * 192), [1, 3, 48, 192]);
    expect(() => spec.graphFor(new Map([['x', x]]))).toThrow(/domain 'com.tessera', which the session was not set up to run/);
    void s.release();
  });
});
