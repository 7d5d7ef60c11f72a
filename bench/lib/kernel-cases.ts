/**
 * Node implementations of the kernel cases (./kernel-specs.ts):
 *
 * - tessera-cpu-1t / tessera-cpu-all: the eager `runOp` on backend 'cpu' with 1 thread / all threads
 *   (a float16-weights case runs Cast(to float) on the weight and then the op, as a model with
 *   float16-stored weights does);
 * - tessera-gpu: `runOp` on backend 'gpu' with the inputs uploaded once (resident, like a session's
 *   weights); each call runs the shader and downloads the output. float32 only (textures hold float32);
 * - ort-node, ort-web: a one-node ONNX model (Cast + op for float16 weights) with the weights as
 *   initializers and the activations fed per call;
 * - tfjs-cpu, tfjs-wasm: the same computation in tfjs ops (NHWC conv, LayerNormalization composed from
 *   moments); float16 and int8 operands do not exist in tfjs, so those cases are skipped there.
 *
 * The reference output of a case is onnxruntime-node's.
 */
import { availableParallelism } from 'node:os';
import { hasKernel, runOp, Tensor, fromNumbers } from '../../src/index.js';
import { getGpuDevice } from '../../src/kernels/gpu/index.js';
import { uploadValues } from '../../src/kernels/gpu/runtime.js';
import { graph, modelBytes, node, value } from '../../test/graph/build.js';
import { inputValues, type KernelSpec } from './kernel-specs.js';
import { ORT_NODE, ORT_WEB, tf, useTfBackend, type OrtLike, type OrtSessionLike, type OrtTensorLike, type TfBackendName } from './peers.js';
import type { ImplName } from './results.js';
import type { Impl, PreparedCase } from './runner.js';

/** Which implementations to build. */
export interface KernelImplOptions {
  readonly gpu: boolean;
  /** Why there is no GPU (used as the skip note when `gpu` is false). */
  readonly gpuReason?: string;
  readonly threads?: number;
}

type Attrs = Readonly<Record<string, number | readonly number[]>>;

function tesseraInputs(spec: KernelSpec): Tensor[] {
  return spec.inputs.map((inp, i) => fromNumbers(inp.type, inputValues(spec, i), inp.dims) as Tensor);
}

function tesseraCpu(spec: KernelSpec, name: ImplName, threads: number): Impl {
  let inputs: Tensor[] = [];
  let last: Tensor | undefined;
  const call = (): Tensor => {
    const args = inputs.slice();
    let castWeight: Tensor | undefined;
    if (spec.dtype === 'float16-weights') {
      castWeight = runOp('Cast', [args[1]!], { to: 1 }, { threads })[0]!;
      args[1] = castWeight;
    }
    const out = runOp(spec.op, args, spec.attrs as Attrs, { threads, opset: spec.opset })[0]!;
    castWeight?.dispose();
    return out;
  };
  return {
    name,
    setup: () => {
      inputs = tesseraInputs(spec);
    },
    run: () => {
      last?.dispose();
      last = call();
    },
    output: () => last!.numbers(),
    dispose: () => {
      last?.dispose();
      for (const t of inputs) t.dispose();
    },
  };
}

function tesseraGpu(spec: KernelSpec): Impl {
  let inputs: Tensor[] = [];
  let lastValues: ArrayLike<number> = [];
  return {
    name: 'tessera-gpu',
    setup: () => {
      const device = getGpuDevice();
      inputs = spec.inputs.map((inp, i) => uploadValues(device, inputValues(spec, i), inp.dims));
    },
    run: () => {
      const out = runOp(spec.op, inputs, spec.attrs as Attrs, { backend: 'gpu', opset: spec.opset })[0]!;
      lastValues = out.data as Float32Array;
      out.dispose();
    },
    output: () => lastValues,
    dispose: () => {
      for (const t of inputs) t.dispose();
    },
  };
}

/** The peers' model: the spec's op (Cast first for float16 weights), weights as initializers. */
export function kernelModelBytes(spec: KernelSpec): Uint8Array {
  const initializers: Record<string, Tensor> = {};
  const graphInputs: ReturnType<typeof value>[] = [];
  const nodes: ReturnType<typeof node>[] = [];
  const opInputs: string[] = [];
  spec.inputs.forEach((inp, i) => {
    if (inp.weight) {
      initializers[inp.name] = fromNumbers(inp.type, inputValues(spec, i), inp.dims) as Tensor;
    } else {
      graphInputs.push(value(inp.name, inp.type, [...inp.dims]));
    }
    if (inp.type === 'float16') {
      nodes.push(node('Cast', [inp.name], [`${inp.name}_float`], { to: 1 }));
      opInputs.push(`${inp.name}_float`);
    } else opInputs.push(inp.name);
  });
  nodes.push(node(spec.op, opInputs, ['Y'], spec.attrs as Record<string, number | number[]>));
  const g = graph({ nodes, inputs: graphInputs, outputs: [value('Y', spec.output.type, [...spec.output.dims])], initializers });
  return modelBytes(g, spec.opset);
}

function ortImpl(spec: KernelSpec, runtime: OrtLike): Impl {
  let session: OrtSessionLike | undefined;
  let feeds: Record<string, OrtTensorLike> = {};
  let last: Record<string, OrtTensorLike> | undefined;
  return {
    name: runtime.name,
    setup: async () => {
      session = await runtime.create(kernelModelBytes(spec));
      feeds = {};
      spec.inputs.forEach((inp, i) => {
        if (inp.weight) return;
        const v = inputValues(spec, i);
        feeds[inp.name] = inp.type === 'uint8' ? runtime.tensor('uint8', Uint8Array.from(v), inp.dims) : runtime.tensor('float32', v, inp.dims);
      });
    },
    run: async () => {
      last = await session!.run(feeds);
    },
    output: () => {
      const d = last!['Y']!.data as Float32Array | Int32Array;
      return d;
    },
    dispose: async () => {
      await session?.release();
    },
  };
}

/** tfjs version of a float32 kernel spec, or undefined when tfjs cannot express it. */
function tfjsBody(spec: KernelSpec): ((inputs: tf.Tensor[]) => tf.Tensor) | undefined {
  if (spec.dtype !== 'float32') return undefined;
  switch (spec.op) {
    case 'MatMul':
      return ([a, b]) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
    case 'Conv': {
      const group = spec.attrs['group'] as number;
      return ([x, w, b]) => {
        const y = group > 1 ? tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same') : tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
        return tf.add(y, b!);
      };
    }
    case 'Relu':
      return ([x]) => tf.relu(x!);
    case 'Add':
      return ([a, b]) => tf.add(a!, b!);
    case 'Softmax':
      return ([x]) => tf.softmax(x!);
    case 'LayerNormalization': {
      const eps = spec.attrs['epsilon'] as number;
      return ([x, scale, bias]) => {
        const { mean, variance } = tf.moments(x!, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(x!, mean), tf.rsqrt(tf.add(variance, eps))), scale!), bias!);
      };
    }
    default:
      return undefined;
  }
}

/** Inputs in tfjs layout: conv input NHWC, filters HWIO (depthwise: H, W, C, 1). */
function tfjsInputs(spec: KernelSpec): tf.Tensor[] {
  return tf.tidy(() =>
    spec.inputs.map((inp, i) => {
      const t = tf.tensor(inputValues(spec, i), [...inp.dims]);
      if (spec.op !== 'Conv') return t;
      if (inp.name === 'X') return tf.transpose(t, [0, 2, 3, 1]);
      if (inp.name === 'W') return tf.transpose(t, (spec.attrs['group'] as number) > 1 ? [2, 3, 0, 1] : [2, 3, 1, 0]);
      return t;
    }),
  );
}

function tfjsImpl(spec: KernelSpec, backend: TfBackendName, body: (inputs: tf.Tensor[]) => tf.Tensor): Impl {
  let inputs: tf.Tensor[] = [];
  let last: tf.Tensor | undefined;
  return {
    name: `tfjs-${backend}`,
    setup: async () => {
      await useTfBackend(backend);
      inputs = tfjsInputs(spec);
    },
    activate: () => useTfBackend(backend),
    run: () => {
      last?.dispose();
      last = tf.tidy(() => body(inputs));
      last.dataSync();
    },
    output: () => {
      if (spec.op !== 'Conv') return last!.dataSync();
      const nchw = tf.transpose(last!, [0, 3, 1, 2]);
      const values = nchw.dataSync();
      nchw.dispose();
      return values;
    },
    dispose: () => {
      last?.dispose();
      for (const t of inputs) t.dispose();
    },
  };
}

/** Build every implementation of one kernel case (and the list of those that cannot run it, with why). */
export function prepareKernelCase(spec: KernelSpec, o: KernelImplOptions): PreparedCase {
  const threads = o.threads ?? availableParallelism();
  const impls: Impl[] = [tesseraCpu(spec, 'tessera-cpu-1t', 1)];
  const unavailable: { impl: ImplName; reason: string }[] = [];
  if (threads > 1) impls.push(tesseraCpu(spec, 'tessera-cpu-all', threads));
  else unavailable.push({ impl: 'tessera-cpu-all', reason: 'one core: same as tessera-cpu-1t' });
  if (!o.gpu) unavailable.push({ impl: 'tessera-gpu', reason: o.gpuReason ?? 'GPU not requested' });
  else if (spec.dtype !== 'float32') unavailable.push({ impl: 'tessera-gpu', reason: 'GPU textures hold float32 only; float16/int8 operands would run on the host' });
  else if (!hasKernel(spec.op, 'gpu')) unavailable.push({ impl: 'tessera-gpu', reason: `no ${spec.op} GPU kernel` });
  else impls.push(tesseraGpu(spec));
  impls.push(ortImpl(spec, ORT_NODE), ortImpl(spec, ORT_WEB));
  const body = tfjsBody(spec);
  if (body) impls.push(tfjsImpl(spec, 'cpu', body), tfjsImpl(spec, 'wasm', body));
  else {
    const reason = spec.dtype === 'float32' ? `no tfjs op for ${spec.op}` : `tfjs has no ${spec.dtype === 'int8' ? 'int8' : 'float16'} tensors`;
    unavailable.push({ impl: 'tfjs-cpu', reason }, { impl: 'tfjs-wasm', reason });
  }
  return {
    info: {
      id: spec.id,
      group: 'kernel',
      name: spec.name,
      family: spec.family,
      dtype: spec.dtype,
      size: spec.size,
      work: spec.work,
      unit: spec.unit,
      reference: 'ort-node',
      inputs: spec.inputs.map((i) => `${i.name} ${i.type} [${i.dims.join(', ')}]`).join('; '),
    },
    impls,
    unavailable,
  };
}
