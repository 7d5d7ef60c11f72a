/**
 * The eager operator API: `ops.matmul(a, b)`, `ops.conv(x, w, b, {...})`, ... and `ops.run(op, inputs, attrs)`
 * for any operator by its ONNX name. Importing this module defines every schema.
 */
export * from './elementwise.js';
export * from './matmul.js';
export * from './conv.js';
export * from './reduce.js';
export * from './shape.js';
export * from './gather.js';
export * from './rnn.js';
export * from './quantize.js';
export * from './fused.js';
export * from './quant-fused.js';
export * from './fake-quant.js';
export * from './dynamic-fake-quant.js';
export * from './misc.js';
export { runOp as run, runOp1 as run1 } from './dispatch.js';
