/**
 * The GEMM micro-kernel in WebAssembly SIMD (f64x2), assembled here from its opcodes (no toolchain, no binary
 * blob): ./gemm.ts calls it for every 4x8 register tile when the engine supports wasm SIMD, and falls back to its
 * JavaScript kernel otherwise.
 *
 * What it computes is exactly the JavaScript micro-kernel's result: tile[r*8 + t] = sum over s < kc of
 * pa[4s + r] * pb[8s + t], accumulated from 0 in s order, each product rounded to double and then added
 * (f64x2.mul then f64x2.add: the same two IEEE roundings per step as `c += a * b` on JavaScript numbers; no
 * fused multiply-add). So results are bitwise identical with or without SIMD, on any thread.
 *
 * Shape of the kernel: the 4x8 tile is computed as two 4x4 halves (columns 0-3, then 4-7), each with 8 f64x2
 * accumulators, 4 splatted A values and 2 B vectors per step: 14 live vectors, which fit the 16 xmm registers
 * of x86-64 (a single 4x8 pass needs 21 and spills). Per step of a half: 4 load64_splat, 2 v128.load, 8 mul,
 * 8 add (16 multiply-adds). Measured on this machine (shared, loaded): ~11 GFLOP/s against ~5.4 for the
 * scalar JavaScript kernel.
 *
 * Memory: each thread has its own instance and its own (unshared) linear memory: an A block region, a B block
 * region, the tile (32 doubles), then a region for whole packed operands that grows on demand (`reserveWhole`).
 * The caller packs (or copies pre-packed panels) into the regions through the `memory` view, calls `tile`, and
 * reads the result from `tileView`. Growing replaces both views (re-read them after `reserveWhole`).
 */
import { localGet as get, localSet as set, name, section, simd, simdMem, sleb, uleb, vector } from './wasm-asm.js';

/** One thread's SIMD micro-kernel with its memory regions. */
export interface SimdGemmKernel {
  /** Doubles of the whole memory (replaced when `reserveWhole` grows it). */
  readonly memory: Float64Array;
  /** Double index where the A block starts (room for `aCapacity` doubles). */
  readonly aStart: number;
  readonly aCapacity: number;
  /** Double index where the B block starts (room for `bCapacity` doubles). */
  readonly bStart: number;
  readonly bCapacity: number;
  /** The 32 doubles of the last tile (row-major 4 x 8; replaced when `reserveWhole` grows the memory). */
  readonly tileView: Float64Array;
  /** Double index where the region for whole packed operands starts. */
  readonly wholeStart: number;
  /** Make the whole-operand region at least `doubles` long (grows the memory, keeping its contents). */
  reserveWhole(doubles: number): void;
  /**
   * tile = A panel (at double index aIndex, kc x 4) times B panel (at double index bIndex, kc x 8), written to
   * tileView.
   */
  tile(kc: number, aIndex: number, bIndex: number): void;
}

// opcodes
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const BLOCK = 0x02;
const LOOP = 0x03;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;
const V128_LOAD = 0x00;
const V128_LOAD64_SPLAT = 0x0a;
const V128_STORE = 0x0b;
const V128_CONST = 0x0c;
const F64X2_ADD = 0xf0;
const F64X2_MUL = 0xf2;
const V128 = 0x7b;
const I32 = 0x7f;


// function `tile(kc, a, b, out)`: params 0..3 (i32, byte addresses); locals 4..11 accumulators, 12..15 A
// splats, 16..17 B vectors (v128), 18 step counter, 19..20 saved a and b (i32)
const P_KC = 0;
const P_A = 1;
const P_B = 2;
const P_OUT = 3;
const L_ACC = 4;
const L_A = 12;
const L_B = 16;
const L_STEP = 18;
const L_A0 = 19;
const L_B0 = 20;

/** One 4x4 half: columns [4h, 4h+4) of the tile (B bytes colOffset within each 64-byte row of the panel). */
function halfTile(colOffset: number): number[] {
  const code: number[] = [];
  for (let v = 0; v < 8; v++) code.push(...simd(V128_CONST), ...new Array<number>(16).fill(0), ...set(L_ACC + v));
  code.push(...get(P_KC), ...set(L_STEP));
  // block { if kc == 0 break; loop { ...; step -= 1; br_if step != 0 } }
  code.push(BLOCK, VOID, ...get(L_STEP), I32_EQZ, BR_IF, 0, LOOP, VOID);
  for (let r = 0; r < 4; r++) code.push(...get(P_A), ...simdMem(V128_LOAD64_SPLAT, 3, 8 * r), ...set(L_A + r));
  code.push(...get(P_B), ...simdMem(V128_LOAD, 4, colOffset), ...set(L_B));
  code.push(...get(P_B), ...simdMem(V128_LOAD, 4, colOffset + 16), ...set(L_B + 1));
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) {
      const acc = L_ACC + 2 * r + h;
      code.push(...get(acc), ...get(L_A + r), ...get(L_B + h), ...simd(F64X2_MUL), ...simd(F64X2_ADD), ...set(acc));
    }
  }
  code.push(...get(P_A), I32_CONST, ...sleb(32), I32_ADD, ...set(P_A));
  code.push(...get(P_B), I32_CONST, ...sleb(64), I32_ADD, ...set(P_B));
  code.push(...get(L_STEP), I32_CONST, 1, I32_SUB, LOCAL_TEE, ...uleb(L_STEP), BR_IF, 0, END, END);
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) code.push(...get(P_OUT), ...get(L_ACC + 2 * r + h), ...simdMem(V128_STORE, 4, r * 64 + colOffset + 16 * h));
  }
  return code;
}

/** The module: imports memory `m.mem`, exports `tile`. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const body = [...get(P_A), ...set(L_A0), ...get(P_B), ...set(L_B0), ...halfTile(0), ...get(L_A0), ...set(P_A), ...get(L_B0), ...set(P_B), ...halfTile(32), END];
  const locals = vector([
    [...uleb(14), V128],
    [...uleb(1), I32],
    [...uleb(2), I32],
  ]);
  const fn = [...locals, ...body];
  const types = section(1, vector([[0x60, ...vector([[I32], [I32], [I32], [I32]]), 0]]));
  const imports = section(2, vector([[...name('m'), ...name('mem'), 0x02, 0x00, 0x01]]));
  const functions = section(3, vector([[0]]));
  const exports = section(7, vector([[...name('tile'), 0x00, 0]]));
  const code = section(10, vector([[...uleb(fn.length), ...fn]]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable. */
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    compiled = null;
    try {
      const bytes = moduleBytes();
      if (typeof WebAssembly === 'object' && WebAssembly.validate(bytes)) compiled = new WebAssembly.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * A SIMD micro-kernel with room for an A block of `aCapacity` and a B block of `bCapacity` doubles, or
 * undefined where WebAssembly SIMD is unavailable.
 */
export function createSimdGemmKernel(aCapacity: number, bCapacity: number): SimdGemmKernel | undefined {
  const mod = simdModule();
  if (!mod) return undefined;
  const aStart = 0;
  const bStart = aCapacity;
  const tileStart = bStart + bCapacity;
  const wholeStart = tileStart + 32;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((wholeStart * 8) / 65536) });
  const instance = new WebAssembly.Instance(mod, { m: { mem: memory } });
  const tile = instance.exports['tile'] as (kc: number, a: number, b: number, out: number) => void;
  const tileByte = tileStart * 8;
  const kernel = {
    memory: new Float64Array(memory.buffer),
    aStart,
    aCapacity,
    bStart,
    bCapacity,
    tileView: new Float64Array(memory.buffer, tileByte, 32),
    wholeStart,
    reserveWhole(doubles: number): void {
      const bytes = (wholeStart + doubles) * 8;
      if (bytes <= memory.buffer.byteLength) return;
      memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
      kernel.memory = new Float64Array(memory.buffer);
      kernel.tileView = new Float64Array(memory.buffer, tileByte, 32);
    },
    tile: (kc: number, aIndex: number, bIndex: number): void => tile(kc, aIndex * 8, bIndex * 8, tileByte),
  };
  return kernel;
}
