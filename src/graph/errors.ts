/**
 * Errors of the model layer: reading ONNX bytes, building and checking the graph, feeding a session.
 * All are TesseraError subclasses, so callers can tell a refused model from a bug.
 */
import { TesseraError } from '../tensor/errors.js';

/**
 * The model bytes (or a TensorProto file) are not a well-formed ONNX message, or the message breaks a rule
 * of the format (missing graph, a dangling value name, tensor data that does not fit its dims). The message
 * names the field path (e.g. `ModelProto.graph.node[3].attribute[0]`) and the byte offset when known.
 */
export class ModelFormatError extends TesseraError {}

/**
 * The model is well formed but uses something Tessera does not implement: an operator with no schema or
 * kernel, a data type Tessera has no tensor for (string, complex, float8, int4, uint64), a sequence, map or
 * optional value, a sparse initializer. The conformance runner reports these as "unsupported".
 */
export class UnsupportedModelError extends TesseraError {}

/** The graph's structure is wrong: a cycle, a value used before anything produces it, a duplicate name. */
export class GraphError extends TesseraError {}

/** A session's feeds do not match the model's inputs (unknown or missing name, wrong type or shape). */
export class InputValidationError extends TesseraError {}

/**
 * Loading or running would exceed a session limit (maxTensorBytes, maxPlanBytes, maxLoopIterations; see
 * SessionOptions). Raised before the memory is allocated (or the iteration run); the message names the tensor
 * or node, what it needed and the limit.
 */
export class LimitExceededError extends TesseraError {
  constructor(
    message: string,
    /** What the refused tensor, plan or loop needed (bytes, or iterations for maxLoopIterations). */
    readonly needed: number,
    /** The limit it broke, in the same unit. */
    readonly limit: number,
  ) {
    super(message);
  }
}
