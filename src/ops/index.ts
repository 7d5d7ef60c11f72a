/**
 * The eager operator API: `ops.matmul(a, b)`, `ops.conv(x, w, b, {...})`, ... and `ops.run(op, inputs, attrs)`
 * for any operator by its ONNX name. Importing this module defines every schema.
 */
export * from './elementwise.js';
export { runOp as run, runOp1 as run1 } from './dispatch.js';
