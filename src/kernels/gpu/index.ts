/**
 * Registers every GPU kernel (backend 'gpu'). Importing this costs no GPU work: gpu.js and the device are
 * created on the first GPU kernel call (see ./context.ts).
 */
import './elementwise.js';
import './matmul.js';
import './conv.js';
import './pooling.js';
import './normalization.js';
import './softmax.js';
import './reduce.js';
import './shape.js';
import './resize.js';
import './quantize.js';
import './fused.js';
import './dynamic-quant.js';

export { GpuUnavailableError, getGpuDevice, currentGpuDevice, gpuUnavailableReason, gpuInfo, provideGpuJs, type GpuCounters, type GpuDevice, type GpuInfo } from './context.js';
export { GpuTensor, GpuResidency, setActiveResidency } from './runtime.js';
