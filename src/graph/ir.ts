/**
 * The graph IR: what a model is once its bytes are decoded.
 *
 * - `Graph`: nodes in file order, declared inputs/outputs with types, initializers as Tensors, value infos.
 *   It is also the concrete `GraphAttribute` (kind 'graph') that If/Loop/Scan bodies reach runOp with.
 * - `Node`: op type, domain, input/output value names ('' = an omitted optional), resolved attributes.
 *   A call to a model-local function carries the function body instantiated with the call's attributes.
 * - `Value`: one named value with its type (dtype + shape with numeric, symbolic or unknown dims), producer
 *   and consumers, built by `graphValues`.
 * - `Model`: IR version, opset per domain, producer, metadata, the main graph.
 *
 * `buildModel` converts a ModelProto into this form: attributes get their JavaScript values (ints clamped to
 * the safe-integer range, strings decoded as UTF-8, tensors converted, subgraphs built recursively), and
 * everything Tessera cannot represent raises UnsupportedModelError, malformed content ModelFormatError.
 */
import type { AttrValue, GraphAttribute } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { ModelFormatError, UnsupportedModelError } from './errors.js';
import {
  AttributeType,
  TensorDataType,
  tensorDataTypeName,
  type AttributeProto,
  type DimensionProto,
  type FunctionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TypeProto,
  type ValueInfoProto,
} from './onnx/proto.js';
import { dtypeOfCode, tensorFromProto, type TensorReadOptions } from './onnx/tensor-proto.js';

/** One dim of a declared shape: a size, a symbolic name, or null when unknown. */
export type Dim = number | string | null;

/**
 * The declared type of a value: a tensor, a sequence of tensors, an optional tensor or sequence (see
 * ./values.ts for their run-time form), or something Tessera cannot hold (maps, sparse tensors, nested
 * sequences, unsupported element types), kept as a description. A sequence's or optional's `elem` is
 * undefined when the file leaves it unspecified.
 */
export type ValueType =
  | { readonly kind: 'tensor'; readonly dtype: DataType; readonly shape?: readonly Dim[] }
  | { readonly kind: 'sequence'; readonly elem?: ValueType & { readonly kind: 'tensor' } }
  | { readonly kind: 'optional'; readonly elem?: ValueType & { readonly kind: 'tensor' | 'sequence' } }
  | { readonly kind: 'unsupported'; readonly description: string };

/** A type as ONNX writes it: "tensor(float)", "seq(tensor(int64))", "optional(seq(tensor(float)))". */
export function describeValueType(t: ValueType | undefined): string {
  if (!t) return 'any type';
  switch (t.kind) {
    case 'tensor':
      return `tensor(${t.dtype})`;
    case 'sequence':
      return `seq(${t.elem ? describeValueType(t.elem) : '?'})`;
    case 'optional':
      return `optional(${t.elem ? describeValueType(t.elem) : '?'})`;
    case 'unsupported':
      return t.description;
  }
}

/** A declared graph input, output or value_info entry. */
export interface ValueInfo {
  readonly name: string;
  readonly type?: ValueType;
}

/** A model-local function call's body, instantiated for one call site. */
export interface FunctionBody {
  readonly graph: Graph;
  /** Opsets the body's nodes run with (the function's opset_import over the model's). */
  readonly opsets: ReadonlyMap<string, number>;
}

/** One operator application. */
export class Node {
  constructor(
    /** Name from the file, or `<opType>_<index>` when the file gave none. */
    readonly name: string,
    readonly opType: string,
    /** '' for the default ONNX domain (also written 'ai.onnx'). */
    readonly domain: string,
    readonly inputs: readonly string[],
    readonly outputs: readonly string[],
    readonly attrs: Readonly<Record<string, AttrValue>>,
    /** Position in the graph's node list. */
    readonly index: number,
    /** Set when the node calls a model-local function. */
    readonly functionBody?: FunctionBody,
  ) {}

  /** "name (OpType)" for messages. */
  get label(): string {
    return `'${this.name}' (${this.domain ? `${this.domain}.` : ''}${this.opType})`;
  }

  /** Subgraphs held in attributes (If branches, Loop/Scan bodies). */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const v of Object.values(this.attrs)) {
      if (v instanceof Graph) out.push(v);
      else if (Array.isArray(v)) for (const x of v) if (x instanceof Graph) out.push(x);
    }
    return out;
  }
}

/** A graph: the main one or a subgraph. */
export class Graph implements GraphAttribute {
  readonly kind = 'graph' as const;
  constructor(
    readonly name: string,
    readonly nodes: readonly Node[],
    readonly inputs: readonly ValueInfo[],
    readonly outputs: readonly ValueInfo[],
    readonly initializers: ReadonlyMap<string, Tensor>,
    readonly valueInfo: ReadonlyMap<string, ValueInfo>,
  ) {}
}

/** A named value with its type, producer and consumers. */
export interface Value {
  readonly name: string;
  type?: ValueType;
  /** The node that produces it; undefined for graph inputs, initializers and outer-scope values. */
  producer?: Node;
  readonly consumers: Node[];
  readonly isInitializer: boolean;
  readonly isGraphInput: boolean;
  readonly isGraphOutput: boolean;
}

/** All values named in a graph (not in its subgraphs), keyed by name. */
export function graphValues(g: Graph): Map<string, Value> {
  const values = new Map<string, Value>();
  const outputs = new Set(g.outputs.map((o) => o.name));
  const inputs = new Set(g.inputs.map((i) => i.name));
  const get = (name: string): Value => {
    let v = values.get(name);
    if (!v) {
      v = {
        name,
        type: g.valueInfo.get(name)?.type,
        consumers: [],
        isInitializer: g.initializers.has(name),
        isGraphInput: inputs.has(name),
        isGraphOutput: outputs.has(name),
      };
      values.set(name, v);
    }
    return v;
  };
  for (const i of g.inputs) get(i.name).type ??= i.type;
  for (const name of g.initializers.keys()) get(name);
  for (const n of g.nodes) {
    for (const name of n.inputs) if (name) get(name).consumers.push(n);
    for (const name of n.outputs) if (name) get(name).producer = n;
  }
  for (const o of g.outputs) get(o.name).type ??= o.type;
  return values;
}

/** A decoded model. */
export interface Model {
  readonly irVersion: number;
  /** Opset version per domain ('' = ai.onnx). */
  readonly opsets: ReadonlyMap<string, number>;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly graph: Graph;
  /** Notes about conversions made while loading (e.g. bfloat16 widened to float32). */
  readonly notes: readonly string[];
}

/** Options of buildModel. */
export interface BuildOptions {
  /** Folder that external tensor data is resolved against. */
  externalDataFolder?: string;
  /** Largest initializer or tensor attribute, in bytes, checked from its dims before allocation (default: no limit). */
  maxTensorBytes?: number;
  /** Largest total of initializer and tensor-attribute bytes, checked before each allocation (default: no limit). */
  maxTotalBytes?: number;
}

/** Deepest nesting of subgraphs (If in If in ...) buildModel accepts; deeper models are refused, not recursed into. */
export const MAX_SUBGRAPH_DEPTH = 64;
/**
 * Most nodes that model-local function calls may expand to in total (every call site gets its own copy of the
 * body, so functions calling functions grow exponentially; this refuses such a model instead of expanding it).
 */
export const MAX_FUNCTION_EXPANSION_NODES = 250_000;

/** '' for the default domain's aliases. */
export function canonicalDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

const utf8 = new TextDecoder('utf-8');
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function clampInt(v: bigint): number {
  return v > SAFE ? Number.MAX_SAFE_INTEGER : v < -SAFE ? -Number.MAX_SAFE_INTEGER : Number(v);
}

interface BuildContext {
  readonly tensorOptions: TensorReadOptions;
  readonly functions: ReadonlyMap<string, FunctionProto>;
  readonly modelOpsets: ReadonlyMap<string, number>;
  /** Function names being instantiated (to refuse recursion). */
  readonly callStack: readonly string[];
  /** Subgraph nesting depth of the graph being built (0 = main graph). */
  readonly depth: number;
  /** Nodes instantiated from function bodies so far (shared by the whole model). */
  readonly expansion: { nodes: number };
}

/** Convert a decoded ModelProto into the IR. */
export function buildModel(proto: ModelProto, options: BuildOptions = {}): Model {
  if (!proto.graph) throw new ModelFormatError('ModelProto: the model has no graph (field 7)');
  if (proto.opsetImport.length === 0) throw new ModelFormatError('ModelProto: the model has no opset_import');
  const opsets = opsetMap(proto.opsetImport, 'ModelProto.opset_import');
  const notes: string[] = [];
  const functions = new Map<string, FunctionProto>();
  for (const f of proto.functions) {
    const key = functionKey(f.domain, f.name, f.overload);
    if (functions.has(key)) throw new ModelFormatError(`ModelProto.functions: function '${f.domain ? `${f.domain}.` : ''}${f.name}' is defined twice`);
    functions.set(key, f);
  }
  const budget =
    options.maxTensorBytes !== undefined || options.maxTotalBytes !== undefined
      ? { maxTensorBytes: options.maxTensorBytes ?? Infinity, maxTotalBytes: options.maxTotalBytes ?? Infinity, usedBytes: 0, totalName: 'maxPlanBytes' }
      : undefined;
  const ctx: BuildContext = {
    tensorOptions: { externalDataFolder: options.externalDataFolder, notes, budget },
    functions,
    modelOpsets: opsets,
    callStack: [],
    depth: 0,
    expansion: { nodes: 0 },
  };
  const graph = buildGraph(proto.graph, 'ModelProto.graph', ctx);
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const e of proto.metadataProps) metadata[e.key] = e.value;
  return {
    irVersion: proto.irVersion,
    opsets,
    producerName: proto.producerName,
    producerVersion: proto.producerVersion,
    metadata,
    graph,
    notes,
  };
}

function functionKey(domain: string, name: string, overload = ''): string {
  return `${canonicalDomain(domain)}\u0000${name}\u0000${overload}`;
}

function opsetMap(list: readonly { domain: string; version: number }[], where: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of list) {
    const d = canonicalDomain(o.domain);
    if (m.has(d) && m.get(d) !== o.version) throw new ModelFormatError(`${where}: domain '${o.domain}' imported twice with versions ${m.get(d)} and ${o.version}`);
    m.set(d, o.version);
  }
  return m;
}

function buildGraph(g: GraphProto, path: string, ctx: BuildContext): Graph {
  if (g.sparseInitializer.length > 0) {
    throw new UnsupportedModelError(`${path}: sparse initializers are not supported (${g.sparseInitializer.length} found)`);
  }
  const initializers = new Map<string, Tensor>();
  g.initializer.forEach((tp, i) => {
    if (!tp.name) throw new ModelFormatError(`${path}.initializer[${i}]: initializer has no name`);
    if (initializers.has(tp.name)) throw new ModelFormatError(`${path}.initializer[${i}]: initializer '${tp.name}' is defined twice`);
    initializers.set(tp.name, tensorFromProto(tp, `${path}.initializer[${i}]`, ctx.tensorOptions));
  });
  const inputs = g.input.map((v, i) => valueInfo(v, `${path}.input[${i}]`));
  const outputs = g.output.map((v, i) => valueInfo(v, `${path}.output[${i}]`));
  const infos = new Map<string, ValueInfo>();
  g.valueInfo.forEach((v, i) => infos.set(v.name, valueInfo(v, `${path}.value_info[${i}]`)));
  const nodes = g.node.map((n, i) => buildNode(n, i, `${path}.node[${i}]`, ctx));
  return new Graph(g.name, nodes, inputs, outputs, initializers, infos);
}

function valueInfo(v: ValueInfoProto, path: string): ValueInfo {
  if (!v.name) throw new ModelFormatError(`${path}: value has no name`);
  return v.type ? { name: v.name, type: valueType(v.type) } : { name: v.name };
}

function describeType(t: TypeProto): string {
  if (t.tensorType) return `tensor(${tensorDataTypeName(t.tensorType.elemType).toLowerCase()})`;
  if (t.sequenceType) return `seq(${t.sequenceType.elemType ? describeType(t.sequenceType.elemType) : '?'})`;
  if (t.optionalType) return `optional(${t.optionalType.elemType ? describeType(t.optionalType.elemType) : '?'})`;
  if (t.mapType) return `map(${tensorDataTypeName(t.mapType.keyType).toLowerCase()}, ${t.mapType.valueType ? describeType(t.mapType.valueType) : '?'})`;
  if (t.sparseTensorType) return `sparse_tensor(${tensorDataTypeName(t.sparseTensorType.elemType).toLowerCase()})`;
  return 'unknown type';
}

function valueType(t: TypeProto): ValueType | undefined {
  const tt = t.tensorType;
  if (tt) {
    if (tt.elemType === TensorDataType.UNDEFINED) return undefined;
    let dtype: DataType;
    try {
      dtype = dtypeOfCode(tt.elemType, 'value');
    } catch {
      return { kind: 'unsupported', description: describeType(t) };
    }
    if (tt.elemType === TensorDataType.BFLOAT16) return { kind: 'unsupported', description: 'tensor(bfloat16)' };
    return tt.shape ? { kind: 'tensor', dtype, shape: tt.shape.map(dimOf) } : { kind: 'tensor', dtype };
  }
  if (t.sequenceType) {
    const inner = t.sequenceType.elemType;
    if (!inner) return { kind: 'sequence' };
    const elem = valueType(inner);
    if (elem === undefined) return { kind: 'sequence' };
    if (elem.kind === 'tensor') return { kind: 'sequence', elem };
    return { kind: 'unsupported', description: describeType(t) };
  }
  if (t.optionalType) {
    const inner = t.optionalType.elemType;
    if (!inner) return { kind: 'optional' };
    const elem = valueType(inner);
    if (elem === undefined) return { kind: 'optional' };
    if (elem.kind === 'tensor' || elem.kind === 'sequence') return { kind: 'optional', elem };
    return { kind: 'unsupported', description: describeType(t) };
  }
  if (!t.mapType && !t.sparseTensorType) return undefined;
  return { kind: 'unsupported', description: describeType(t) };
}

function dimOf(d: DimensionProto): Dim {
  if (d.dimValue !== undefined) return d.dimValue;
  if (d.dimParam) return d.dimParam;
  return null;
}

function buildNode(n: NodeProto, index: number, path: string, ctx: BuildContext): Node {
  if (!n.opType) throw new ModelFormatError(`${path}: node has no op_type`);
  const domain = canonicalDomain(n.domain);
  const name = n.name || `${n.opType}_${index}`;
  const attrs = Object.create(null) as Record<string, AttrValue>;
  n.attribute.forEach((a, i) => {
    const where = `${path}.attribute[${i}] '${a.name}' of node '${name}' (${n.opType})`;
    if (!a.name) throw new ModelFormatError(`${path}.attribute[${i}]: attribute has no name`);
    if (a.refAttrName !== undefined && a.refAttrName !== '') {
      throw new ModelFormatError(`${where}: ref_attr_name '${a.refAttrName}' is only allowed inside a function body`);
    }
    if (a.name in attrs) throw new ModelFormatError(`${where}: attribute given twice`);
    attrs[a.name] = attributeValue(a, where, ctx);
  });
  const fn = ctx.functions.get(functionKey(n.domain, n.opType, n.overload));
  let body: FunctionBody | undefined;
  if (fn) body = instantiateFunction(fn, n, path, ctx);
  return new Node(name, n.opType, domain, [...n.input], [...n.output], attrs, index, body);
}

function attributeValue(a: AttributeProto, where: string, ctx: BuildContext): AttrValue {
  let type = a.type;
  if (type === AttributeType.UNDEFINED) type = inferAttributeType(a, where);
  switch (type) {
    case AttributeType.FLOAT:
      return a.f ?? 0;
    case AttributeType.INT:
      return clampInt(a.i ?? 0n);
    case AttributeType.STRING:
      return utf8.decode(a.s ?? new Uint8Array(0));
    case AttributeType.TENSOR:
      if (!a.t) throw new ModelFormatError(`${where}: TENSOR attribute has no tensor`);
      return tensorFromProto(a.t, `${where}.t`, ctx.tensorOptions);
    case AttributeType.GRAPH:
      if (!a.g) throw new ModelFormatError(`${where}: GRAPH attribute has no graph`);
      return buildGraph(a.g, `${where}.g`, deeper(ctx, where));
    case AttributeType.FLOATS:
      return Object.freeze([...a.floats]);
    case AttributeType.INTS:
      return Object.freeze(a.ints.map(clampInt));
    case AttributeType.STRINGS:
      return Object.freeze(a.strings.map((s) => utf8.decode(s)));
    case AttributeType.TENSORS:
      return Object.freeze(a.tensors.map((t, i) => tensorFromProto(t, `${where}.tensors[${i}]`, ctx.tensorOptions)));
    case AttributeType.GRAPHS:
      return Object.freeze(a.graphs.map((g, i) => buildGraph(g, `${where}.graphs[${i}]`, deeper(ctx, where))));
    case AttributeType.SPARSE_TENSOR:
    case AttributeType.SPARSE_TENSORS:
      throw new UnsupportedModelError(`${where}: sparse tensor attributes are not supported`);
    case AttributeType.TYPE_PROTO:
      // kept as the type's description (Optional's `type`: only an empty optional's declared type)
      if (!a.tp) throw new ModelFormatError(`${where}: TYPE_PROTO attribute has no type`);
      return describeType(a.tp);
    case AttributeType.TYPE_PROTOS:
      throw new UnsupportedModelError(`${where}: type-proto list attributes are not supported`);
    default:
      throw new ModelFormatError(`${where}: unknown attribute type ${type}`);
  }
}

/** The context for a subgraph one level down; refuses nesting deeper than MAX_SUBGRAPH_DEPTH. */
function deeper(ctx: BuildContext, where: string): BuildContext {
  if (ctx.depth + 1 > MAX_SUBGRAPH_DEPTH) throw new ModelFormatError(`${where}: subgraphs nested more than ${MAX_SUBGRAPH_DEPTH} levels deep`);
  return { ...ctx, depth: ctx.depth + 1 };
}

/** Old files may omit AttributeProto.type; infer it from the one field that is set. */
function inferAttributeType(a: AttributeProto, where: string): number {
  if (a.f !== undefined) return AttributeType.FLOAT;
  if (a.i !== undefined) return AttributeType.INT;
  if (a.s !== undefined) return AttributeType.STRING;
  if (a.t) return AttributeType.TENSOR;
  if (a.g) return AttributeType.GRAPH;
  if (a.floats.length) return AttributeType.FLOATS;
  if (a.ints.length) return AttributeType.INTS;
  if (a.strings.length) return AttributeType.STRINGS;
  if (a.tensors.length) return AttributeType.TENSORS;
  if (a.graphs.length) return AttributeType.GRAPHS;
  throw new ModelFormatError(`${where}: attribute has no type and no value`);
}

// ---------------------------------------------------------------------------------------------------------
// Model-local functions: each call site gets the body with `ref_attr_name` attributes replaced by the
// caller's attribute (or the function's default, or dropped when neither exists).

function instantiateFunction(fn: FunctionProto, call: NodeProto, path: string, ctx: BuildContext): FunctionBody {
  const key = `${fn.domain}.${fn.name}`;
  if (ctx.callStack.includes(key)) throw new ModelFormatError(`${path}: function ${key} calls itself (${[...ctx.callStack, key].join(' -> ')})`);
  if (call.input.length > fn.input.length) {
    throw new ModelFormatError(`${path}: call to function ${key} has ${call.input.length} inputs; the function declares ${fn.input.length}`);
  }
  if (call.output.length > fn.output.length) {
    throw new ModelFormatError(`${path}: call to function ${key} has ${call.output.length} outputs; the function declares ${fn.output.length}`);
  }
  const given = new Map(call.attribute.map((a) => [a.name, a]));
  const defaults = new Map(fn.attributeProto.map((a) => [a.name, a]));
  const substitute = (attrs: readonly AttributeProto[]): AttributeProto[] => {
    const out: AttributeProto[] = [];
    for (const a of attrs) {
      if (a.refAttrName) {
        const src = given.get(a.refAttrName) ?? defaults.get(a.refAttrName);
        if (src) out.push({ ...src, name: a.name, refAttrName: undefined });
        continue;
      }
      out.push(a.g || a.graphs.length ? { ...a, g: a.g && substituteGraph(a.g), graphs: a.graphs.map(substituteGraph) } : a);
    }
    return out;
  };
  const substituteGraph = (g: GraphProto): GraphProto => ({ ...g, node: g.node.map((n) => ({ ...n, attribute: substitute(n.attribute) })) });
  const bodyProto: GraphProto = {
    node: fn.node.map((n) => ({ ...n, attribute: substitute(n.attribute) })),
    name: key,
    initializer: [],
    sparseInitializer: [],
    input: fn.input.map((name) => ({ name })),
    output: fn.output.map((name) => ({ name })),
    valueInfo: [],
  };
  const opsets = new Map(ctx.modelOpsets);
  for (const [d, v] of opsetMap(fn.opsetImport, `function ${key} opset_import`)) opsets.set(d, v);
  ctx.expansion.nodes += fn.node.length;
  if (ctx.expansion.nodes > MAX_FUNCTION_EXPANSION_NODES) {
    throw new ModelFormatError(`${path}: calls to model-local functions expand to more than ${MAX_FUNCTION_EXPANSION_NODES} nodes (at function ${key})`);
  }
  if (ctx.callStack.length >= MAX_SUBGRAPH_DEPTH) throw new ModelFormatError(`${path}: function calls nested more than ${MAX_SUBGRAPH_DEPTH} levels deep (at ${key})`);
  const inner: BuildContext = { ...ctx, modelOpsets: opsets, callStack: [...ctx.callStack, key] };
  return { graph: buildGraph(bodyProto, `function ${key}`, inner), opsets };
}
