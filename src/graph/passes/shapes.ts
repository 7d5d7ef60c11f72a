/**
 * Light static shape and type propagation for the graph passes.
 *
 * What is known about a value: its element type and its dims, where a dim is a number or unknown (symbolic
 * names and nulls both count as unknown here). Sources, strongest first:
 *   1. initializers (exact),
 *   2. nodes whose output shapes the operator schemas can infer from what is known of their inputs,
 *   3. declared types: main-graph inputs (the session checks feeds against them), value_info, outputs;
 *      subgraph inputs only give their element type (Loop/Scan bodies are fed unchecked).
 *
 * (2) runs the operator's own `normalize` + `infer` (the same code runOp runs before a kernel) on stand-in
 * tensors: an initializer is passed as itself, any other fully known value as a zero-filled tensor of its
 * type and dims. This is only sound for inputs whose *values* do not affect output shapes, so inference runs
 * only for operators listed here: SHAPE_ONLY operators (output dims depend on input dims and attributes
 * only) and VALUE_INPUTS operators, whose listed inputs (Reshape's shape, Slice's starts...) must be
 * constants for inference to run, and Tessera's fused operators (domain com.tessera: Conv+activation, the QDQ
 * kernels), whose outputs are sized by their input dims. Anything else (If, Loop, NonZero, other domains...)
 * stays unknown.
 *
 * Besides full shapes, dims propagate partially (some known, some not) through shape-preserving unary
 * operators, so `Shape(x)` followed by `Gather`/`Slice` that picks only known dims can still fold.
 *
 * Cost: one infer call per node plus stand-in allocations (values above MAX_STANDIN_ELEMENTS stay unknown).
 */
import type { AttrValue } from '../../kernels/registry.js';
import { checkInputs } from '../../ops/dispatch.js';
import { findSchema, resolveAttrs, type InferContext } from '../../ops/schema.js';
import { allocate, type DataType, type TypedArray } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Dim, Graph, Node } from '../ir.js';
import { FUSED_DOMAIN } from './fusion.js';

/** Largest stand-in tensor allocated for inference (elements). */
const MAX_STANDIN_ELEMENTS = 1 << 21;

/** What is statically known about one value. */
export interface KnownValue {
  readonly dtype?: DataType;
  /** Dims (null = unknown); undefined when even the rank is unknown. */
  readonly dims?: readonly (number | null)[];
}

const UNARY_SAME_SHAPE = [
  'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Gelu', 'Softplus',
  'Softsign', 'ThresholdedRelu', 'Mish', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Erf', 'Sin',
  'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Abs', 'Neg', 'Sign', 'Not',
  'IsNaN', 'IsInf', 'BitwiseNot', 'Identity', 'Cast', 'CastLike', 'Softmax', 'LogSoftmax', 'Hardmax', 'Dropout',
  'Clip', 'PRelu', 'BatchNormalization', 'InstanceNormalization', 'LpNormalization', 'MeanVarianceNormalization',
  'QuantizeLinear', 'DequantizeLinear', 'CumSum', 'Trilu',
];

/** Operators whose output dims depend only on input dims and attributes. */
const SHAPE_ONLY = new Set([
  ...UNARY_SAME_SHAPE,
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'Less', 'LessOrEqual', 'Greater',
  'GreaterOrEqual', 'And', 'Or', 'Xor', 'Where', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor',
  'Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool',
  'MatMul', 'Gemm', 'LayerNormalization', 'GroupNormalization', 'Transpose', 'Flatten', 'Concat', 'Gather',
  'GatherElements', 'DepthToSpace', 'SpaceToDepth', 'Shape', 'Size', 'Einsum', 'ArgMax', 'ArgMin', 'Constant',
]);

/** Operators whose output dims depend on the values of the listed inputs (which must then be constants). */
const VALUE_INPUTS: ReadonlyMap<string, readonly number[]> = new Map([
  ['Reshape', [1]],
  ['Unsqueeze', [1]],
  ['Squeeze', [1]],
  ['Slice', [1, 2, 3, 4]],
  ['Expand', [1]],
  ['Tile', [1]],
  ['Pad', [1, 3]],
  ['Resize', [1, 2, 3]], // Resize-10 takes scales as input 1
  ['Upsample', [1]],
  ['ConstantOfShape', [0]],
  ['Range', [0, 1, 2]],
  ['Split', [1]],
  ['TopK', [1]],
  ['OneHot', [1]],
  ...['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'].map(
    (op) => [op, [1]] as [string, number[]],
  ),
]);

const SAME_SHAPE_UNARY = new Set(UNARY_SAME_SHAPE);

/** Output types and dims a schema infers for a call, or undefined when the call is invalid. */
export function inferOutputs(
  op: string,
  domain: string,
  inputs: readonly (Tensor | undefined)[],
  attrs: Readonly<Record<string, AttrValue>>,
  ctx: InferContext,
): { type: DataType; dims: readonly number[] }[] | undefined {
  const schema = findSchema(op, domain);
  if (!schema) return undefined;
  try {
    let call = { inputs: [...inputs], attrs: resolveAttrs(schema, attrs, ctx) };
    if (schema.normalize) call = schema.normalize(call.inputs, call.attrs, ctx);
    checkInputs(schema, call.inputs, ctx);
    return schema.infer(call.inputs, call.attrs, ctx);
  } catch {
    return undefined;
  }
}

function declaredKnown(type: { kind: string; dtype?: DataType; shape?: readonly Dim[] } | undefined): KnownValue | undefined {
  if (!type || type.kind !== 'tensor') return undefined;
  return { dtype: type.dtype, dims: type.shape?.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) };
}

/** True when every dim is a number. */
export function isStatic(dims: readonly (number | null)[] | undefined): dims is readonly number[] {
  return dims !== undefined && dims.every((d) => d !== null);
}

/**
 * Propagate what is known through `nodes` (in any order; repeated sweeps until nothing changes).
 * `constant(name)` returns the constant tensor of a name (an initializer that is not a graph input).
 * `trustInputShapes`: use the declared dims of graph inputs (true for a main graph, whose feeds the session
 * checks against them; false for subgraphs, whose Loop/Scan inputs nobody checks).
 */
export function propagateShapes(
  g: Pick<Graph, 'inputs' | 'outputs' | 'valueInfo'>,
  nodes: readonly Node[],
  constant: (name: string) => Tensor | undefined,
  opsets: ReadonlyMap<string, number>,
  trustInputShapes = true,
): Map<string, KnownValue> {
  const known = new Map<string, KnownValue>();
  for (const v of [...g.outputs, ...g.valueInfo.values()]) {
    const k = declaredKnown(v.type);
    if (k) known.set(v.name, k);
  }
  for (const v of g.inputs) {
    const k = declaredKnown(v.type);
    if (k) known.set(v.name, trustInputShapes ? k : { dtype: k.dtype });
  }
  const standIns = new Map<string, Tensor>();
  const standIn = (name: string): Tensor | undefined => {
    const c = constant(name);
    if (c) return c;
    let t = standIns.get(name);
    if (t) return t;
    const k = known.get(name);
    if (!k?.dtype || !isStatic(k.dims)) return undefined;
    const size = k.dims.reduce((a, b) => a * b, 1);
    if (size > MAX_STANDIN_ELEMENTS) return undefined;
    t = new Tensor(k.dtype, allocate(k.dtype, size) as TypedArray, k.dims);
    standIns.set(name, t);
    return t;
  };
  const done = new Set<Node>();
  try {
    for (let sweep = 0, changed = true; changed && sweep < 8; sweep++) {
      changed = false;
      for (const n of nodes) {
        if (done.has(n)) continue;
        const result = inferNode(n, known, constant, standIn, opsets);
        if (result === 'wait') continue;
        done.add(n);
        if (result === 'unknown') continue;
        changed = true;
        result.forEach((k, i) => {
          const name = n.outputs[i];
          if (!name || !k) return;
          const prev = known.get(name);
          // keep a declared dtype/dims where inference knows less
          known.set(name, { dtype: k.dtype ?? prev?.dtype, dims: isStatic(k.dims) || !prev?.dims ? k.dims : prev.dims });
        });
      }
    }
  } finally {
    for (const t of standIns.values()) t.dispose();
  }
  return known;
}

type NodeResult = (KnownValue | undefined)[] | 'wait' | 'unknown';

function inferNode(
  n: Node,
  known: Map<string, KnownValue>,
  constant: (name: string) => Tensor | undefined,
  standIn: (name: string) => Tensor | undefined,
  opsets: ReadonlyMap<string, number>,
): NodeResult {
  if (n.functionBody) return 'unknown';
  // Tessera's own fused operators (Conv+activation, QDQ kernels, ...) size their outputs from input dims only
  const fused = n.domain === FUSED_DOMAIN && findSchema(n.opType, n.domain) !== undefined;
  if (n.domain !== '' && !fused) return 'unknown';
  const valueInputs = fused ? undefined : VALUE_INPUTS.get(n.opType);
  if (!fused && !SHAPE_ONLY.has(n.opType) && !valueInputs) return 'unknown';
  const opset = opsets.get('');
  if (opset === undefined) return 'unknown';
  const inputs: (Tensor | undefined)[] = [];
  let missing = false;
  for (let i = 0; i < n.inputs.length; i++) {
    const name = n.inputs[i]!;
    if (!name) {
      inputs.push(undefined);
      continue;
    }
    if (valueInputs?.includes(i)) {
      const c = constant(name);
      if (!c) return 'unknown';
      inputs.push(c);
      continue;
    }
    const t = standIn(name);
    if (!t) missing = true;
    inputs.push(t);
  }
  if (missing) {
    // partial knowledge: dtype and dims of shape-preserving unary ops follow their input
    if (SAME_SHAPE_UNARY.has(n.opType) && n.opType !== 'Cast' && n.opType !== 'CastLike') {
      const k = known.get(n.inputs[0] ?? '');
      if (!k) return 'wait';
      const boolOut = n.opType === 'Not' || n.opType === 'IsNaN' || n.opType === 'IsInf';
      const dtype = boolOut ? 'bool' : n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear' ? undefined : k.dtype;
      return [{ dtype, dims: k.dims }];
    }
    return 'wait';
  }
  const out = inferOutputs(n.opType, n.domain, inputs, n.attrs, { opset, node: n.name, numOutputs: n.outputs.length });
  if (!out) return 'unknown';
  return out.map((o) => ({ dtype: o.type, dims: o.dims }));
}
