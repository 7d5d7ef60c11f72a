/**
 * Where does a model's time go? Profile one ONNX model on Tessera's CPU backend per node, and time it beside
 * onnxruntime-node and onnxruntime-web (wasm), all in this process, interleaved round by round so that load
 * from other processes hits every runtime alike; latencies are medians over the timed rounds.
 *
 *   tsx scripts/profile-model.ts [--model rec|det|cls|<path.onnx>] [--runs 15] [--warmup 3] [--threads 2]
 *                                [--input sample|random] [--top 15] [--level all|basic|none] [--no-peers]
 *                                [--no-single] [--compare <dir>]
 *
 * Inputs: rec = assets/samples/line_0.png through demo/ocr.ts recInput, right-padded with zeros to
 * 1x3x48x320 (as PaddleOCR pads a batch); cls = clsInput of the same line (1x3x48x192); det = detInput of
 * assets/samples/document.png (1x3x320x320); `--input random` uses uniform [-1, 1) values of the same shape,
 * as does any other model (dynamic dims of its float input taken as 1, or set with --shape 1,3,48,320).
 *
 * Prints: the Tessera latency with `--threads` threads and with 1 thread (plain sessions, profiling off), the
 * onnxruntime-node and onnxruntime-web latencies (1 thread each, as the bench does) and the ratios; then, from a
 * profiled session run in the same rounds, per-op-type total time (median run), node count and share, and the
 * top nodes with their input/output shapes (from one probe run) and attributes, and the GFLOP/s of the matrix ops.
 * `--compare <dir>`: another checkout of Tessera (e.g. `git archive HEAD src | tar -x -C <dir>`, with a
 * node_modules link) whose session is timed in the same rounds with the same threads: a before/after in one process.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { clsInput, detInput, recInput } from '../demo/ocr.js';
import { Executor, InferenceSession, type Node, type NodeTiming } from '../src/graph/index.js';
import { shutdownPool, startPool } from '../src/kernels/cpu/pool.js';
import { Tensor } from '../src/tensor/tensor.js';
import { loadPng, OCR_MODELS, SAMPLES } from '../test/models/oracle.js';

const MODELS: Record<string, string> = {
  rec: join(OCR_MODELS, 'ch_PP-OCRv4_rec_infer.onnx'),
  det: join(OCR_MODELS, 'ch_PP-OCRv4_det_infer.onnx'),
  cls: join(OCR_MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
};

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'rec' },
    runs: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    input: { type: 'string', default: 'sample' },
    shape: { type: 'string' },
    top: { type: 'string', default: '15' },
    level: { type: 'string', default: 'all' },
    'no-peers': { type: 'boolean', default: false },
    'no-single': { type: 'boolean', default: false },
    compare: { type: 'string' },
  },
  strict: true,
});

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Pad a [1, C, H, w] tensor on the right with zeros to width `width`. */
function padWidth(t: Tensor, width: number): Tensor<'float32'> {
  const [n, c, h, w] = t.dims as [number, number, number, number];
  if (w >= width) return t as Tensor<'float32'>;
  const src = t.data as Float32Array;
  const out = new Float32Array(n * c * h * width);
  for (let row = 0; row < n * c * h; row++) out.set(src.subarray(row * w, row * w + w), row * width);
  return new Tensor('float32', out, [n, c, h, width]);
}

function randomTensor(dims: readonly number[]): Tensor<'float32'> {
  let seed = 12345;
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    data[i] = (seed / 2 ** 32) * 2 - 1;
  }
  return new Tensor('float32', data, dims);
}

function sampleInput(model: string, session: InferenceSession): Tensor<'float32'> {
  const explicit = args.shape?.split(',').map(Number);
  const random = args.input === 'random';
  if (model === 'rec') return random ? randomTensor(explicit ?? [1, 3, 48, 320]) : padWidth(recInput(loadPng(join(SAMPLES, 'line_0.png'))), 320);
  if (model === 'cls') return random ? randomTensor(explicit ?? [1, 3, 48, 192]) : clsInput(loadPng(join(SAMPLES, 'line_0.png')));
  if (model === 'det') return random ? randomTensor(explicit ?? [1, 3, 320, 320]) : detInput(loadPng(join(SAMPLES, 'document.png'))).tensor;
  const shape = explicit ?? (session.inputMetadata[0]?.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  return randomTensor(shape);
}

function formatAttr(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => formatAttr(x)).join(',')}]`;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (typeof v === 'string' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Tensor) return `tensor${JSON.stringify(v.dims)}`;
  return typeof v;
}

interface NodeShapes {
  inputs: (readonly number[] | undefined)[];
  outputs: (readonly number[] | undefined)[];
}

/**
 * Input and output dims of every node in one run of `session`. Wraps Executor.prototype.runNode (a private
 * method: this is a profiling tool's hook, restored right after the run).
 */
async function probeShapes(session: InferenceSession, feeds: Record<string, Tensor>): Promise<Map<string, NodeShapes>> {
  type RunNode = (node: Node, inputs: (Tensor | undefined)[], ...rest: unknown[]) => Tensor[];
  const proto = Executor.prototype as unknown as { runNode: RunNode };
  const original = proto.runNode;
  const shapes = new Map<string, NodeShapes>();
  proto.runNode = function (this: unknown, node: Node, inputs: (Tensor | undefined)[], ...rest: unknown[]): Tensor[] {
    const outputs = original.call(this, node, inputs, ...rest);
    shapes.set(node.name, { inputs: inputs.map((t) => t?.dims), outputs: outputs.map((t) => t.dims) });
    return outputs;
  };
  try {
    const out = await session.run(feeds);
    for (const t of Object.values(out)) t.dispose();
  } finally {
    proto.runNode = original;
  }
  return shapes;
}

/** Multiply-add FLOPs (2 per multiply-add) of a Conv / MatMul / Gemm-like node, 0 for anything else. */
function nodeFlops(opType: string, attrs: Readonly<Record<string, unknown>>, inputs: NodeShapes['inputs'], outputs: NodeShapes['outputs']): number {
  const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
  const x = inputs[0];
  const w = inputs[1];
  const y = outputs[0];
  if (!x || !w || !y) return 0;
  if (opType === 'Conv' || opType === 'FusedConv') {
    // every output element: (C/group) * kernel multiply-adds = prod(w.dims.slice(1))
    return 2 * prod(y) * prod(w.slice(1));
  }
  if (opType === 'MatMul' || opType === 'FusedMatMul' || opType === 'Gemm' || opType === 'FusedGemm') {
    const transA = attrs['transA'] === 1;
    const k = transA ? x[x.length - 2]! : x[x.length - 1]!;
    return 2 * prod(y) * k;
  }
  return 0;
}

let stopOther: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  const modelKey = args.model;
  const path = MODELS[modelKey] ?? modelKey;
  const runs = Number(args.runs);
  const warmup = Number(args.warmup);
  const threads = Number(args.threads);
  const top = Number(args.top);
  const level = args.level as 'all' | 'basic' | 'none';
  const peers = !args['no-peers'];
  const single = !args['no-single'] && threads > 1;
  await startPool(threads);

  const plain = await InferenceSession.create(path, { threads, graphOptimizationLevel: level });
  const plain1 = single ? await InferenceSession.create(path, { threads: 1, graphOptimizationLevel: level }) : undefined;
  const profiled = await InferenceSession.create(path, { threads, graphOptimizationLevel: level, enableProfiling: true });
  type SessionLike = { run(feeds: Record<string, unknown>): Promise<Record<string, { dispose(): void }>> };
  let other: SessionLike | undefined;
  if (args.compare) {
    const otherGraph = (await import(join(args.compare, 'src/graph/index.ts'))) as { InferenceSession: { create(p: string, o: object): Promise<SessionLike> } };
    const otherPool = (await import(join(args.compare, 'src/kernels/cpu/pool.ts'))) as { startPool(n: number): Promise<void>; shutdownPool(): Promise<void> };
    const otherTensor = (await import(join(args.compare, 'src/tensor/tensor.ts'))) as { Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown };
    await otherPool.startPool(threads);
    const session = await otherGraph.InferenceSession.create(path, { threads, graphOptimizationLevel: level });
    other = {
      run: (f) => session.run(Object.fromEntries(Object.entries(f).map(([k, t]) => [k, new otherTensor.Tensor('float32', (t as Tensor).data as Float32Array, (t as Tensor).dims.slice())]))),
    };
    stopOther = () => otherPool.shutdownPool();
  }
  const input = sampleInput(modelKey, plain);
  const inputName = plain.inputNames[0]!;
  const feeds = { [inputName]: input };

  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.logLevel = 'error';
  const nodeSession = peers ? await ortNode.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 }) : undefined;
  const webSession = peers ? await ortWeb.InferenceSession.create(path, { executionProviders: ['wasm'] }) : undefined;
  const ortFeedsNode = { [inputName]: new ortNode.Tensor('float32', input.data as Float32Array, input.dims.slice()) };
  const ortFeedsWeb = { [inputName]: new ortWeb.Tensor('float32', input.data as Float32Array, input.dims.slice()) };

  const times: Record<string, number[]> = { tessera: [], tessera1: [], other: [], ortNode: [], ortWeb: [] };
  const profiles: NodeTiming[][] = [];
  const dispose = (out: Record<string, Tensor>): void => {
    for (const t of Object.values(out)) t.dispose();
  };
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  for (let round = 0; round < warmup + runs; round++) {
    const timed = round >= warmup;
    const t = await time(async () => dispose(await plain.run(feeds)));
    const t1 = plain1 ? await time(async () => dispose(await plain1.run(feeds))) : 0;
    const tc = other ? await time(async () => dispose((await other.run(feeds)) as Record<string, Tensor>)) : 0;
    dispose(await profiled.run(feeds));
    const tn = nodeSession ? await time(() => nodeSession.run(ortFeedsNode)) : 0;
    const tw = webSession ? await time(() => webSession.run(ortFeedsWeb)) : 0;
    if (!timed) continue;
    times['tessera']!.push(t);
    if (plain1) times['tessera1']!.push(t1);
    if (other) times['other']!.push(tc);
    if (nodeSession) times['ortNode']!.push(tn);
    if (webSession) times['ortWeb']!.push(tw);
    profiles.push([...(profiled.lastRunStats?.nodes ?? [])]);
  }

  const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`model ${path}`);
  console.log(`input ${inputName} [${input.dims.join(', ')}] (${args.input}), level ${level}, ${warmup} warm-up + ${runs} timed rounds, interleaved; load average ${load}`);
  const tMed = median(times['tessera']!);
  console.log(`tessera cpu ${threads} thread(s): median ${tMed.toFixed(1)} ms (min ${Math.min(...times['tessera']!).toFixed(1)})`);
  if (plain1) console.log(`tessera cpu 1 thread:    median ${median(times['tessera1']!).toFixed(1)} ms (min ${Math.min(...times['tessera1']!).toFixed(1)})`);
  if (other) console.log(`compare ${args.compare} ${threads} thread(s): median ${median(times['other']!).toFixed(1)} ms (min ${Math.min(...times['other']!).toFixed(1)})`);
  if (peers) {
    const n = median(times['ortNode']!);
    const w = median(times['ortWeb']!);
    console.log(`onnxruntime-node 1 thread: median ${n.toFixed(2)} ms (min ${Math.min(...times['ortNode']!).toFixed(2)})`);
    console.log(`onnxruntime-web wasm 1 thread: median ${w.toFixed(2)} ms (min ${Math.min(...times['ortWeb']!).toFixed(2)})`);
    console.log(`ratio tessera(${threads}t)/ort-node = ${(tMed / n).toFixed(2)}x, tessera(${threads}t)/ort-web = ${(tMed / w).toFixed(2)}x`);
  }

  // per node: median over the profiled runs (nodes run in the same order each time)
  const nodeCount = profiles[0]?.length ?? 0;
  const perNode = Array.from({ length: nodeCount }, (_, i) => ({
    node: profiles[0]![i]!.node,
    opType: profiles[0]![i]!.opType,
    ms: median(profiles.map((p) => p[i]?.ms ?? 0)),
  }));
  const total = perNode.reduce((s, n) => s + n.ms, 0);
  const byType = new Map<string, { ms: number; count: number }>();
  for (const n of perNode) {
    const e = byType.get(n.opType) ?? { ms: 0, count: 0 };
    e.ms += n.ms;
    e.count++;
    byType.set(n.opType, e);
  }
  console.log(`\nprofiled run: ${nodeCount} nodes, sum of per-node medians ${total.toFixed(1)} ms (profiled session, ${threads} thread(s))`);
  console.log('op type                     ms   nodes   share');
  for (const [op, e] of [...byType].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${op.padEnd(24)} ${e.ms.toFixed(2).padStart(7)} ${String(e.count).padStart(7)} ${((100 * e.ms) / total).toFixed(1).padStart(6)}%`);
  }

  // actual shapes: one probe run with the executor's per-node step wrapped (a profiling-only hook)
  const shapes = await probeShapes(profiled, feeds);
  const g = profiled.model.graph;
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  const dimsOf = (name: string, dims: readonly number[] | undefined): string => {
    if (!name) return '-';
    return `[${dims ? dims.join('x') : '?'}]${g.initializers.has(name) ? 'c' : ''}`;
  };
  const flopsByType = new Map<string, number>();
  for (const n of perNode) {
    const node = byName.get(n.node);
    const s = shapes.get(n.node);
    if (!node || !s) continue;
    const f = nodeFlops(node.opType, node.attrs, s.inputs, s.outputs);
    if (f > 0) flopsByType.set(n.opType, (flopsByType.get(n.opType) ?? 0) + f);
  }
  console.log('\nmatrix work: op type, GFLOP per run, GFLOP/s achieved in the profiled run');
  for (const [op, f] of flopsByType) {
    const ms = byType.get(op)?.ms ?? 0;
    console.log(`${op.padEnd(24)} ${(f / 1e9).toFixed(3).padStart(7)} GFLOP ${(f / 1e6 / Math.max(ms, 1e-9)).toFixed(2).padStart(7)} GFLOP/s`);
  }
  console.log(`\ntop ${top} nodes (median ms): inputs -> outputs ('c' = constant), attributes`);
  for (const n of [...perNode].sort((a, b) => b.ms - a.ms).slice(0, top)) {
    const node = byName.get(n.node);
    const s = shapes.get(n.node);
    const io = node && s ? `${node.inputs.map((name, i) => dimsOf(name, s.inputs[i])).join(' ')} -> ${node.outputs.map((name, i) => dimsOf(name, s.outputs[i])).join(' ')}` : '';
    const attrs = node ? Object.entries(node.attrs).map(([k, v]) => `${k}=${formatAttr(v)}`).join(' ') : '';
    console.log(`${n.ms.toFixed(2).padStart(7)} ${n.opType.padEnd(14)} ${n.node.slice(0, 40).padEnd(40)} ${io} ${attrs}`);
  }
  await plain.release();
  await plain1?.release();
  await profiled.release();
  await nodeSession?.release();
  await webSession?.release();
  await shutdownPool();
  await stopOther?.();
}

await main();
