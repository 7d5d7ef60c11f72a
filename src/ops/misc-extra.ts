/**
 * Further operators, part 2: indexing and rearranging utilities.
 *
 * - BitCast (opset 26): reinterpret the little-endian bytes as another dtype of the same width (`to` is an
 *   ONNX type code; bool and the 8-bit integers share a width).
 * - Compress (opsets 9, 11): keep the slices along `axis` (or the flattened elements) whose 1-D bool
 *   condition is true; a condition shorter than the axis drops the rest. Output size depends on the data.
 * - ReverseSequence (opset 10): reverse the first sequence_lens[b] steps of each batch entry along time_axis.
 * - Det (opsets 11, 22): determinants of [*, M, M] matrices (LU with partial pivoting, in double).
 * - CenterCropPad (opset 18): crop or zero-pad the listed axes to `shape`, centred (odd crops start a half
 *   step left, odd pads put the extra element on the right).
 * - Unique (opset 11): unique values (flattened) or unique slices along `axis`, sorted or in first-occurrence
 *   order, with first indices, inverse indices and counts.
 * - ai.onnx.ml Binarizer (x > threshold ? 1 : 0) and ArrayFeatureExtractor (gather along the last axis; a
 *   1-D X gives [1, k]).
 * - RotaryEmbedding (opset 23): rotary position embedding of [B, H, S, D] or [B, S, H*D] inputs with cos/sin
 *   caches indexed by position_ids (or given per [B, S]), interleaved or half-split, full or partial.
 *
 * Kernels: src/kernels/cpu/misc-extra.ts.
 */
import type { OutputSpec } from '../kernels/registry.js';
import { bytesPerElement, dataTypeFromOnnx, ONNX_TYPE_CODES, type DataType, type NumericArray } from '../tensor/dtype.js';
import { UnsupportedFeatureError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { checkAxis, int64Tensor, withAttrs } from './reduce-axes.js';
import { ALL_TYPES, defineOp, expectMinRank, expectRank, fail, FLOAT_TYPES, intValues, ints, req, type InferContext } from './schema.js';

export * from './spatial.js';
export * from './signal.js';

function label(op: string, ctx: InferContext): string {
  return ctx.node ? `${op} (node '${ctx.node}')` : op;
}

// ---------------------------------------------------------------------------------------------------------
// BitCast

/** ONNX type codes of types Tessera has no tensor for (uint64, bfloat16, complex, float8, 4/2-bit...). */
function isKnownOnnxCode(code: number): boolean {
  return Number.isInteger(code) && code >= 1 && code <= 26 && code !== 8;
}

defineOp({
  name: 'BitCast',
  inputs: [{ name: 'input', type: 'T1' }],
  outputs: ['output'],
  types: { T1: ALL_TYPES },
  attributes: { to: { kind: 'int', required: true } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const code = attrs.to as number;
    const to = dataTypeFromOnnx(code);
    if (!to) {
      if (isKnownOnnxCode(code)) throw new UnsupportedFeatureError(label('BitCast', ctx), `attribute 'to' is ONNX type ${code}, a type Tessera has no tensor for`);
      fail('BitCast', `attribute 'to' is ${code}; expected an ONNX tensor type code`, ctx);
    }
    if (bytesPerElement(to) !== bytesPerElement(x.type)) {
      fail('BitCast', `input 'input' has type ${x.type} (${8 * bytesPerElement(x.type)} bits) but 'to' is ${to} (${8 * bytesPerElement(to)} bits); the widths must match`, ctx);
    }
    return [{ type: to, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Compress

defineOp({
  name: 'Compress',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'condition', type: 'T1' },
  ],
  outputs: ['output'],
  types: { T: ALL_TYPES, T1: ['bool'] },
  attributes: { axis: { kind: 'int' } },
  normalize(inputs, attrs, ctx) {
    const x = req('Compress', inputs, 0, 'input', ctx);
    if (attrs.axis === undefined) return { inputs, attrs };
    if (x.rank === 0) fail('Compress', `input 'input' is a scalar (shape []); 'axis' needs rank >= 1`, ctx);
    return { inputs, attrs: withAttrs(attrs, { axis: checkAxis('Compress', 'attribute axis', attrs.axis as number, x.dims, ctx) }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const [x, cond] = inputs as [Tensor, Tensor];
    expectRank('Compress', 'condition', cond, 1, ctx);
    const axis = attrs.axis as number | undefined;
    const length = axis === undefined ? x.size : x.dims[axis]!;
    const c = cond.data as Uint8Array;
    let kept = 0;
    for (let i = 0; i < c.length; i++) {
      if (!c[i]) continue;
      if (i >= length) fail('Compress', `input 'condition' (shape ${fmtShape(cond.dims)}) is true at ${i}, beyond the ${length} ${axis === undefined ? 'elements' : `entries of axis ${axis}`} of 'input' ${fmtShape(x.dims)}`, ctx);
      kept++;
    }
    if (axis === undefined) return [{ type: x.type, dims: [kept] }];
    const dims = [...x.dims];
    dims[axis] = kept;
    return [{ type: x.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// ReverseSequence

defineOp({
  name: 'ReverseSequence',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'sequence_lens', type: 'I' },
  ],
  outputs: ['Y'],
  types: { T: ALL_TYPES, I: ['int64'] },
  attributes: { batch_axis: { kind: 'int', default: 1 }, time_axis: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const [x, lens] = inputs as [Tensor, Tensor];
    expectMinRank('ReverseSequence', 'input', x, 2, ctx);
    const b = attrs.batch_axis as number;
    const t = attrs.time_axis as number;
    if ((b !== 0 && b !== 1) || (t !== 0 && t !== 1) || b === t) fail('ReverseSequence', `attributes batch_axis=${b} and time_axis=${t} must be 0 and 1 in some order`, ctx);
    if (lens.rank !== 1 || lens.dims[0] !== x.dims[b]) fail('ReverseSequence', `input 'sequence_lens' has shape ${fmtShape(lens.dims)}; expected [${x.dims[b]}] (batch axis ${b} of 'input' ${fmtShape(x.dims)})`, ctx);
    intValues('ReverseSequence', 'sequence_lens', lens, ctx).forEach((n, i) => {
      if (n < 0 || n > x.dims[t]!) fail('ReverseSequence', `input 'sequence_lens'[${i}] is ${n}; expected [0, ${x.dims[t]}] (time axis ${t} of 'input' ${fmtShape(x.dims)})`, ctx);
    });
    return [{ type: x.type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Det

defineOp({
  name: 'Det',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: FLOAT_TYPES },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    expectMinRank('Det', 'X', x, 2, ctx);
    const m = x.dims[x.rank - 1]!;
    if (x.dims[x.rank - 2] !== m) fail('Det', `input 'X' has shape ${fmtShape(x.dims)}; the last two dims must be equal (square matrices)`, ctx);
    return [{ type: x.type, dims: x.dims.slice(0, -2) }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// CenterCropPad

defineOp({
  name: 'CenterCropPad',
  inputs: [
    { name: 'input_data', type: 'T' },
    { name: 'shape', type: 'Tind' },
  ],
  outputs: ['output_data'],
  types: { T: ALL_TYPES, Tind: ['int32', 'int64'] },
  attributes: { axes: { kind: 'ints' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const [x, shape] = inputs as [Tensor, Tensor];
    const target = intValues('CenterCropPad', 'shape', shape, ctx);
    const axes = attrs.axes === undefined ? x.dims.map((_, i) => i) : ints(attrs, 'axes').map((a) => checkAxis('CenterCropPad', 'axes entry', a, x.dims, ctx));
    if (new Set(axes).size !== axes.length) fail('CenterCropPad', `attribute 'axes' [${ints(attrs, 'axes').join(', ')}] repeats an axis of input shape ${fmtShape(x.dims)}`, ctx);
    if (target.length !== axes.length) fail('CenterCropPad', `input 'shape' has ${target.length} values; expected ${axes.length} (one per axis of ${attrs.axes === undefined ? `'input_data' ${fmtShape(x.dims)}` : "'axes'"})`, ctx);
    const dims = [...x.dims];
    axes.forEach((a, i) => {
      if (target[i]! < 0) fail('CenterCropPad', `input 'shape' holds ${target[i]} for axis ${a}; expected a non-negative size`, ctx);
      dims[a] = target[i]!;
    });
    return [{ type: x.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Unique

/** Comparable values of a tensor: numbers (float16 decoded, bool 0/1) or bigints for int64. */
export function comparableValues(t: Tensor): ArrayLike<number | bigint> {
  if (t.type === 'int64') return t.data as BigInt64Array;
  return t.numbers() as NumericArray;
}

/** Number of unique values (no axis) or unique slices along `axis`, by exact value comparison. */
function countUnique(x: Tensor, axis: number | undefined): number {
  const v = comparableValues(x);
  if (axis === undefined) {
    const seen = new Set<number | bigint>();
    for (let i = 0; i < v.length; i++) seen.add(v[i]!);
    return seen.size;
  }
  const len = x.dims[axis]!;
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= x.dims[i]!;
  const inner = len === 0 || outer === 0 ? 0 : x.size / (outer * len);
  const seen = new Set<string>();
  for (let j = 0; j < len; j++) {
    const parts: string[] = [];
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) parts.push(String(v[(o * len + j) * inner + i]!));
    seen.add(parts.join(','));
  }
  return seen.size;
}

defineOp({
  name: 'Unique',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y', 'indices', 'inverse_indices', 'counts'],
  types: { T: ALL_TYPES },
  attributes: { axis: { kind: 'int' }, sorted: { kind: 'int', default: 1 } },
  normalize(inputs, attrs, ctx) {
    const x = req('Unique', inputs, 0, 'X', ctx);
    if (attrs.axis === undefined) return { inputs, attrs };
    if (x.rank === 0) fail('Unique', `input 'X' is a scalar (shape []); 'axis' needs rank >= 1`, ctx);
    return { inputs, attrs: withAttrs(attrs, { axis: checkAxis('Unique', 'attribute axis', attrs.axis as number, x.dims, ctx) }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    if (attrs.sorted !== 0 && attrs.sorted !== 1) fail('Unique', `attribute 'sorted' is ${String(attrs.sorted)}; expected 0 or 1`, ctx);
    const axis = attrs.axis as number | undefined;
    const u = countUnique(x, axis);
    const dims = axis === undefined ? [u] : x.dims.map((d, i) => (i === axis ? u : d));
    const all: OutputSpec[] = [
      { type: x.type, dims },
      { type: 'int64', dims: [u] },
      { type: 'int64', dims: [axis === undefined ? x.size : x.dims[axis]!] },
      { type: 'int64', dims: [u] },
    ];
    return all.slice(0, ctx.numOutputs ?? 4);
  },
});

// ---------------------------------------------------------------------------------------------------------
// RotaryEmbedding

defineOp({
  name: 'RotaryEmbedding',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'cos_cache', type: 'T' },
    { name: 'sin_cache', type: 'T' },
    { name: 'position_ids', type: 'M', optional: true },
  ],
  outputs: ['Y'],
  types: { T: ['float32', 'float16'], M: ['int64'] },
  attributes: { interleaved: { kind: 'int', default: 0 }, num_heads: { kind: 'int' }, rotary_embedding_dim: { kind: 'int', default: 0 } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'RotaryEmbedding';
    const [x, cos, sin, pos] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    expectRank(op, 'X', x, [3, 4], ctx);
    const batch = x.dims[0]!;
    const seq = x.rank === 4 ? x.dims[2]! : x.dims[1]!;
    let head: number;
    if (x.rank === 4) head = x.dims[3]!;
    else {
      const heads = attrs.num_heads as number | undefined;
      if (heads === undefined || heads < 1) fail(op, `input 'X' has shape ${fmtShape(x.dims)} (3-D); the attribute 'num_heads' must be given and positive`, ctx);
      if (x.dims[2]! % heads !== 0) fail(op, `input 'X' has shape ${fmtShape(x.dims)}; hidden size ${x.dims[2]} is not a multiple of num_heads ${heads}`, ctx);
      head = x.dims[2]! / heads;
    }
    const rd = (attrs.rotary_embedding_dim as number) || head;
    if (rd < 0 || rd > head || rd % 2 !== 0) fail(op, `rotary_embedding_dim ${rd} must be even and at most the head size ${head} (input 'X' ${fmtShape(x.dims)})`, ctx);
    const half = rd / 2;
    for (const [name, c] of [
      ['cos_cache', cos],
      ['sin_cache', sin],
    ] as const) {
      const want = pos ? [c.dims[0]!, half] : [batch, seq, half];
      if (c.rank !== want.length || c.dims.some((d, i) => d !== want[i])) {
        fail(op, `input '${name}' has shape ${fmtShape(c.dims)}; expected ${pos ? `[max_position + 1, ${half}]` : fmtShape(want)}`, ctx);
      }
    }
    if (pos) {
      if (pos.rank !== 2 || pos.dims[0] !== batch || pos.dims[1] !== seq) fail(op, `input 'position_ids' has shape ${fmtShape(pos.dims)}; expected [${batch}, ${seq}]`, ctx);
      const rows = cos.dims[0]!;
      const ids = pos.data as BigInt64Array;
      for (let i = 0; i < ids.length; i++) {
        const p = ids[i]!;
        if (p < 0n || p >= BigInt(rows)) fail(op, `input 'position_ids' holds ${p} at flat index ${i}; expected [0, ${rows}) (rows of 'cos_cache')`, ctx);
      }
    }
    return [{ type: x.type, dims: x.dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// ai.onnx.ml Binarizer and ArrayFeatureExtractor

defineOp({
  name: 'Binarizer',
  domain: 'ai.onnx.ml',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: ['float32', 'float64', 'int32', 'int64'] },
  attributes: { threshold: { kind: 'float', default: 0 } },
  infer(inputs): OutputSpec[] {
    const x = inputs[0]!;
    return [{ type: x.type, dims: x.dims }];
  },
});

defineOp({
  name: 'ArrayFeatureExtractor',
  domain: 'ai.onnx.ml',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'Y', type: 'I' },
  ],
  outputs: ['Z'],
  types: { T: ['float32', 'float64', 'int32', 'int64'], I: ['int64'] },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const op = 'ArrayFeatureExtractor';
    const [x, idx] = inputs as [Tensor, Tensor];
    expectMinRank(op, 'X', x, 1, ctx);
    const last = x.dims[x.rank - 1]!;
    const iv = idx.data as BigInt64Array;
    if (iv.length === 0) fail(op, `input 'Y' is empty; expected at least one index`, ctx);
    for (let i = 0; i < iv.length; i++) if (iv[i]! < 0n || iv[i]! >= BigInt(last)) fail(op, `input 'Y' holds ${iv[i]} at ${i}; expected [0, ${last}) (last dim of 'X' ${fmtShape(x.dims)})`, ctx);
    const lead = x.rank === 1 ? [1] : x.dims.slice(0, -1);
    return [{ type: x.type, dims: [...lead, iv.length] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager API

/** Reinterpret the bytes of `x` as dtype `to` (same width). */
export function bitCast(x: Tensor, to: DataType): Tensor {
  return runOp1('BitCast', [x], { to: ONNX_TYPE_CODES[to] });
}

/** Slices along `axis` (or flattened elements when axis is omitted) where `condition` is true. */
export function compress(x: Tensor, condition: Tensor, axis?: number): Tensor {
  return runOp1('Compress', [x, condition], { axis });
}

/** Reverse the first sequenceLens[b] steps along timeAxis of each batch entry. */
export function reverseSequence(x: Tensor, sequenceLens: Tensor, options: { batchAxis?: number; timeAxis?: number } = {}): Tensor {
  return runOp1('ReverseSequence', [x, sequenceLens], { batch_axis: options.batchAxis, time_axis: options.timeAxis });
}

/** Determinants of the trailing square matrices of `x`. */
export function det(x: Tensor): Tensor {
  return runOp1('Det', [x]);
}

/** Centre-crop or zero-pad `x` to `shape` on `axes` (default: all axes). */
export function centerCropPad(x: Tensor, shape: readonly number[], axes?: readonly number[]): Tensor {
  const s = int64Tensor(shape);
  try {
    return runOp1('CenterCropPad', [x, s], { axes });
  } finally {
    s.dispose();
  }
}

/** Unique values or slices of `x`, with first indices, inverse indices and counts. */
export function unique(x: Tensor, options: { axis?: number; sorted?: boolean } = {}): { y: Tensor; indices: Tensor; inverseIndices: Tensor; counts: Tensor } {
  const [y, indices, inverseIndices, counts] = runOp('Unique', [x], { axis: options.axis, sorted: options.sorted === undefined ? undefined : options.sorted ? 1 : 0 });
  return { y: y!, indices: indices!, inverseIndices: inverseIndices!, counts: counts! };
}

/** Rotary position embedding of `x` ([B, H, S, D] or [B, S, H*D] with numHeads). */
export function rotaryEmbedding(
  x: Tensor,
  cosCache: Tensor,
  sinCache: Tensor,
  options: { positionIds?: Tensor; interleaved?: boolean; numHeads?: number; rotaryEmbeddingDim?: number } = {},
): Tensor {
  return runOp1('RotaryEmbedding', [x, cosCache, sinCache, options.positionIds], {
    interleaved: options.interleaved === undefined ? undefined : options.interleaved ? 1 : 0,
    num_heads: options.numHeads,
    rotary_embedding_dim: options.rotaryEmbeddingDim,
  });
}

/** ai.onnx.ml Binarizer: 1 where x > threshold, else 0, in x's dtype. */
export function binarizer(x: Tensor, threshold = 0): Tensor {
  return runOp1('Binarizer', [x], { threshold }, { domain: 'ai.onnx.ml' });
}

/** ai.onnx.ml ArrayFeatureExtractor: the entries `indices` of x's last axis. */
export function arrayFeatureExtractor(x: Tensor, indices: Tensor): Tensor {
  return runOp1('ArrayFeatureExtractor', [x, indices], {}, { domain: 'ai.onnx.ml' });
}
