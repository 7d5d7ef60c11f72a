/**
 * Rules that turn computations on constants into constants (level 'basic').
 *
 * - ConstantToInitializer: a Constant node becomes an initializer of the same name.
 * - ConstantFolding: a deterministic node whose inputs are all constants is run once, through runOp and the
 *   same CPU kernels the executor uses, and its outputs become initializers. Skipped: nodes whose outputs
 *   would exceed `maxFoldedElements` (ConstantOfShape/Expand/Tile blowing a small constant up), random
 *   generators, control flow and function calls, nodes whose kernel fails (left for run time to report), and
 *   weight decompression (DequantizeLinear, Cast float16 -> float32 of a constant: compressed weights stay so).
 * - ShapeFolding: Shape/Size of a value whose dims are statically known (declared input shapes, value_info,
 *   light propagation in ./shapes.ts) becomes a constant; the Gather/Concat/Unsqueeze... chain over it then
 *   folds by ConstantFolding.
 * - ShapeSliceFolding: Gather or Slice picking entries of Shape(x) when only some of x's dims are known: the
 *   real Gather/Slice runs on the shape vector with a distinct sentinel standing for each unknown dim; when
 *   no sentinel survives into the result, the result is a constant.
 */
import { runOp } from '../../ops/dispatch.js';
import { shapeRange } from '../../ops/shape.js';
import { TesseraError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Node } from '../ir.js';
import type { RewriteRule, RuleContext } from './rule.js';
import { inferOutputs } from './shapes.js';

/** Operators whose result is not a function of their inputs. */
const NON_DETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/**
 * Weights stored compressed (int8 behind DequantizeLinear, float16 behind a Cast to float32, as the quantize
 * passes of src/quant write them) stay compressed: folding them would put the float32 copy back in memory.
 */
function decompressesWeight(node: Node, ctx: RuleContext): boolean {
  if (node.opType === 'DequantizeLinear') return true;
  return node.opType === 'Cast' && node.attrs['to'] === 1 && ctx.editor.constant(node.inputs[0] ?? '')?.type === 'float16';
}

/** Operators the executor runs itself or that must stay in the graph. */
const NEVER_FOLD = new Set(['If', 'Loop', 'Scan', 'Constant']);

/** Store folded outputs as contiguous initializers under the node's output names and drop the node. */
function replaceByConstants(node: Node, values: readonly Tensor[], ctx: RuleContext): void {
  const ed = ctx.editor;
  ed.removeNodes(node);
  values.forEach((t, i) => {
    const name = node.outputs[i];
    if (!name) {
      t.dispose();
      return;
    }
    const c = t.contiguous();
    if (c !== t) t.dispose();
    ed.setInitializer(name, c);
  });
}

export const constantToInitializer: RewriteRule = {
  name: 'ConstantToInitializer',
  opTypes: ['Constant'],
  condition(node, ctx) {
    return !ctx.gaveUp.has(node) && node.outputs.length === 1 && !!node.outputs[0] && ctx.opset('') !== undefined;
  },
  apply(node, ctx) {
    const value = node.attrs['value'];
    if (value instanceof Tensor) {
      // the attribute's tensor is shared with the source graph (never disposed or written by passes)
      replaceByConstants(node, [value.reshape(value.dims)], ctx);
      return true;
    }
    try {
      const out = runOp('Constant', [], node.attrs, { opset: ctx.opset(''), node: node.name, backend: 'cpu', threads: 1 });
      replaceByConstants(node, out, ctx);
      return true;
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
      ctx.gaveUp.add(node);
      return false;
    }
  },
};

export const constantFolding: RewriteRule = {
  name: 'ConstantFolding',
  opTypes: ['*'],
  condition(node, ctx) {
    if (ctx.gaveUp.has(node) || node.domain !== '' || node.functionBody) return false;
    if (NEVER_FOLD.has(node.opType) || NON_DETERMINISTIC.has(node.opType)) return false;
    if (node.subgraphs().length > 0 || decompressesWeight(node, ctx)) return false;
    const ed = ctx.editor;
    if (node.outputs.every((o) => !o || ed.isUnused(o))) return false; // dead: DeadNodeElimination drops it
    return node.inputs.every((name) => !name || ed.constant(name) !== undefined);
  },
  apply(node, ctx) {
    const ed = ctx.editor;
    const opset = ctx.opset(node.domain);
    if (opset === undefined) return false;
    const inputs = node.inputs.map((name) => (name ? ed.constant(name) : undefined));
    const infer = { opset, node: node.name, numOutputs: node.outputs.length };
    const predicted = inferOutputs(node.opType, node.domain, inputs, node.attrs, infer);
    const elements = predicted?.reduce((s, o) => s + o.dims.reduce((a, b) => a * b, 1), 0);
    if (elements === undefined || elements > ctx.options.maxFoldedElements) {
      ctx.gaveUp.add(node);
      return false;
    }
    let out: Tensor[];
    try {
      out = runOp(node.opType, inputs, node.attrs, { opset, domain: node.domain, node: node.name, numOutputs: node.outputs.length, backend: 'cpu', threads: 1 });
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
      ctx.gaveUp.add(node);
      return false;
    }
    for (let i = node.outputs.length; i < out.length; i++) out[i]!.dispose();
    replaceByConstants(node, out.slice(0, node.outputs.length), ctx);
    return true;
  },
};

function int64Tensor(values: readonly number[], dims: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export const shapeFolding: RewriteRule = {
  name: 'ShapeFolding',
  opTypes: ['Shape', 'Size'],
  condition(node, ctx) {
    const x = node.inputs[0];
    if (!x || !node.outputs[0] || ctx.editor.isUnused(node.outputs[0])) return false;
    if (ctx.editor.constant(x)) return false; // ConstantFolding handles it
    const dims = ctx.editor.known(x)?.dims;
    if (!dims) return false;
    if (node.opType === 'Size') return dims.every((d) => d !== null);
    const [start, end] = shapeRange(dims.length, node.attrs);
    return dims.slice(start, end).every((d) => d !== null);
  },
  apply(node, ctx) {
    const dims = ctx.editor.known(node.inputs[0]!)!.dims as readonly number[];
    let value: Tensor;
    if (node.opType === 'Size') value = int64Tensor([dims.reduce((a, b) => a * b, 1)], []);
    else {
      const [start, end] = shapeRange(dims.length, node.attrs);
      const picked = dims.slice(start, end);
      value = int64Tensor(picked, [picked.length]);
    }
    replaceByConstants(node, [value], ctx);
    return true;
  },
};

/** Sentinel for unknown dim i: far below any real dim and distinct per position. */
const SENTINEL_BASE = -(2n ** 62n);

export const shapeSliceFolding: RewriteRule = {
  name: 'ShapeSliceFolding',
  opTypes: ['Gather', 'Slice'],
  condition(node, ctx) {
    const ed = ctx.editor;
    const data = node.inputs[0];
    if (!data || !node.outputs[0] || ed.isUnused(node.outputs[0]) || ctx.gaveUp.has(node)) return false;
    const shape = ed.producer(data);
    if (!shape || shape.opType !== 'Shape' || shape.domain !== '' || !shape.inputs[0]) return false;
    if (!ed.known(shape.inputs[0])?.dims) return false;
    // every other input (indices, starts, ends, axes, steps) must be constant
    return node.inputs.slice(1).every((name) => !name || ed.constant(name) !== undefined);
  },
  apply(node, ctx) {
    const ed = ctx.editor;
    const shape = ed.producer(node.inputs[0]!)!;
    const dims = ed.known(shape.inputs[0]!)!.dims!;
    const [start, end] = shapeRange(dims.length, shape.attrs);
    const vector = new BigInt64Array(end - start);
    for (let i = start; i < end; i++) {
      const d = dims[i];
      vector[i - start] = d === null || d === undefined ? SENTINEL_BASE + BigInt(i) : BigInt(d);
    }
    const shapeTensor = new Tensor('int64', vector, [vector.length]);
    const opset = ctx.opset('');
    let out: Tensor[];
    try {
      const inputs = [shapeTensor, ...node.inputs.slice(1).map((name) => (name ? ed.constant(name) : undefined))];
      out = runOp(node.opType, inputs, node.attrs, { opset, node: node.name, backend: 'cpu', threads: 1 });
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
      ctx.gaveUp.add(node);
      return false;
    } finally {
      shapeTensor.dispose();
    }
    const result = out[0]!;
    const values = result.data as BigInt64Array;
    const limit = SENTINEL_BASE + BigInt(dims.length);
    for (const v of values) {
      if (v >= SENTINEL_BASE && v < limit) {
        result.dispose();
        ctx.gaveUp.add(node);
        return false;
      }
    }
    replaceByConstants(node, [result], ctx);
    return true;
  },
};
