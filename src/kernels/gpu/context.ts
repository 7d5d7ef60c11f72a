/**
 * The GPU device: one gpu.js instance per process, created in an explicitly named mode and checked.
 *
 * gpu.js picks a mode by itself when asked for none and silently ends in its 'cpu' mode (plain JavaScript)
 * when no WebGL context can be made. Tessera never lets that happen: the device asks for 'headlessgl' in
 * Node and 'webgl2' (else 'webgl') in a browser, checks that the kernels gpu.js builds are of that mode, and
 * otherwise throws a GpuUnavailableError that says why and how to fix it (no display: run under
 * `xvfb-run -a`; the `gl` package missing: install the Debian packages and rebuild it).
 *
 * The device also owns what every GPU kernel shares:
 *  - the compiled-kernel cache: one gpu.js kernel per generated source and output size (a shape signature;
 *    arguments are always textures, so one kernel never sees two argument types), least recently used
 *    entries destroyed past MAX_CACHED_KERNELS;
 *  - transfer and texture counters that the executor reports per run (uploads, downloads, live textures);
 *  - the renderer label (Mesa llvmpipe, SwiftShader, ...), so timings are never mistaken for GPU speed.
 *
 * gpu.js is loaded lazily (CommonJS `require` in Node, the `GPU` global of gpu-browser.min.js in a page), so
 * importing the GPU kernels costs nothing until a GPU backend is asked for.
 */
import { TesseraError } from '../../tensor/errors.js';

/** gpu.js could not give Tessera a real GPU context. */
export class GpuUnavailableError extends TesseraError {}

/** The parts of a gpu.js texture the backend uses. */
export interface GpuJsTexture {
  /** The WebGL texture; gpu.js counts references on it in `_refs`. */
  texture: { _refs?: number };
  readonly size: readonly number[];
  readonly output: readonly number[];
  readonly kernel: unknown;
  _deleted?: boolean;
  toArray(): Float32Array;
  delete(): void;
}

/** The parts of a compiled gpu.js kernel the backend uses. */
export interface GpuJsKernel {
  (...args: unknown[]): GpuJsTexture;
  readonly kernel?: GpuJsKernelInstance;
  destroy(removeCanvasReferences?: boolean): void;
}

interface GpuJsKernelInstance {
  readonly constructor: { name: string };
  texture?: { texture: { _refs?: number } } | null;
  textureCache?: unknown[];
}

interface GpuJsInstance {
  readonly mode: string;
  createKernel(source: string, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): unknown;
}

interface GpuJsModule {
  GPU: (new (settings: { mode: string }) => GpuJsInstance) & {
    readonly isHeadlessGLSupported?: boolean;
    readonly isWebGL2Supported?: boolean;
    readonly isWebGLSupported?: boolean;
  };
}

/** A minimal WebGL context view, for counting textures and reading the renderer. */
interface GlContext {
  createTexture(): unknown;
  deleteTexture(t: unknown): void;
  getParameter(p: number): unknown;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL?: number } | null;
  readonly RENDERER: number;
  readonly VERSION: number;
}

/** A gpu.js texture class (constructed from the fields of a texture over the same GL texture). */
type TextureClass = new (settings: Record<string, unknown>) => GpuJsTexture;

/** Modes the backend accepts, with the gpu.js kernel class each must produce. */
const KERNEL_CLASS: Readonly<Record<string, string>> = {
  headlessgl: 'HeadlessGLKernel',
  webgl2: 'WebGL2Kernel',
  webgl: 'WebGLKernel',
};

/** Kernels kept compiled at most; past this the least recently used one is destroyed. */
const MAX_CACHED_KERNELS = 400;

/** Transfer and texture counters; the executor reports their change over a run. */
export interface GpuCounters {
  /** Host -> texture copies and their bytes. */
  uploads: number;
  uploadBytes: number;
  /** Texture -> host copies and their bytes. */
  downloads: number;
  downloadBytes: number;
  /** Shader dispatches. */
  dispatches: number;
  /** gpu.js kernels compiled (cache misses). */
  compiles: number;
  /** Textures owned by Tessera GPU tensors right now. */
  liveTextures: number;
  /** WebGL textures alive in the context right now (all of gpu.js's, counted at the context). */
  glTextures: number;
}

type RequireFn = (id: string) => unknown;

function nodeRequire(): RequireFn | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?(id: string): unknown } }).process;
  if (!proc?.versions?.node || !proc.getBuiltinModule) return undefined;
  const mod = proc.getBuiltinModule('node:module') as { createRequire(url: string): RequireFn } | undefined;
  return mod?.createRequire(import.meta.url);
}

function isNode(): boolean {
  return !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node && typeof (globalThis as { document?: unknown }).document === 'undefined';
}

function hasDisplay(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  return !!(env['DISPLAY'] || env['WAYLAND_DISPLAY']);
}

const DEBIAN_PACKAGES = 'build-essential python3 pkg-config libx11-dev libxext-dev libxi-dev libgl1-mesa-dev libgl1-mesa-dri xvfb xauth';

/** Why no headless-gl context could be made, with the fix. */
function headlessGlDiagnosis(req: RequireFn): string {
  let createGl: ((w: number, h: number) => unknown) | undefined;
  try {
    createGl = req('gl') as (w: number, h: number) => unknown;
  } catch (e) {
    return (
      `the 'gl' package (headless-gl) is not installed or its native build failed (${(e as Error).message.split('\n')[0]}). ` +
      `Install the Debian packages ${DEBIAN_PACKAGES} and rebuild it: \`npm rebuild gl\` (npm must run its install script: allowScripts)`
    );
  }
  let ctx: unknown = null;
  try {
    ctx = createGl(1, 1);
  } catch (e) {
    return `require('gl')(1, 1) threw: ${(e as Error).message}`;
  }
  if (!ctx) {
    return hasDisplay()
      ? `require('gl')(1, 1) returned null although DISPLAY is set; the X server may refuse GLX (check \`xvfb-run -a\` and that libgl1-mesa-dri is installed)`
      : `there is no X display: headless-gl needs one; run under Xvfb, e.g. \`xvfb-run -a npx vitest run test/gpu\``;
  }
  return 'gpu.js rejected the headless-gl context (the OES_texture_float extension may be missing)';
}

/** The shared context of every GPU kernel. */
export class GpuDevice {
  /** The gpu.js mode in use: 'headlessgl', 'webgl2' or 'webgl'. */
  readonly mode: string;
  /** What renders: e.g. "Mesa llvmpipe (software) through headless-gl 8 (WebGL 1)". */
  readonly renderer: string;
  /** True when the renderer is known to be a software rasterizer. */
  readonly software: boolean;
  readonly counters: GpuCounters = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0, dispatches: 0, compiles: 0, liveTextures: 0, glTextures: 0 };
  /** Nodes whose GPU kernel computed on the host because their values were host-resident shape data. */
  readonly hostOps: string[] = [];

  private readonly kernels = new Map<string, GpuJsKernel>();
  private gl: GlContext | undefined;
  private dummyTexture: { _refs?: number } | undefined;
  private readonly quadClasses: { memoryOptimized: TextureClass; array4: TextureClass };

  constructor(
    private readonly gpu: GpuJsInstance,
    mode: string,
  ) {
    this.mode = mode;
    // compile one trivial kernel now: it proves the mode and gives us the context
    const probe = this.compile('function (a) { return a[this.thread.x] + 1; }', 4, false);
    const inst = probe.kernel;
    const cls = inst?.constructor.name;
    if (cls !== KERNEL_CLASS[mode]) {
      throw new GpuUnavailableError(`gpu.js was asked for mode '${mode}' but built a ${cls ?? 'unknown'} kernel; refusing a silent fallback`);
    }
    const out = probe(new Float32Array([1, 2, 3, 4]));
    const values = Array.from(out.toArray());
    out.delete();
    if (values.join(',') !== '2,3,4,5') throw new GpuUnavailableError(`the ${mode} context computed [${values.join(', ')}] for [1, 2, 3, 4] + 1; the GPU context is broken`);
    this.gl = (inst as unknown as { context?: GlContext }).context;
    probe.destroy(false);
    this.quadClasses = this.probeTextureClasses();
    const label = describeRenderer(this.gl, mode);
    this.renderer = label.renderer;
    this.software = label.software;
    this.countGlTextures();
  }

  /** Wrap the context's createTexture/deleteTexture to count live WebGL textures (leak checks). */
  private countGlTextures(): void {
    const gl = this.gl as (GlContext & { __tesseraCounted?: boolean }) | undefined;
    if (!gl || gl.__tesseraCounted) return;
    const counters = this.counters;
    const create = gl.createTexture.bind(gl);
    const del = gl.deleteTexture.bind(gl);
    const alive = new WeakSet<object>();
    gl.createTexture = () => {
      const t = create();
      if (t && typeof t === 'object') {
        alive.add(t);
        counters.glTextures++;
      }
      return t;
    };
    gl.deleteTexture = (t: unknown) => {
      if (t && typeof t === 'object' && alive.has(t)) {
        alive.delete(t);
        counters.glTextures--;
      }
      del(t);
    };
    gl.__tesseraCounted = true;
  }

  private compile(source: string, size: number, count = true, quad = false): GpuJsKernel {
    if (count) this.counters.compiles++;
    return this.gpu.createKernel(source, {
      output: [quad ? Math.ceil(size / 4) : size],
      ...(quad ? { returnType: 'Array(4)' } : {}),
      pipeline: true,
      immutable: true,
      precision: 'single',
      tactic: 'precision',
      optimizeFloatMemory: !quad,
      dynamicOutput: false,
      dynamicArguments: false,
      loopMaxIterations: 1 << 20,
    });
  }

  /**
   * Run the kernel compiled from `source` (a `function (...) { ... }` expression whose arguments are all
   * textures, or all arrays for an upload) over `size` threads, and return the output texture, which the
   * caller owns (delete it exactly once). Kernels are cached by source and size.
   */
  run(source: string, size: number, args: readonly unknown[]): GpuJsTexture {
    return this.runCached(source, size, args, false);
  }

  private runCached(source: string, size: number, args: readonly unknown[], quad: boolean): GpuJsTexture {
    const key = `${quad ? 'quad\u0000' : ''}${size}\u0000${source}`;
    let kernel = this.kernels.get(key);
    if (kernel) {
      // refresh LRU order
      this.kernels.delete(key);
      this.kernels.set(key, kernel);
    } else {
      kernel = this.compile(source, size, true, quad);
      this.kernels.set(key, kernel);
      if (this.kernels.size > MAX_CACHED_KERNELS) {
        const oldest = this.kernels.keys().next().value as string;
        this.kernels.get(oldest)!.destroy(false);
        this.kernels.delete(oldest);
      }
    }
    const out = kernel(...args);
    this.counters.dispatches++;
    this.adoptOutput(kernel, out);
    this.counters.liveTextures++;
    return out;
  }

  /**
   * Take sole ownership of an immutable kernel's output. gpu.js keeps the GL texture it rendered into as the
   * kernel's own (to re-render into next time, after detaching from outstanding clones), so every cached
   * kernel would pin an output-sized texture forever, and destroying the kernel would delete textures still
   * in use. We drop the kernel's reference (it points at a shared placeholder whose reference count never
   * falls to one, so its next run allocates a fresh texture) and remove the texture from its cache.
   */
  private adoptOutput(kernel: GpuJsKernel, out: GpuJsTexture): void {
    const inst = kernel.kernel;
    const own = inst?.texture;
    if (!inst || !own || own.texture !== out.texture) return;
    if (!this.dummyTexture) this.dummyTexture = { _refs: Number.MAX_SAFE_INTEGER };
    this.dummyTexture._refs = Number.MAX_SAFE_INTEGER;
    own.texture = this.dummyTexture;
    if (out.texture._refs !== undefined) out.texture._refs--;
    const cache = inst.textureCache;
    if (cache) {
      const i = cache.indexOf(out.texture);
      if (i >= 0) cache.splice(i, 1);
    }
  }

  /**
   * Run a kernel whose every thread returns four consecutive outputs (`return [v0, v1, v2, v3]`, gpu.js
   * return type Array(4)) over ceil(size / 4) threads, and return a texture of `size` values that the caller
   * owns, exactly like run(). An Array(4) output of T threads and a memory-optimized output of 4T values get
   * the same texture size (gpu.js folds both to the closest square of T texels) and the same layout (texel t
   * holds values 4t..4t+3 in RGBA), so the texture is handed back relabelled as an ordinary memory-optimized
   * texture (same class as run()'s outputs): every other kernel reads it with no conversion pass. Values past
   * `size` in the last texel are padding. Cached by source and size like run(), under a separate key.
   */
  runQuad(source: string, size: number, args: readonly unknown[]): GpuJsTexture {
    const raw = this.runCached(source, size, args, true);
    const texture = this.relabel(raw, this.textureClasses().memoryOptimized, size);
    raw.delete(); // the relabelled texture holds its own reference to the GL texture
    return texture;
  }

  /**
   * A vec4 view (gpu.js ArrayTexture(4)) of a memory-optimized texture holding `length` values: in a kernel,
   * `view[t]` is the texel with values 4t..4t+3 (one fetch). Shares the GL texture; the caller deletes the
   * view after the call (the viewed texture keeps its own reference). Not counted as a live texture.
   */
  texelView(texture: GpuJsTexture, length: number): GpuJsTexture {
    return this.relabel(texture, this.textureClasses().array4, Math.ceil(length / 4));
  }

  /** The gpu.js texture classes of this mode for memory-optimized floats and Array(4) (probed at construction). */
  private textureClasses(): { memoryOptimized: TextureClass; array4: TextureClass } {
    return this.quadClasses;
  }

  /**
   * Find the texture classes by running two tiny kernels, once, in the constructor. Not later: gpu.js sets the
   * vertex attributes (global WebGL 1 state) only when it builds a kernel, so after a kernel is built and
   * destroyed, the next run of an already-built kernel draws from the deleted vertex buffer and renders
   * nothing (measured: an upload then read back as zeros). Here, and on LRU eviction, the next run is a fresh
   * build, which sets them again.
   */
  private probeTextureClasses(): { memoryOptimized: TextureClass; array4: TextureClass } {
    const scalar = this.compile('function (a) { return a[this.thread.x]; }', 4, false);
    const vec = this.compile('function () { return [1, 2, 3, 4]; }', 4, false, true);
    const s = scalar(new Float32Array(4));
    const v = vec();
    const classes = { memoryOptimized: s.constructor as unknown as TextureClass, array4: v.constructor as unknown as TextureClass };
    s.delete();
    v.delete();
    scalar.destroy(false);
    vec.destroy(false);
    return classes;
  }

  /** A new texture object of class `cls` over `t`'s GL texture (gpu.js counts the extra reference). */
  private relabel(t: GpuJsTexture, cls: TextureClass, length: number): GpuJsTexture {
    const src = t as GpuJsTexture & { context: unknown; internalFormat: unknown; textureFormat: unknown };
    return new cls({
      texture: src.texture,
      size: src.size,
      dimensions: [length, 1, 1],
      output: [length],
      context: src.context,
      kernel: src.kernel,
      internalFormat: src.internalFormat,
      textureFormat: src.textureFormat,
    });
  }

  /** Number of compiled kernels held. */
  get cachedKernels(): number {
    return this.kernels.size;
  }

  /**
   * Delete a texture this backend owns. Goes through gpu.js (which keeps the reference count) while the
   * kernel that made it is alive; a destroyed kernel no longer has a context, so then the device's context
   * deletes it directly.
   */
  deleteTexture(texture: GpuJsTexture): void {
    if (texture._deleted) return;
    this.counters.liveTextures--;
    const maker = texture.kernel as { context?: unknown } | undefined;
    if (maker?.context) {
      texture.delete();
      return;
    }
    texture._deleted = true;
    const gl = texture.texture;
    if (gl._refs !== undefined) gl._refs--;
    if (!gl._refs) this.gl?.deleteTexture(gl);
  }

  /** Destroy every cached kernel (they are recompiled on demand). Safe while GPU tensors are alive. */
  clearKernelCache(): void {
    for (const k of this.kernels.values()) k.destroy(false);
    this.kernels.clear();
  }
}

/** Name the renderer honestly: WebGL's RENDERER string, and in Node the Mesa driver actually loaded. */
function describeRenderer(gl: GlContext | undefined, mode: string): { renderer: string; software: boolean } {
  let reported = 'unknown';
  try {
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    const r = ext?.UNMASKED_RENDERER_WEBGL !== undefined ? gl!.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl?.getParameter(gl.RENDERER);
    if (typeof r === 'string') reported = r;
  } catch {
    /* keep 'unknown' */
  }
  let software = /llvmpipe|softpipe|swiftshader|swrast|software/i.test(reported);
  if (mode === 'headlessgl') {
    // headless-gl reports 'ANGLE'; the driver underneath shows in the process's mapped libraries
    let driver = '';
    try {
      const req = nodeRequire();
      const fs = req?.('node:fs') as { readFileSync(p: string, e: string): string } | undefined;
      const maps = fs?.readFileSync('/proc/self/maps', 'utf8') ?? '';
      if (/swrast_dri|libgallium/.test(maps)) driver = /libLLVM/.test(maps) ? 'Mesa llvmpipe (software rasterizer)' : 'Mesa softpipe (software rasterizer)';
      else if (/_dri\.so/.test(maps)) driver = 'Mesa hardware driver';
    } catch {
      /* not Linux */
    }
    if (driver.includes('software')) software = true;
    return { renderer: `${driver || 'unknown driver'} through headless-gl (WebGL 1, RENDERER '${reported}')`, software };
  }
  return { renderer: `${reported} (${mode === 'webgl2' ? 'WebGL 2' : 'WebGL 1'})`, software };
}

let device: GpuDevice | undefined;
let failure: GpuUnavailableError | undefined;
let injected: GpuJsModule | undefined;

/** Give the backend the gpu.js module explicitly (a browser bundle that does not expose the `GPU` global). */
export function provideGpuJs(module: GpuJsModule): void {
  injected = module;
}

function loadGpuJs(): GpuJsModule {
  if (injected) return injected;
  const global = (globalThis as { GPU?: GpuJsModule['GPU'] }).GPU;
  if (global) return { GPU: global };
  const req = nodeRequire();
  if (!req) throw new GpuUnavailableError('gpu.js is not loaded: include gpu-browser.min.js (it defines the GPU global) or call provideGpuJs()');
  try {
    return req('gpu.js') as GpuJsModule;
  } catch (e) {
    throw new GpuUnavailableError(`cannot load gpu.js: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * The GPU device, created on first use. Throws GpuUnavailableError (and keeps throwing the same error) when
 * no real GPU context can be made; never returns a device running gpu.js's CPU or wasm modes.
 */
export function getGpuDevice(): GpuDevice {
  if (device) return device;
  if (failure) throw failure;
  try {
    const mod = loadGpuJs();
    const GPU = mod.GPU;
    let mode: string;
    if (isNode()) {
      mode = 'headlessgl';
      if (!GPU.isHeadlessGLSupported) {
        const req = nodeRequire();
        throw new GpuUnavailableError(`backend 'gpu' needs a headless-gl context and none can be made: ${req ? headlessGlDiagnosis(req) : 'no require()'}`);
      }
    } else if (GPU.isWebGL2Supported) mode = 'webgl2';
    else if (GPU.isWebGLSupported) mode = 'webgl';
    else throw new GpuUnavailableError("backend 'gpu' needs WebGL 2 or WebGL 1 and this browser offers neither (check chrome://gpu, or that the browser was not started with --disable-gpu)");
    let gpu: GpuJsInstance;
    try {
      gpu = new GPU({ mode });
    } catch (e) {
      throw new GpuUnavailableError(`gpu.js refused mode '${mode}': ${(e as Error).message}`);
    }
    if (gpu.mode !== mode) throw new GpuUnavailableError(`gpu.js was asked for mode '${mode}' and chose '${gpu.mode}'; refusing a silent fallback`);
    device = new GpuDevice(gpu, mode);
    return device;
  } catch (e) {
    failure = e instanceof GpuUnavailableError ? e : new GpuUnavailableError(`cannot create the GPU device: ${(e as Error).message}`);
    throw failure;
  }
}

/** The device if one was created, without creating it. */
export function currentGpuDevice(): GpuDevice | undefined {
  return device;
}

/** Why the GPU is unavailable, or undefined when a device can be (or was) created. Creates the device. */
export function gpuUnavailableReason(): string | undefined {
  try {
    getGpuDevice();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** What the GPU backend runs on, for labelling timings (bench) and reports. */
export type GpuInfo =
  | {
      readonly available: true;
      /** gpu.js mode: 'headlessgl' (Node), 'webgl2' or 'webgl' (browser). */
      readonly mode: string;
      /** The renderer, e.g. "Mesa llvmpipe (software rasterizer) through headless-gl ..." or "... SwiftShader ...". */
      readonly renderer: string;
      /** True for a software rasterizer (llvmpipe, SwiftShader): timings are then CPU speed, not GPU speed. */
      readonly software: boolean;
    }
  | {
      readonly available: false;
      /** Why no GPU context can be made, with the fix. */
      readonly reason: string;
    };

/** Describe the GPU backend (creating the device on first call); never throws. */
export function gpuInfo(): GpuInfo {
  try {
    const d = getGpuDevice();
    return { available: true, mode: d.mode, renderer: d.renderer, software: d.software };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}
