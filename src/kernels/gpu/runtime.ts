/**
 * GPU residency: tensors that live in textures, uploads and downloads, and how GPU kernels are registered.
 *
 * A GpuTensor is a float32 Tensor (location 'gpu') whose elements sit row-major in one gpu.js texture made
 * by a 1-D kernel output of `size` threads (gpu.js folds it into a 2-D texture within the size limit; with
 * optimizeFloatMemory four values share a texel). Any rank works because shaders index the flat array by
 * hand. `reshape` shares the texture (reference-counted handle); `.data` downloads once and caches the
 * copy; `dispose()` drops the reference, and the last one deletes the texture.
 *
 * Host tensors reach a shader through `CallScope.texture(t)`: the upload goes through the active residency
 * (set by the executor for a run) when there is one. Storages the executor marked persistent (initializers,
 * Constant values) are cached by storage array and window and stay uploaded until the session is released.
 * Other host tensors (graph inputs, host-computed values) are cached by tensor object for the run: never by
 * storage, because the executor's buffer arena hands a dead value's storage to a later value, whose upload
 * would then hit the stale texture. Without an active residency (eager calls) an upload lives until the
 * kernel returns.
 *
 * `registerGpuKernel(op, kernel)` registers under backend 'gpu'. The wrapper obtains the device (a
 * GpuUnavailableError when there is none), decides where the call computes and cleans up the call's
 * temporaries. A call computes on the GPU when its outputs are float32 (what textures hold); otherwise it is
 * shape arithmetic on host-resident integer values (Shape, Cast of int64, Gather of a shape, ...), and the
 * CPU kernel runs it on the host, recorded in the device's `hostOps` (GPU tensors such a call reads are
 * downloaded and counted).
 */
import { getKernel, registerKernel, type Attrs, type Kernel, type KernelContext, type OutputSpec } from '../registry.js';
import { TensorError } from '../../tensor/errors.js';
import { fmtShape, sizeOf, stridesOf } from '../../tensor/shape.js';
import type { DataTypeMap } from '../../tensor/dtype.js';
import { Tensor, type TensorLocation } from '../../tensor/tensor.js';
import { getGpuDevice, type GpuDevice, type GpuJsTexture } from './context.js';

/** A shared, reference-counted texture. */
export class TextureHandle {
  private refs = 0;
  constructor(
    readonly device: GpuDevice,
    readonly texture: GpuJsTexture,
    /** Number of float32 values stored. */
    readonly length: number,
  ) {}

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.device.deleteTexture(this.texture);
  }

  get references(): number {
    return this.refs;
  }
}

const EMPTY = new Float32Array(0);
const EMPTY_BOOL = new Uint8Array(0);

/**
 * Element types a texture holds: float32, and bool as the floats 0.0 / 1.0 (what comparison shaders write and
 * Where / Not / And / Or read), downloaded as a Uint8Array of 0 / 1.
 */
export type GpuDataType = 'float32' | 'bool';

/** A float32 (or bool) tensor resident in a texture. */
export class GpuTensor<T extends GpuDataType = 'float32'> extends Tensor<T> {
  override readonly location: TensorLocation = 'gpu';
  /** The texture holding the elements. */
  readonly handle: TextureHandle;
  private downloaded: DataTypeMap[T] | undefined;

  constructor(handle: TextureHandle, dims: readonly number[], type: T = 'float32' as T) {
    super(type, (type === 'bool' ? EMPTY_BOOL : EMPTY) as DataTypeMap[T], [0]);
    const size = sizeOf(dims, 'GpuTensor dims');
    if (size !== handle.length) throw new TensorError(`GpuTensor: dims ${fmtShape(dims)} need ${size} elements but the texture holds ${handle.length}`);
    const w = this as unknown as { dims: readonly number[]; size: number; strides: readonly number[] };
    w.dims = Object.freeze([...dims]);
    w.size = size;
    w.strides = Object.freeze(stridesOf(dims));
    this.handle = handle;
    handle.retain();
  }

  /** The gpu.js texture, for kernel arguments. */
  get texture(): GpuJsTexture {
    if (this.disposed) throw new TensorError(`${this.toString()}: used after dispose()`);
    return this.handle.texture;
  }

  /** The elements, downloaded from the texture on first use (counted by the device). */
  override raw(): DataTypeMap[T] {
    if (this.disposed) throw new TensorError(`${this.toString()}: used after dispose()`);
    if (!this.downloaded) {
      const arr = this.handle.texture.toArray();
      const values = arr.length === this.size ? arr : arr.slice(0, this.size);
      this.downloaded = (this.type === 'bool' ? Uint8Array.from(values, (v) => (v > 0.5 ? 1 : 0)) : values) as DataTypeMap[T];
      const c = this.handle.device.counters;
      c.downloads++;
      c.downloadBytes += this.size * 4;
    }
    return this.downloaded;
  }

  /** Always contiguous: the texture is row-major. */
  override contiguous(): GpuTensor<T> {
    return this;
  }

  /** Same texture, new dims. */
  override reshape(dims: readonly number[]): GpuTensor<T> {
    const shape = [...dims];
    const neg = shape.indexOf(-1);
    if (neg >= 0) {
      const rest = shape.reduce((p, d, i) => (i === neg ? p : p * d), 1);
      if (rest === 0 || this.size % rest !== 0) throw new TensorError(`reshape: cannot infer -1 in ${fmtShape(dims)} for ${this.size} elements`);
      shape[neg] = this.size / rest;
    }
    if (this.disposed) throw new TensorError(`${this.toString()}: used after dispose()`);
    return new GpuTensor(this.handle, shape, this.type);
  }

  /** The same texture read as another element type (bool 0/1 values are float32 values already). */
  retype<U extends GpuDataType>(type: U): GpuTensor<U> {
    if (this.disposed) throw new TensorError(`${this.toString()}: used after dispose()`);
    return new GpuTensor(this.handle, this.dims, type);
  }

  /** A host copy (downloads if needed). */
  toCpu(): Tensor<T> {
    return new Tensor(this.type, this.raw().slice() as DataTypeMap[T], this.dims);
  }

  override dispose(): void {
    if (this.disposed) return;
    this.downloaded = undefined;
    super.dispose();
    this.handle.release();
  }

  override toString(): string {
    return `GpuTensor(${this.type}, ${fmtShape(this.dims)})`;
  }
}

/** Wrap a freshly rendered texture (owned by the caller) as a tensor (of bool 0/1 values when `type` says so). */
export function wrapTexture<T extends GpuDataType = 'float32'>(device: GpuDevice, texture: GpuJsTexture, dims: readonly number[], type: T = 'float32' as T): GpuTensor<T> {
  return new GpuTensor(new TextureHandle(device, texture, sizeOf(dims)), dims, type);
}

const UPLOAD_SOURCE = 'function (a) { return a[this.thread.x]; }';

/** Copy host float values into a new texture (counted). */
export function uploadValues(device: GpuDevice, values: Float32Array, dims: readonly number[]): GpuTensor {
  const c = device.counters;
  c.uploads++;
  c.uploadBytes += values.length * 4;
  return wrapTexture(device, device.run(UPLOAD_SOURCE, values.length, [values]), dims);
}

/**
 * How a host tensor is written into a texture: 'values' (its numbers as float32; int64 through the
 * safe-integer check) or 'bits' (a float16 tensor's raw 16-bit patterns as the numbers 0..65535, for shaders
 * that decode them, see shape.ts HALF_TO_FLOAT).
 */
export type UploadEncoding = 'values' | 'bits';

function floatValues(t: Tensor, encoding: UploadEncoding = 'values'): Float32Array {
  if (encoding === 'bits') {
    if (t.type !== 'float16') throw new TensorError(`a 'bits' upload takes a float16 tensor, got ${t.type}`);
    return Float32Array.from(t.data as Uint16Array);
  }
  if (t.type === 'float32') return t.data as Float32Array;
  return Float32Array.from(t.numbers());
}

/**
 * Keeps uploads of host tensors for the executor: persistent storages (weights) until release(), other
 * tensors (by object) until the end of the run.
 */
export class GpuResidency {
  private readonly persistent = new WeakSet<object>();
  private readonly cache = new Map<object, Map<string, GpuTensor>>();
  private readonly transient = new Map<Tensor, GpuTensor>();
  private readonly transientBits = new Map<Tensor, GpuTensor>();

  constructor(readonly device: GpuDevice) {}

  /** Mark a host tensor's storage as living as long as the session (its upload is kept). */
  markPersistent(t: Tensor): void {
    if (t.location === 'cpu' && !t.disposed) this.persistent.add(t.raw());
  }

  /** The texture of host tensor `t` (written as `encoding`), uploading it on first use. */
  upload(t: Tensor, encoding: UploadEncoding = 'values'): GpuTensor {
    const storage = t.raw();
    if (!this.persistent.has(storage)) {
      const transient = encoding === 'values' ? this.transient : this.transientBits;
      let g = transient.get(t);
      if (!g) {
        g = uploadValues(this.device, floatValues(t, encoding), [t.size]);
        transient.set(t, g);
      }
      return g;
    }
    const key = `${t.type}:${encoding}:${t.offset}:${t.size}`;
    let byKey = this.cache.get(storage);
    const hit = byKey?.get(key);
    if (hit) return hit;
    const g = uploadValues(this.device, floatValues(t, encoding), [t.size]);
    if (!byKey) {
      byKey = new Map();
      this.cache.set(storage, byKey);
    }
    byKey.set(key, g);
    return g;
  }

  /** Free the uploads of values that are not persistent. */
  endRun(): void {
    for (const map of [this.transient, this.transientBits]) {
      for (const g of map.values()) g.dispose();
      map.clear();
    }
  }

  /** Free every upload. */
  release(): void {
    this.endRun();
    for (const byKey of this.cache.values()) for (const g of byKey.values()) g.dispose();
    this.cache.clear();
  }

  /** Number of uploads held. */
  get size(): number {
    let n = this.transient.size + this.transientBits.size;
    for (const byKey of this.cache.values()) n += byKey.size;
    return n;
  }
}

let active: GpuResidency | undefined;

/** Make `r` the residency GPU kernels upload through (undefined: none; uploads die with each call). */
export function setActiveResidency(r: GpuResidency | undefined): GpuResidency | undefined {
  const prev = active;
  active = r;
  return prev;
}

/** What a GPU kernel call has at hand: the device, texture access for its inputs, cleanup. */
export class CallScope {
  private readonly temps: GpuTensor[] = [];
  constructor(
    readonly device: GpuDevice,
    readonly ctx: KernelContext,
  ) {}

  /** The texture holding `t`'s elements (row-major), uploading a host tensor. */
  texture(t: Tensor, encoding: UploadEncoding = 'values'): GpuJsTexture {
    if (t instanceof GpuTensor) {
      if (encoding !== 'values') throw new TensorError(`${this.ctx.op}: a GPU tensor holds float32 values, not ${encoding}`);
      return t.texture;
    }
    if (t.size === 0) throw new TensorError(`${this.ctx.op}: an empty tensor has no texture`);
    if (active && active.device === this.device) return active.upload(t, encoding).texture;
    const g = uploadValues(this.device, floatValues(t, encoding), [t.size]);
    this.temps.push(g);
    return g.texture;
  }

  /**
   * Run `source` over `spec`'s elements with texture arguments and wrap the result. An argument is a tensor
   * (its values) or `{ tensor, encoding }` for another upload encoding (float16 bits).
   */
  run(source: string, spec: OutputSpec, args: readonly (Tensor | EncodedArg)[]): Tensor {
    const size = sizeOf(spec.dims);
    if (spec.type !== 'float32' && spec.type !== 'bool') throw new TensorError(`${this.ctx.op}: a texture holds float32 or bool values, not ${spec.type}`);
    if (size === 0) return spec.type === 'bool' ? new Tensor('bool', new Uint8Array(0), spec.dims) : new Tensor('float32', new Float32Array(0), spec.dims);
    const textures = args.map((a) => (a instanceof Tensor ? this.texture(a) : this.texture(a.tensor, a.encoding)));
    // a bool output's shader writes 0.0 / 1.0
    return wrapTexture(this.device, this.device.run(source, size, textures), spec.dims, spec.type);
  }

  end(): void {
    for (const t of this.temps) t.dispose();
    this.temps.length = 0;
  }
}

/** A kernel argument uploaded with an encoding other than 'values'. */
export interface EncodedArg {
  readonly tensor: Tensor;
  readonly encoding: UploadEncoding;
}

/** A GPU kernel body: called only for float32 outputs, with a scope for textures. */
export type GpuKernelBody = (scope: CallScope, inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: readonly OutputSpec[]) => Tensor[];

/** Options of a GPU kernel registration. */
export interface GpuKernelOptions {
  /**
   * Decide per call whether the shader handles it (default: every output is float32 and every input is
   * float32 or listed in `hostInputs`). Calls it refuses run the CPU kernel on the host (a hostOp).
   */
  accepts?: (inputs: readonly (Tensor | undefined)[], outputs: readonly OutputSpec[]) => boolean;
  /** Indices of inputs read on the host (indices, shapes, scalars), of any type. */
  hostInputs?: readonly number[];
  domain?: string;
}

function defaultAccepts(hostInputs: readonly number[]) {
  return (inputs: readonly (Tensor | undefined)[], outputs: readonly OutputSpec[]): boolean =>
    outputs.every((o) => o.type === 'float32') && inputs.every((t, i) => !t || t.type === 'float32' || hostInputs.includes(i));
}

/** Run the CPU kernel of `ctx.op` on the host, recording the node as a host op (unless `record` is false). */
export function runOnHost(device: GpuDevice, inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: readonly OutputSpec[], ctx: KernelContext, domain = '', record = true): Tensor[] {
  if (record) device.hostOps.push(ctx.node ?? ctx.op);
  return getKernel(ctx.op, 'cpu', domain)(inputs, attrs, outputs, { ...ctx, backend: 'cpu' });
}

/** Register `body` as the GPU kernel of `op`. */
export function registerGpuKernel(op: string, body: GpuKernelBody, options: GpuKernelOptions = {}): void {
  const accepts = options.accepts ?? defaultAccepts(options.hostInputs ?? []);
  const domain = options.domain ?? '';
  const kernel: Kernel = (inputs, attrs, outputs, ctx) => {
    const device = getGpuDevice();
    if (!accepts(inputs, outputs)) return runOnHost(device, inputs, attrs, outputs, ctx, domain);
    const scope = new CallScope(device, ctx);
    try {
      return body(scope, inputs, attrs, outputs);
    } finally {
      scope.end();
    }
  };
  registerKernel(op, 'gpu', kernel, domain);
}

/**
 * Register an op whose GPU kernel always runs on the host: ops that read only dims or attributes (Shape,
 * Size, Constant; `record` false, they compute nothing) or that have no shader yet.
 */
export function registerHostKernel(op: string, record = true): void {
  registerKernel(op, 'gpu', (inputs, attrs, outputs, ctx) => runOnHost(getGpuDevice(), inputs, attrs, outputs, ctx, '', record));
}
