/**
 * Quantize passes on a small opset-9 model built in code (Conv with bias -> Clip -> Reshape -> MatMul ->
 * Softmax, plus Slice/Squeeze in their old attribute forms): the opset upgrade keeps results, and each
 * rewritten model (float16, dynamic int8, static QDQ) has the expected structure, keeps its weights
 * compressed in a Tessera session, loads in onnxruntime-node and agrees with Tessera (static int8: quantized
 * codes within one step, outputs within the quantization error), and stays close to the float model.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph, InferenceSession } from '../../src/graph/index.js';
import { addAbsHistogram, addHistogram, calibrate, entropyThreshold, percentileRange } from '../../src/quant/calibrate.js';
import { loadForCompression, saveModel, type CompressModel } from '../../src/quant/model.js';
import { upgradeOpset } from '../../src/quant/opset.js';
import { quantizeDynamic, quantizeFloat16, quantizeStatic } from '../../src/quant/passes.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { smallModel } from './small-model.js';
import { randomTensor } from '../util/tensors.js';

const feedsOf = (seed: number): Map<string, Tensor> => new Map([['x', randomTensor('float32', [2, 3, 6, 6], seed, 1)]]);

async function runTessera(bytes: Uint8Array, x: Tensor, fetch?: string[]): Promise<Record<string, Tensor>> {
  const s = await InferenceSession.create(bytes);
  return s.run({ x }, fetch);
}

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Record<string, Float32Array | Uint8Array>> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array), x.dims.slice()) });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array | Uint8Array]));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const ops = (m: CompressModel): string[] => m.graph.nodes.map((n) => n.opType);

describe('opset upgrade', () => {
  it('rewrites old attribute forms to opset 13 and keeps the results', async () => {
    const bytes = smallModel();
    const up = upgradeOpset(loadForCompression(bytes));
    expect(up.opsets.get('')).toBe(13);
    const clip = up.graph.nodes.find((n) => n.opType === 'Clip')!;
    expect(clip.inputs.length).toBe(3);
    expect(up.graph.nodes.find((n) => n.opType === 'Slice')!.inputs.length).toBe(4);
    expect(up.graph.nodes.find((n) => n.opType === 'Squeeze')!.attrs['axes']).toBeUndefined();
    const x = feedsOf(5).get('x')!;
    const before = (await runTessera(bytes, x))['y']!.numbers();
    const saved = saveModel(up);
    expect(maxAbsDiff((await runTessera(saved, x))['y']!.numbers(), before)).toBeLessThan(1e-6);
    expect(maxAbsDiff((await runOrt(saved, x))['y']!, before)).toBeLessThan(1e-6);
  });

  it('refuses operators whose meaning changed', () => {
    const g = graph({ nodes: [node('Upsample', ['x', 'sc'], ['y'], { mode: 'nearest' })], inputs: [value('x', 'float32', [1, 1, 2, 2])], outputs: [value('y', 'float32')], initializers: { sc: new Tensor('float32', new Float32Array([1, 1, 2, 2]), [4]) } });
    expect(() => upgradeOpset(loadForCompression(modelBytes(g, 9)))).toThrow(/cannot move Upsample from opset 9 to 13/);
  });
});

describe('float16 weights', () => {
  it('stores weights as float16 behind Casts that a session does not fold', async () => {
    const bytes = smallModel();
    const m = quantizeFloat16(loadForCompression(bytes));
    expect(m.graph.initializers.get('W_fp16')?.type).toBe('float16');
    expect(m.graph.initializers.get('M_fp16')?.type).toBe('float16');
    expect(m.graph.initializers.has('W')).toBe(false);
    expect(m.graph.initializers.get('B')?.type).toBe('float32'); // below minElements
    const saved = saveModel(m);
    const session = await InferenceSession.create(saved);
    expect([...session.model.graph.initializers.values()].filter((t) => t.type === 'float16').length).toBe(2);
    const x = feedsOf(6).get('x')!;
    const mine = (await session.run({ x }))['y']!.numbers();
    expect(maxAbsDiff(mine, (await runOrt(saved, x))['y']!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(mine, (await runTessera(bytes, x))['y']!.numbers())).toBeLessThan(5e-3);
  });
});

describe('dynamic int8', () => {
  it('rewrites Conv and MatMul to ConvInteger/MatMulInteger with per-channel int8 weights', async () => {
    const bytes = smallModel();
    const { model: m, quantizedNodes } = quantizeDynamic(loadForCompression(bytes));
    expect(quantizedNodes).toBe(2);
    expect(ops(m)).toEqual(expect.arrayContaining(['DynamicQuantizeLinear', 'ConvInteger', 'MatMulInteger']));
    expect(ops(m)).not.toContain('Conv');
    expect(m.graph.initializers.get('W_int8')?.type).toBe('int8');
    expect(m.graph.initializers.get('conv_w_scale')?.dims).toEqual([8, 1, 1]);
    expect(m.graph.initializers.get('matmul_w_scale')?.dims).toEqual([4]);
    const saved = saveModel(m);
    for (const seed of [7, 8]) {
      const x = feedsOf(seed).get('x')!;
      const mine = (await runTessera(saved, x))['y']!.numbers();
      expect(maxAbsDiff(mine, (await runOrt(saved, x))['y']!)).toBeLessThan(1e-5);
      expect(maxAbsDiff(mine, (await runTessera(bytes, x))['y']!.numbers())).toBeLessThan(0.05);
    }
  });
});

describe('static int8 QDQ', () => {
  it('emits QuantizeLinear/DequantizeLinear pairs from calibration and agrees with onnxruntime within one step', async () => {
    const bytes = smallModel();
    const calibration = [1, 2, 3, 4].map(feedsOf);
    const progress: number[] = [];
    const { model: m, ranges, quantizedNodes } = quantizeStatic(loadForCompression(bytes), { calibration, onProgress: (d) => progress.push(d) });
    expect(quantizedNodes).toBe(2);
    expect(progress).toEqual([1, 2, 3, 4]);
    expect([...ranges.keys()].sort()).toEqual(['flat', 'x']);
    expect(ops(m).filter((o) => o === 'QuantizeLinear').length).toBe(2);
    expect(ops(m).filter((o) => o === 'DequantizeLinear').length).toBe(4);
    const wdq = m.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0] === 'W_int8')!;
    expect(wdq.attrs['axis']).toBe(0);
    expect(m.graph.initializers.get('W_scale')?.dims).toEqual([8]);
    expect(m.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0] === 'M_int8')!.attrs['axis']).toBe(1);
    // expose the quantized activations so both runtimes' codes can be compared
    const qNames = m.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.outputs[0]!);
    const g = m.graph;
    const outputs = [...g.outputs, ...qNames.map((name) => ({ name, type: { kind: 'tensor' as const, dtype: 'uint8' as const } }))];
    const withCodes: CompressModel = { ...m, graph: new Graph(g.name, g.nodes, g.inputs, outputs, g.initializers, g.valueInfo) };
    const saved = saveModel(withCodes);
    const session = await InferenceSession.create(saved);
    expect([...session.model.graph.initializers.values()].filter((t) => t.type === 'int8').length).toBe(2);
    const flatScale = m.graph.initializers.get('flat_scale')!.numbers()[0]!;
    for (const seed of [9, 10, 11]) {
      const x = feedsOf(seed).get('x')!;
      const mine = await session.run({ x });
      const theirs = await runOrt(saved, x);
      for (const q of qNames) expect(maxAbsDiff(mine[q]!.numbers(), theirs[q]!), q).toBeLessThanOrEqual(1);
      // logits move by at most one activation step times the weights' column sums; softmax compresses that
      expect(maxAbsDiff(mine['y']!.numbers(), theirs['y']!)).toBeLessThan(Math.max(1e-5, 20 * flatScale));
      expect(maxAbsDiff(mine['y']!.numbers(), (await runTessera(bytes, x))['y']!.numbers())).toBeLessThan(0.05);
    }
  });

  it('percentile and entropy calibration narrow an outlier-stretched range; minmax keeps it', () => {
    const values = Float32Array.from({ length: 10000 }, (_, i) => Math.sin(i) * (i === 17 ? 100 : 1));
    const h = new Float64Array(2048);
    addHistogram(h, values, -100, 100);
    const p = percentileRange(h, -100, 100, 99.9);
    expect(p.hi).toBeLessThan(2);
    expect(p.lo).toBeGreaterThan(-2);
    const abs = new Float64Array(2048);
    addAbsHistogram(abs, values, 100);
    expect(entropyThreshold(abs, 100)).toBeLessThan(20);
    const g = graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [value('x', 'float32', [4])], outputs: [value('y', 'float32', [4])] });
    const m = loadForCompression(modelBytes(g, 13));
    const feeds = [new Map([['x', new Tensor('float32', new Float32Array([-1, 0.5, 2, 3]), [4])]])];
    expect(calibrate(m.graph, m.opsets, feeds, ['x', 'y'], { method: 'minmax' }).get('y')).toEqual({ lo: 0, hi: 3 });
    expect(() => calibrate(m.graph, m.opsets, [], ['x'], { method: 'minmax' })).toThrow(/no calibration inputs/);
    expect(() => percentileRange(h, -1, 1, 0)).toThrow(/percentile must be in/);
  });
});
