/**
 * The model a compression pass works on, and its way in and out of ONNX bytes.
 *
 * - `loadForCompression` decodes a model, builds the IR, turns Constant nodes into initializers and folds
 *   constants (the 'basic' passes: bit-identical), then folds inference BatchNormalization and constant
 *   per-channel Mul/Add (after a Conv, or before an unpadded one: PP-OCRv4's learnable affine blocks) into the
 *   Conv, so that every weight a quantize or prune pass looks at is a plain initializer of the op using it and
 *   the quantized graph keeps no float affine steps between a Conv and its activation.
 * - `applyRules` runs a list of rewrite rules (the passes framework's RewriteRule objects) over the main graph
 *   to a fixed point, like optimizeGraph does for its levels, and drops initializers nothing reads any more.
 * - `modelToProto` / `saveModel` write the IR back as a ModelProto: attributes get their ONNX kinds from the
 *   operator schemas (an attribute value 1 is INT for Conv's group but FLOAT for HardSigmoid's alpha), tensors
 *   become raw_data initializers, declared inputs/outputs/value_info keep their types.
 */
import { readFileSync } from 'node:fs';
import '../kernels/cpu/index.js';
import '../ops/index.js';
import type { AttrValue } from '../kernels/registry.js';
import { findSchema, type AttrKind } from '../ops/schema.js';
import { TesseraError } from '../tensor/errors.js';
import { ONNX_TYPE_CODES } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { Graph, Node, buildModel, type ValueInfo, type ValueType } from '../graph/ir.js';
import { decodeModel } from '../graph/onnx/decode.js';
import { encodeModel } from '../graph/onnx/encode.js';
import { AttributeType, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../graph/onnx/proto.js';
import { tensorToProto } from '../graph/onnx/tensor-proto.js';
import { nodeReads } from '../graph/plan.js';
import { GraphEditor } from '../graph/passes/editor.js';
import { convInputAffineFolding, convOutputAffineFolding } from '../graph/passes/affine.js';
import { convBatchNormFolding } from '../graph/passes/fusion.js';
import { optimizeGraph } from '../graph/passes/optimize.js';
import type { RewriteRule, RuleContext } from '../graph/passes/rule.js';

/** A model under compression: its main graph and the opsets it runs with. */
export interface CompressModel {
  readonly graph: Graph;
  readonly opsets: ReadonlyMap<string, number>;
  readonly irVersion: number;
  readonly producerName: string;
}

/** Decode a model (path or bytes) and prepare it for compression passes (see the file comment). */
export function loadForCompression(model: string | Uint8Array): CompressModel {
  const bytes = typeof model === 'string' ? readFileSync(model) : model;
  const built = buildModel(decodeModel(bytes));
  const basic = optimizeGraph(built.graph, built.opsets, 'basic');
  const folded = applyRules({ graph: basic.graph, opsets: basic.opsets, irVersion: built.irVersion, producerName: built.producerName }, [convBatchNormFolding, convOutputAffineFolding, convInputAffineFolding]);
  return folded.model;
}

/** What applyRules did. */
export interface RuleRun {
  readonly model: CompressModel;
  /** Rewrites per rule name. */
  readonly rewrites: Readonly<Record<string, number>>;
}

/**
 * Run `rules` over the main graph until a round changes nothing (at most `maxRounds`), then drop unread
 * initializers. Rules that emit a new domain record it through ctx.useDomain; the result imports it.
 */
export function applyRules(model: CompressModel, rules: readonly RewriteRule[], maxRounds = 8): RuleRun {
  const ed = new GraphEditor(model.graph, model.opsets, true);
  const opsets = new Map(model.opsets);
  const rewrites: Record<string, number> = {};
  for (const r of rules) rewrites[r.name] = 0;
  const ctx: RuleContext = {
    editor: ed,
    options: { maxFoldedElements: 1_000_000, maxIterations: maxRounds },
    opset: (domain) => opsets.get(domain),
    useDomain: (domain, version) => {
      if (!opsets.has(domain)) opsets.set(domain, version);
    },
    gaveUp: new WeakSet<Node>(),
  };
  for (let round = 0; round < maxRounds; round++) {
    ed.invalidateShapes();
    let changed = false;
    for (const n of [...ed.nodes]) {
      if (!ed.contains(n)) continue;
      for (const rule of rules) {
        if ((rule.domain ?? '') !== n.domain || !(rule.opTypes.includes(n.opType) || rule.opTypes.includes('*'))) continue;
        if (rule.condition(n, ctx) && rule.apply(n, ctx)) {
          rewrites[rule.name]!++;
          changed = true;
          break;
        }
      }
    }
    if (!changed) break;
  }
  const read = new Set<string>();
  for (const n of ed.nodes) for (const name of nodeReads(n)) read.add(name);
  for (const name of [...ed.initializers.keys()]) {
    if (!read.has(name) && !ed.isGraphInput(name) && !ed.isGraphOutput(name)) ed.deleteInitializer(name);
  }
  return { model: { ...model, graph: ed.build(), opsets }, rewrites };
}

/** A name not defined or read anywhere in the editor's scope, built from `base`. */
export function freshName(ed: GraphEditor, base: string): string {
  const taken = (n: string): boolean => ed.definesLocally(n) || ed.consumers(n).length > 0 || ed.isGraphOutput(n);
  if (!taken(base)) return base;
  for (let i = 1; ; i++) if (!taken(`${base}_${i}`)) return `${base}_${i}`;
}

// ---------------------------------------------------------------------------------------------------------
// IR -> ModelProto

const utf8 = new TextEncoder();

function attrKindOf(node: Node, name: string, value: AttrValue): AttrKind {
  const spec = findSchema(node.opType, node.domain)?.attributes[name];
  if (spec) return spec.kind;
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'string';
  if (value instanceof Tensor) return 'tensor';
  if (value instanceof Graph) return 'graph';
  if (Array.isArray(value)) {
    const first: unknown = value[0];
    if (typeof first === 'string') return 'strings';
    if (first instanceof Tensor) return 'tensors';
    if (first instanceof Graph) return 'graphs';
    return value.every((v) => Number.isInteger(v)) ? 'ints' : 'floats';
  }
  throw new TesseraError(`saveModel: cannot tell the ONNX kind of attribute '${name}' of ${node.label}`);
}

function attributeProto(node: Node, name: string, value: AttrValue): AttributeProto {
  const a: AttributeProto = { name, type: 0, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensorsCount: 0, typeProtosCount: 0 };
  const kind = attrKindOf(node, name, value);
  const bad = (): never => {
    throw new TesseraError(`saveModel: attribute '${name}' of ${node.label} is declared ${kind} but holds ${String(value)}`);
  };
  switch (kind) {
    case 'int':
      if (typeof value !== 'number') bad();
      a.type = AttributeType.INT;
      a.i = BigInt(Math.trunc(value as number));
      break;
    case 'float':
      if (typeof value !== 'number') bad();
      a.type = AttributeType.FLOAT;
      a.f = value as number;
      break;
    case 'string':
      if (typeof value !== 'string') bad();
      a.type = AttributeType.STRING;
      a.s = utf8.encode(value as string);
      break;
    case 'ints':
      a.type = AttributeType.INTS;
      a.ints = (value as readonly number[]).map((v) => BigInt(Math.trunc(v)));
      break;
    case 'floats':
      a.type = AttributeType.FLOATS;
      a.floats = [...(value as readonly number[])];
      break;
    case 'strings':
      a.type = AttributeType.STRINGS;
      a.strings = (value as readonly string[]).map((s) => utf8.encode(s));
      break;
    case 'tensor':
      a.type = AttributeType.TENSOR;
      a.t = tensorToProto(contiguous(value as Tensor));
      break;
    case 'tensors':
      a.type = AttributeType.TENSORS;
      a.tensors = (value as readonly Tensor[]).map((t) => tensorToProto(contiguous(t)));
      break;
    case 'graph':
      a.type = AttributeType.GRAPH;
      a.g = graphToProto(value as Graph);
      break;
    case 'graphs':
      a.type = AttributeType.GRAPHS;
      a.graphs = (value as readonly Graph[]).map(graphToProto);
      break;
  }
  return a;
}

/** A tensor whose `data` is its elements in order (initializers usually are already). */
function contiguous(t: Tensor): Tensor {
  const data = t.data;
  return data.length === t.size ? t : new Tensor(t.type, t.numbers(), t.dims);
}

function valueInfoProto(v: ValueInfo): ValueInfoProto {
  const t: ValueType | undefined = v.type;
  if (!t || t.kind !== 'tensor') return { name: v.name };
  const shape = t.shape?.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {}));
  return { name: v.name, type: { tensorType: { elemType: ONNX_TYPE_CODES[t.dtype], shape } } };
}

function nodeProto(n: Node): NodeProto {
  if (n.functionBody) throw new TesseraError(`saveModel: ${n.label} calls a model-local function; saving those is not supported`);
  return {
    input: [...n.inputs],
    output: [...n.outputs],
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    attribute: Object.entries(n.attrs).map(([k, v]) => attributeProto(n, k, v)),
  };
}

function graphToProto(g: Graph): GraphProto {
  return {
    node: g.nodes.map(nodeProto),
    name: g.name,
    initializer: [...g.initializers].map(([name, t]) => tensorToProto(contiguous(t), name)),
    sparseInitializer: [],
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
    valueInfo: [...g.valueInfo.values()].map(valueInfoProto),
  };
}

/** The model as a ModelProto. */
export function modelToProto(m: CompressModel): ModelProto {
  return {
    irVersion: m.irVersion,
    opsetImport: [...m.opsets].map(([domain, version]) => ({ domain, version })),
    producerName: m.producerName ? `${m.producerName} + tessera` : 'tessera',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: graphToProto(m.graph),
    metadataProps: [],
    functions: [],
  };
}

/** The model as ONNX bytes. */
export function saveModel(m: CompressModel): Uint8Array {
  return encodeModel(modelToProto(m));
}

// ---------------------------------------------------------------------------------------------------------
// name compaction

/**
 * The model with every initializer and intermediate value renamed to a short base-36 name and every node
 * named by its position (also base 36), so a saved file spends its bytes on weights rather than on the long
 * names exporters write (a Paddle export spends ~38 KB of a 200 KB int8 cls file on names). Graph inputs and
 * outputs keep their names; value_info entries follow their values. Models with subgraphs or model-local
 * functions (which may read outer names) are returned unchanged.
 */
export function compactNames(m: CompressModel): CompressModel {
  const g = m.graph;
  if (g.nodes.some((n) => n.subgraphs().length > 0 || n.functionBody)) return m;
  const fixed = new Set([...g.inputs.map((v) => v.name), ...g.outputs.map((v) => v.name)]);
  const renamed = new Map<string, string>();
  let counter = 0;
  const fresh = (): string => {
    for (;;) {
      const name = (counter++).toString(36);
      if (!fixed.has(name)) return name;
    }
  };
  const nameOf = (name: string): string => {
    if (!name || fixed.has(name)) return name;
    let short = renamed.get(name);
    if (short === undefined) renamed.set(name, (short = fresh()));
    return short;
  };
  const initializers = new Map<string, Tensor>();
  for (const [name, t] of g.initializers) initializers.set(nameOf(name), t);
  const nodes = g.nodes.map((n, i) => new Node(i.toString(36), n.opType, n.domain, n.inputs.map(nameOf), n.outputs.map(nameOf), n.attrs, i));
  const valueInfo = new Map<string, ValueInfo>();
  for (const [name, v] of g.valueInfo) {
    const short = fixed.has(name) ? name : renamed.get(name);
    if (short !== undefined) valueInfo.set(short, { ...v, name: short });
  }
  return { ...m, graph: new Graph(g.name, nodes, g.inputs, g.outputs, initializers, valueInfo) };
}
