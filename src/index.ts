/**
 * Tessera: a tensor runtime for inference. Public entry point.
 */
import './kernels/cpu/index.js';

export { Tensor, zeros, fromNumbers, type TensorData, type TensorLocation } from './tensor/tensor.js';
export { type DataType, type TypedArray, type TensorStorage, DATA_TYPES } from './tensor/dtype.js';
export { TesseraError, TensorError, OpValidationError, UnsupportedFeatureError, KernelNotFoundError, KernelError } from './tensor/errors.js';
export { decodeFloat16, encodeFloat16 } from './tensor/float16.js';
export * as ops from './ops/index.js';
export { runOp, setDefaultThreads, getDefaultThreads, DEFAULT_OPSET, type RunOpOptions } from './ops/dispatch.js';
export { listKernels, hasKernel, type Backend, type AttrValue } from './kernels/registry.js';
export { listSchemas, findSchema, type OpSchema } from './ops/schema.js';
export { InferenceSession, ModelFormatError, UnsupportedModelError, GraphError, InputValidationError, LimitExceededError, decodeModel, encodeModel, type SessionOptions, type RunOptions, type ValueMetadata, type RunStats, type OnnxValue, type TensorSequence } from './graph/index.js';
export { BatchItemError, BatchWorkerError, type BatchOptions, type BatchResult, type BatchItemFailure, type BatchMode, type Feeds, type Outputs } from './graph/batch.js';
export { mapStream, modelStage, pipeline, slidingWindows, streamSession, windowStage, windowTensor, type Stage, type StreamOptions, type WindowOptions } from './graph/stream.js';
