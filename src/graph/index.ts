/**
 * The model layer's public surface: InferenceSession, the ONNX reader/writer, the graph IR and planner.
 */
export {
  InferenceSession,
  checkSupported,
  type SessionOptions,
  type RunOptions,
  type ValueMetadata,
  type GraphOptimizationLevel,
} from './session.js';
export { ModelFormatError, UnsupportedModelError, GraphError, InputValidationError, LimitExceededError } from './errors.js';
export { Executor, stack, type RunStats, type NodeTiming, type ExecutorOptions } from './executor.js';
export { Graph, Node, buildModel, graphValues, canonicalDomain, describeValueType, type Model, type Value, type ValueInfo, type ValueType, type Dim, type FunctionBody, type BuildOptions } from './ir.js';
export { planGraph, freeVariables, nodeReads, scopeNames, type ExecutionPlan, type PlanStep } from './plan.js';
export { decodeModel, decodeTensorProto } from './onnx/decode.js';
export { encodeModel, encodeTensorProto } from './onnx/encode.js';
export { tensorFromProto, tensorToProto, dtypeOfCode, type TensorReadOptions } from './onnx/tensor-proto.js';
export * from './onnx/proto.js';
export { isSequence, isTensor, isOnnxValue, disposeValue, valueBytes, type OnnxValue, type TensorSequence } from './values.js';
export { SEQUENCE_OPS } from './sequence.js';
export { GRADIENT_DOMAIN, DIFFERENTIABLE_OPS } from './gradient.js';
export { decodeSequenceProto, decodeOptionalProto, encodeSequenceProto, encodeOptionalProto, sequenceFromProto, optionalFromProto, readValueProto } from './onnx/value-proto.js';
