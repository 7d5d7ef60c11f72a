/**
 * The kernel registry: a table from (operator, backend) to the function that computes it.
 *
 * Backends register their kernels explicitly (src/kernels/cpu/index.ts imports one registration file per
 * operator family). Looking up a pair nobody registered throws a `KernelNotFoundError` that names both, so a
 * missing GPU kernel is never silently replaced by something else; the executor decides about fallbacks.
 *
 * A kernel receives contiguous input tensors (optional inputs may be undefined), attributes already checked
 * and defaulted by the operator's schema, and the output types and dims that shape inference computed. It
 * returns new tensors (or zero-copy views of its inputs) with exactly those types and dims.
 */
import { KernelNotFoundError, TesseraError } from '../tensor/errors.js';
import type { DataType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** Names of compute backends. */
export type Backend = 'cpu' | 'gpu';

/** An opaque subgraph attribute (If/Loop/Scan bodies); the graph layer defines the concrete type. */
export interface GraphAttribute {
  readonly kind: 'graph';
}

/** A resolved attribute value. ints are numbers (int64 attributes beyond 2^53 are clamped by the reader). */
export type AttrValue =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | Tensor
  | readonly Tensor[]
  | GraphAttribute
  | readonly GraphAttribute[];

/** Attributes by name; built on a null prototype so names such as `__proto__` are plain keys. */
export type Attrs = Readonly<Record<string, AttrValue>>;

/** Type and dims of one output, as shape inference computed them. */
export interface OutputSpec {
  readonly type: DataType;
  readonly dims: readonly number[];
}

/** What a kernel knows about the call besides its data. */
export interface KernelContext {
  readonly op: string;
  readonly backend: Backend;
  /** Opset version of the operator's domain in effect. */
  readonly opset: number;
  /** Worker threads the kernel may use (1 = calling thread only). */
  readonly threads: number;
  /** Node name, when the call comes from a graph. */
  readonly node?: string;
  /**
   * Per input: true when it is a constant whose data never changes while the tensor lives (a session's
   * initializer, passed unchanged to the kernel). Kernels may cache work derived from such an input (e.g. GEMM
   * panels of a weight) keyed by the tensor object. Absent or false: no such promise (eager calls).
   */
  readonly constantInputs?: readonly boolean[];
}

/** A compute function for one operator on one backend. */
export type Kernel = (
  inputs: readonly (Tensor | undefined)[],
  attrs: Attrs,
  outputs: readonly OutputSpec[],
  ctx: KernelContext,
) => Tensor[];

const table = new Map<string, Kernel>();

function key(op: string, backend: Backend, domain: string): string {
  return `${domain}\u0000${op}\u0000${backend}`;
}

/** Register `kernel` for (op, backend). Registering the same pair twice is an error. */
export function registerKernel(op: string, backend: Backend, kernel: Kernel, domain = ''): void {
  const k = key(op, backend, domain);
  if (table.has(k)) throw new TesseraError(`kernel for operator '${op}' on backend '${backend}' is registered twice`);
  table.set(k, kernel);
}

/** The kernel for (op, backend); throws KernelNotFoundError naming both when none is registered. */
export function getKernel(op: string, backend: Backend, domain = ''): Kernel {
  const kernel = table.get(key(op, backend, domain));
  if (!kernel) throw new KernelNotFoundError(domain ? `${domain}.${op}` : op, backend);
  return kernel;
}

/** True when (op, backend) has a kernel. */
export function hasKernel(op: string, backend: Backend, domain = ''): boolean {
  return table.has(key(op, backend, domain));
}

/** Operators with a kernel on `backend`, sorted. */
export function listKernels(backend: Backend): string[] {
  const out: string[] = [];
  for (const k of table.keys()) {
    const [domain, op, b] = k.split('\u0000');
    if (b === backend) out.push(domain ? `${domain}.${op}` : op!);
  }
  return out.sort();
}
