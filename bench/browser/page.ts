/**
 * The benchmark page (bundled by esbuild in bench/browser.ts; runs in headless Chromium). It uses the
 * Tessera browser bundle (scripts/build-browser.ts, served as /tessera.browser.js and put on window.tessera
 * by the HTML, after gpu.js's browser build), fetches /config.json (the cases: ONNX bytes and feeds prepared in Node),
 * and measures each case with the same interleaved tinybench runner as the Node suite:
 *  - 'tessera-cpu-1t': an InferenceSession on backend 'cpu' (one thread: the worker pool is Node-only);
 *  - 'tessera-gpu': an InferenceSession on backend 'gpu', which in a page is gpu.js on WebGL 2 (weights stay
 *    uploaded; each run uploads the feeds and downloads the outputs).
 * Tessera's GPU backend drives gpu.js in WebGL modes only. To show WebGPU where gpu.js offers it, the square
 * float32 matmuls also run as one plain gpu.js kernel (a dot product per output element, inputs uploaded and
 * the result read back on every call) in gpu.js's 'webgl2' and 'webgpu' modes: 'gpujs-webgl2-naive' and
 * 'gpujs-webgpu-naive'. Those are gpu.js's own numbers for a naive kernel, not Tessera's.
 * Progress goes to console.log as `progress <done> <total> <label>`; the result is window.benchResult.
 */
import { KERNEL_SPECS, inputValues } from '../lib/kernel-specs.js';
import { measureCase, type Impl, type PreparedCase } from '../lib/runner.js';
import type { BenchCase, BenchEntry } from '../lib/results.js';

/** The bundle's API, put on `window.tessera` by the page's first module script (type-only imports: nothing of src/ is bundled here). */
type TesseraBundle = typeof import('../../src/index.js') & Pick<typeof import('../../src/kernels/gpu/index.js'), 'gpuInfo'>;
const tessera = (window as unknown as { tessera: TesseraBundle }).tessera;

/** One case as bench/browser.ts describes it. */
export interface PageCase {
  readonly info: BenchCase;
  /** URL of the ONNX model. */
  readonly model: string;
  readonly feeds: readonly { name: string; type: 'float32' | 'uint8' | 'int64'; dims: number[]; url: string }[];
  readonly gpu: boolean;
  /** Why the GPU does not run this case. */
  readonly gpuNote?: string;
}

export interface PageConfig {
  readonly cases: readonly PageCase[];
  readonly rounds: number;
  readonly timePerRoundMs: number;
  readonly minIterations: number;
  readonly warmupIterations: number;
  readonly warmupEveryRound: boolean;
}

export interface PageResult {
  readonly gpu: { available: boolean; mode?: string; renderer?: string; software?: boolean; reason?: string };
  readonly webgpu: string;
  readonly userAgent: string;
  readonly cores: number;
  readonly entries: BenchEntry[];
  readonly cases: BenchCase[];
  readonly errors: string[];
}

interface SessionLike {
  readonly outputNames: readonly string[];
  runSync(feeds: Record<string, unknown>): Record<string, { numbers(): ArrayLike<number>; dispose(): void }>;
  recycle(outputs: Record<string, unknown>): void;
  release(): Promise<void>;
}

function sessionImpl(name: string, bytes: Uint8Array, feeds: Record<string, unknown>, backend: 'cpu' | 'gpu'): Impl {
  let session: SessionLike | undefined;
  let last: ReturnType<SessionLike['runSync']> | undefined;
  return {
    name,
    setup: async () => {
      session = (await tessera.InferenceSession.create(bytes, { backend, threads: 1 })) as unknown as SessionLike;
    },
    run: () => {
      if (last) session!.recycle(last);
      last = session!.runSync(feeds);
    },
    output: () => last![session!.outputNames[0]!]!.numbers(),
    dispose: async () => {
      await session?.release();
    },
  };
}

interface GpuJsLike {
  readonly mode: string;
  createKernel(fn: unknown, settings: Record<string, unknown>): ((...args: unknown[]) => unknown) & { destroy(): void };
  destroy(): unknown;
}

/** A naive gpu.js matmul kernel in `mode` ('webgl2' or 'webgpu'); webgpu kernels return promises. */
function gpuJsMatmulImpl(mode: 'webgl2' | 'webgpu', n: number, a: Float32Array, b: Float32Array): Impl {
  const GPU = (globalThis as { GPU?: new (s: { mode: string }) => GpuJsLike }).GPU;
  let gpu: GpuJsLike | undefined;
  let kernel: (((...args: unknown[]) => unknown) & { destroy(): void }) | undefined;
  let last: ArrayLike<ArrayLike<number>> = [];
  return {
    name: `gpujs-${mode}-naive`,
    setup: () => {
      if (!GPU) throw new Error('gpu.js is not loaded');
      gpu = new GPU({ mode });
      if (gpu.mode !== mode) throw new Error(`gpu.js chose mode '${gpu.mode}' instead of '${mode}'`);
      kernel = gpu.createKernel(
        function (this: { thread: { x: number; y: number } }, x: number[], y: number[], size: number) {
          let sum = 0;
          for (let k = 0; k < size; k++) sum += x[this.thread.y * size + k]! * y[k * size + this.thread.x]!;
          return sum;
        },
        { output: [n, n], precision: 'single', loopMaxIterations: n },
      );
    },
    run: async () => {
      last = (await kernel!(a, b, n)) as ArrayLike<ArrayLike<number>>;
    },
    output: () => {
      const flat = new Float32Array(n * n);
      for (let r = 0; r < n; r++) flat.set(last[r]!, r * n);
      return flat;
    },
    dispose: () => {
      kernel?.destroy();
      gpu?.destroy();
    },
  };
}

async function describeWebGpu(): Promise<string> {
  const gpuJs = (globalThis as { GPU?: { isWebGPUSupported?: boolean } }).GPU;
  const nav = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> } }).gpu;
  let adapter = 'navigator.gpu is absent';
  if (nav) {
    try {
      const a = await nav.requestAdapter();
      adapter = a ? `adapter ${[a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || '(no info)'}` : 'navigator.gpu offers no adapter';
    } catch (e) {
      adapter = `requestAdapter failed: ${(e as Error).message}`;
    }
  }
  const flag = gpuJs?.isWebGPUSupported === undefined ? 'gpu.js reports no WebGPU support flag' : `gpu.js isWebGPUSupported = ${String(gpuJs.isWebGPUSupported)}`;
  return `WebGPU: ${adapter}; ${flag}; Tessera's GPU backend drives gpu.js in WebGL modes only, so WebGPU appears only as the naive gpu.js matmul kernel (gpujs-webgpu-naive).`;
}

async function bytesOf(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return r.arrayBuffer();
}

async function main(): Promise<PageResult> {
  const config = (await (await fetch('/config.json')).json()) as PageConfig;
  const info = tessera.gpuInfo();
  const gpu = info.available ? { available: true, mode: info.mode, renderer: info.renderer, software: info.software } : { available: false, reason: info.reason };
  const entries: BenchEntry[] = [];
  const cases: BenchCase[] = [];
  const errors: string[] = [];
  const total = config.cases.length;
  const gpuJs = (globalThis as { GPU?: { isWebGPUAvailable?(): Promise<boolean> } }).GPU;
  const webgpuAvailable = gpuJs?.isWebGPUAvailable ? await gpuJs.isWebGPUAvailable() : false;
  for (let i = 0; i < total; i++) {
    const c = config.cases[i]!;
    console.log(`progress ${i} ${total} ${c.info.name}`);
    try {
      const bytes = new Uint8Array(await bytesOf(c.model));
      const feeds: Record<string, unknown> = {};
      for (const f of c.feeds) {
        const raw = await bytesOf(f.url);
        const data = f.type === 'float32' ? new Float32Array(raw) : f.type === 'uint8' ? new Uint8Array(raw) : new BigInt64Array(raw);
        feeds[f.name] = new tessera.Tensor(f.type, data, f.dims);
      }
      const impls: Impl[] = [sessionImpl('tessera-cpu-1t', bytes, feeds, 'cpu')];
      const unavailable: { impl: string; reason: string }[] = [];
      if (!gpu.available) unavailable.push({ impl: 'tessera-gpu', reason: `no WebGL context: ${gpu.reason}` });
      else if (!c.gpu) unavailable.push({ impl: 'tessera-gpu', reason: c.gpuNote ?? 'not run on the GPU' });
      else impls.push(sessionImpl('tessera-gpu', bytes, feeds, 'gpu'));
      const spec = KERNEL_SPECS.find((k) => k.id === c.info.id);
      if (c.gpu && spec?.size !== undefined && spec.dtype === 'float32') {
        const a = inputValues(spec, 0);
        const b = inputValues(spec, 1);
        impls.push(gpuJsMatmulImpl('webgl2', spec.size, a, b));
        if (webgpuAvailable) impls.push(gpuJsMatmulImpl('webgpu', spec.size, a, b));
        else unavailable.push({ impl: 'gpujs-webgpu-naive', reason: 'gpu.js offers no WebGPU in this browser' });
      }
      const prepared: PreparedCase = { info: { ...c.info, reference: 'tessera-cpu-1t' }, impls, unavailable };
      entries.push(
        ...(await measureCase(prepared, {
          rounds: config.rounds,
          timePerRoundMs: config.timePerRoundMs,
          minIterations: config.minIterations,
          warmupIterations: config.warmupIterations,
          warmupEveryRound: config.warmupEveryRound,
          log: (line) => errors.push(line),
        })),
      );
      cases.push(prepared.info);
    } catch (e) {
      errors.push(`${c.info.name}: ${(e as Error).message}`);
    }
  }
  console.log(`progress ${total} ${total} done`);
  return { gpu, webgpu: await describeWebGpu(), userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency, entries, cases, errors };
}

const w = window as unknown as { benchResult?: PageResult; benchError?: string };
main().then(
  (r) => {
    w.benchResult = r;
  },
  (e: unknown) => {
    w.benchError = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  },
);
