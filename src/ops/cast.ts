/**
 * Cast and CastLike: convert a tensor to another dtype (ONNX conversion rules; see
 * src/kernels/cpu/cast.ts). `to` is an ONNX TensorProto.DataType code; codes of types Tessera does not hold
 * (string, bfloat16, float8, uint64, complex, ...) are refused by name; int4/uint4 are accepted (wrapping
 * to the low 4 bits like other narrowing integer casts). `saturate` (opset 19) only
 * affects float8 targets, which are unsupported, so it is accepted and has no effect; `round_mode` likewise.
 */
import type { OutputSpec } from '../kernels/registry.js';
import { dataTypeFromOnnxCode, ONNX_TYPE_CODES, SUB_BYTE_TYPES, type DataType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { ALL_TYPES, defineOp, fail } from './schema.js';

/** Names of ONNX TensorProto.DataType codes, for messages. */
const ONNX_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  16: 'BFLOAT16',
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
  23: 'FLOAT4E2M1',
  24: 'FLOAT8E8M0',
  25: 'UINT2',
  26: 'INT2',
};

/** Types Cast reads and writes: every numeric dtype, bool, and the 4-bit ones. */
const CAST_TYPES: readonly DataType[] = [...ALL_TYPES, ...SUB_BYTE_TYPES];

const CAST_ATTRIBUTES = {
  saturate: { kind: 'int', default: 1 },
  round_mode: { kind: 'string', ignored: true },
} as const;

defineOp({
  name: 'Cast',
  inputs: [{ name: 'input', type: 'T1' }],
  outputs: ['output'],
  types: { T1: CAST_TYPES },
  attributes: { to: { kind: 'int', required: true }, ...CAST_ATTRIBUTES },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const code = attrs['to'] as number;
    const found = dataTypeFromOnnxCode(code);
    const to = found === 'string' ? undefined : found;
    if (!to) {
      const name = ONNX_TYPE_NAMES[code] ?? 'unknown';
      const supported = CAST_TYPES.map((t) => `${ONNX_TYPE_CODES[t]} (${t})`).join(', ');
      fail('Cast', `attribute 'to' is ${code} (${name}), a type Tessera does not support; supported: ${supported}`, ctx);
    }
    return [{ type: to, dims: inputs[0]!.dims }];
  },
});

defineOp({
  name: 'CastLike',
  inputs: [
    { name: 'input', type: 'T1' },
    { name: 'target_type', type: 'T2' },
  ],
  outputs: ['output'],
  types: { T1: CAST_TYPES, T2: CAST_TYPES },
  attributes: { ...CAST_ATTRIBUTES },
  infer(inputs): OutputSpec[] {
    return [{ type: inputs[1]!.type, dims: inputs[0]!.dims }];
  },
});

/** Convert `x` to dtype `to` (float -> integer truncates toward zero; integers wrap; v != 0 -> true). */
export function cast(x: Tensor, to: DataType): Tensor {
  return runOp1('Cast', [x], { to: ONNX_TYPE_CODES[to] });
}

/** Convert `x` to the dtype of `like`. */
export function castLike(x: Tensor, like: Tensor): Tensor {
  return runOp1('CastLike', [x, like]);
}
