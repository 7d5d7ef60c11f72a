/**
 * runOp: the one path from an operator call to a kernel. Eager functions and the graph executor both use it.
 *
 *   schema lookup -> attributes resolved (defaults, kinds) -> normalize (opset forms) -> input count and
 *   dtype constraints -> infer (validation, output dims) -> registry.getKernel(op, backend) -> kernel ->
 *   check that the kernel returned what inference promised.
 */
import { getKernel, type AttrValue, type Backend, type Kernel, type KernelContext, type OutputSpec } from '../kernels/registry.js';
import { KernelError, OpValidationError, TesseraError } from '../tensor/errors.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { fail, findSchema, resolveAttrs, type InferContext, type OpSchema } from './schema.js';

/** The opset Tessera assumes for eager calls. */
export const DEFAULT_OPSET = 21;

/** Options of one operator call. */
export interface RunOpOptions {
  /** Backend to run on (default 'cpu'). */
  backend?: Backend;
  /** Opset version of the operator's domain (default DEFAULT_OPSET). */
  opset?: number;
  /** Operator domain ('' = ai.onnx). */
  domain?: string;
  /** Node name for messages. */
  node?: string;
  /** Threads the kernel may use (default: the global setting). */
  threads?: number;
  /**
   * Number of outputs the caller wants (a graph node's output count). Ops whose output count is not fixed by
   * their inputs and attributes read it (Split before opset 18 splits into this many equal parts).
   */
  numOutputs?: number;
  /**
   * Called with the inferred outputs after validation and before the kernel runs (so before anything is
   * allocated for them); the graph executor enforces its memory limits here. Throwing refuses the call.
   */
  beforeKernel?: (outputs: readonly OutputSpec[]) => void;
  /**
   * Per input: true when it is immutable for the tensor's life (the executor marks initializers). Forwarded to
   * the kernel as ctx.constantInputs for inputs that reach it unchanged (same object, same position).
   */
  constantInputs?: readonly boolean[];
}

let defaultThreads = Math.max(1, (globalThis as { process?: { getBuiltinModule?(id: string): { availableParallelism?(): number } | undefined } }).process?.getBuiltinModule?.('node:os')?.availableParallelism?.() ?? 1);

/** Set the default number of threads eager kernels may use. */
export function setDefaultThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new TesseraError(`threads must be a positive integer, got ${n}`);
  defaultThreads = n;
}

/** The default number of threads for eager kernels. */
export function getDefaultThreads(): number {
  return defaultThreads;
}

/** Check input count and dtype constraints of a canonical call. */
export function checkInputs(schema: OpSchema, inputs: readonly (Tensor | undefined)[], ctx: InferContext): void {
  const specs = schema.inputs;
  const last = specs[specs.length - 1];
  const variadic = last?.variadic === true;
  const fixed = variadic ? specs.length - 1 : specs.length;
  if (!variadic && inputs.length > specs.length) fail(schema.name, `got ${inputs.length} inputs; expected at most ${specs.length}`, ctx);
  const bound = new Map<string, { type: string; input: string }>();
  const check = (i: number, spec: (typeof specs)[number], label: string): void => {
    const t = inputs[i];
    if (!t) return;
    const allowed = schema.types[spec.type];
    if (!allowed) throw new OpValidationError(schema.name, `schema bug: no type constraint '${spec.type}'`);
    if (!allowed.includes(t.type)) {
      fail(schema.name, `input ${i} '${label}' has type ${t.type}; expected one of ${allowed.join(', ')}`, ctx);
    }
    const prev = bound.get(spec.type);
    if (prev && prev.type !== t.type) {
      fail(schema.name, `input ${i} '${label}' has type ${t.type} but '${prev.input}' has ${prev.type}; they must match (${spec.type})`, ctx);
    }
    if (!prev) bound.set(spec.type, { type: t.type, input: label });
  };
  for (let i = 0; i < fixed; i++) {
    const spec = specs[i]!;
    if (!inputs[i] && !spec.optional) fail(schema.name, `input ${i} '${spec.name}' is required but missing`, ctx);
    check(i, spec, spec.name);
  }
  if (variadic) {
    const n = inputs.length - fixed;
    if (n <= 0 && !last.optional) fail(schema.name, `needs at least one '${last.name}' input, got none`, ctx);
    for (let i = fixed; i < inputs.length; i++) {
      const label = `${last.name}[${i - fixed}]`;
      if (!inputs[i]) fail(schema.name, `input ${i} '${label}' is missing`, ctx);
      check(i, last, label);
    }
  }
}

/**
 * Validate and run one operator, returning its outputs. Throws OpValidationError for a bad call and
 * KernelNotFoundError when the backend has no kernel for it.
 */
export function runOp(
  op: string,
  inputs: readonly (Tensor | undefined)[],
  attrs: Readonly<Record<string, AttrValue | undefined>> = {},
  options: RunOpOptions = {},
): Tensor[] {
  const domain = options.domain ?? '';
  const schema = findSchema(op, domain);
  const where = options.node ? `${op} (node '${options.node}')` : op;
  if (!schema) throw new OpValidationError(where, `unknown operator${domain ? ` in domain '${domain}'` : ''}`);
  const ictx: InferContext = { opset: options.opset ?? DEFAULT_OPSET, node: options.node, numOutputs: options.numOutputs };
  let call = { inputs: [...inputs], attrs: resolveAttrs(schema, attrs, ictx) };
  for (let i = 0; i < call.inputs.length; i++) {
    const t = call.inputs[i];
    if (t !== undefined && !(t instanceof Tensor)) fail(op, `input ${i} is not a Tensor`, ictx);
    if (t?.disposed) fail(op, `input ${i} was disposed`, ictx);
  }
  if (schema.normalize) call = schema.normalize(call.inputs, call.attrs, ictx);
  // tensors that normalize made (reshaped views, converted constants) are released after the kernel ran
  const temps: Tensor[] = [];
  for (const t of call.inputs) if (t && !inputs.includes(t) && !temps.includes(t)) temps.push(t);
  const backend: Backend = options.backend ?? 'cpu';
  let outputs: OutputSpec[];
  let kernel: Kernel;
  try {
    checkInputs(schema, call.inputs, ictx);
    outputs = schema.infer(call.inputs, call.attrs, ictx);
    kernel = getKernel(op, backend, domain);
    options.beforeKernel?.(outputs);
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
  // kernels read contiguous row-major data through `.data`; on the CPU a contiguous view that starts at an
  // offset (a Slice or Split output) is passed as it is, since its `.data` is already a zero-copy subarray
  const args = call.inputs.map((t) => {
    if (!t) return t;
    const c = backend === 'cpu' && t.isContiguous ? t : t.contiguous();
    if (c !== t && !temps.includes(c)) temps.push(c);
    return c;
  });
  const constants = options.constantInputs;
  const constantInputs = constants ? args.map((t, i) => t !== undefined && t === inputs[i] && constants[i] === true) : undefined;
  const kctx: KernelContext = { op, backend, opset: ictx.opset, threads: options.threads ?? defaultThreads, node: options.node, constantInputs };
  let result: Tensor[];
  try {
    result = kernel(args, call.attrs, outputs, kctx);
    for (let i = 0; i < result.length; i++) {
      // a kernel may return a view of an input, never the input object itself: callers dispose outputs
      const r = result[i]!;
      if (inputs.includes(r) || args.includes(r) || temps.includes(r)) result[i] = r.reshape(r.dims);
    }
  } finally {
    for (const t of temps) t.dispose();
  }
  if (result.length < outputs.length) {
    throw new KernelError(`${where}: kernel on ${backend} returned ${result.length} outputs; expected ${outputs.length}`);
  }
  for (let i = 0; i < outputs.length; i++) {
    const r = result[i]!;
    const o = outputs[i]!;
    if (r.type !== o.type || !shapesEqual(r.dims, o.dims)) {
      throw new KernelError(`${where}: kernel on ${backend} returned output ${i} as ${r.type} ${fmtShape(r.dims)}; inference said ${o.type} ${fmtShape(o.dims)}`);
    }
  }
  return result;
}

/** Run an operator with a single output. */
export function runOp1(
  op: string,
  inputs: readonly (Tensor | undefined)[],
  attrs: Readonly<Record<string, AttrValue | undefined>> = {},
  options: RunOpOptions = {},
): Tensor {
  return runOp(op, inputs, attrs, options)[0]!;
}
