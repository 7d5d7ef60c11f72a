/**
 * The peer runtimes in Node, loaded once per process: onnxruntime-node (native, 1 intra-op thread),
 * onnxruntime-web (its wasm build running in Node, 1 thread) and TensorFlow.js with its cpu and wasm
 * backends. tfjs has one global engine, so each tfjs implementation selects its backend before its
 * tinybench phase and keeps tensors created on that backend (no cross-backend copies while timing).
 */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export { ortNode, ortWeb, tf };

// production mode, as a deployed app runs tfjs (it also silences the "install tfjs-node" banner)
tf.env().set('PROD', true);

/** The part of onnxruntime's API both packages share. */
export interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
}
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}
export interface OrtLike {
  readonly name: 'ort-node' | 'ort-web';
  create(bytes: Uint8Array): Promise<OrtSessionLike>;
  tensor(type: 'float32' | 'uint8' | 'int8' | 'int64', data: Float32Array | Uint8Array | Int8Array | BigInt64Array, dims: readonly number[]): OrtTensorLike;
}

let webConfigured = false;

export const ORT_NODE: OrtLike = {
  name: 'ort-node',
  create: async (bytes) => (await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 })) as unknown as OrtSessionLike,
  tensor: (type, data, dims) => new ortNode.Tensor(type, data, dims.slice()) as unknown as OrtTensorLike,
};

export const ORT_WEB: OrtLike = {
  name: 'ort-web',
  create: async (bytes) => {
    if (!webConfigured) {
      ortWeb.env.wasm.numThreads = 1;
      ortWeb.env.logLevel = 'error';
      webConfigured = true;
    }
    return (await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] })) as unknown as OrtSessionLike;
  },
  tensor: (type, data, dims) => new ortWeb.Tensor(type, data, dims.slice()) as unknown as OrtTensorLike,
};

/** The tfjs backends measured. */
export type TfBackendName = 'cpu' | 'wasm';

/** Make `name` the active tfjs backend (cheap when it already is). */
export async function useTfBackend(name: TfBackendName): Promise<void> {
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tfjs backend '${name}' failed to initialize`);
  }
  await tf.ready();
}

/** Versions of the runtimes, for the result file. */
export function peerVersions(): Record<string, string> {
  return {
    'onnxruntime-node': ortNode.env.versions?.node ?? 'unknown',
    'onnxruntime-web': ortWeb.env.versions?.web ?? 'unknown',
    '@tensorflow/tfjs-core': tf.version_core,
  };
}
