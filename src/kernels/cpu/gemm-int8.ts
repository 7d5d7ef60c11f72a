/**
 * Integer GEMM for quantized operators: ACC[m, n] = sum over k of A[m, k] * B[k, n], exactly, in int32, with
 * A small signed integers (activation codes relative to their zero point, |a| <= 255, stored as int16) and B
 * int8 (a weight, symmetric per-channel quantization). The caller scales ACC back to float (one multiply per
 * element by x_scale * w_scale[channel]); ./quant-fused.ts uses it for QDQConv / QDQMatMul / QDQGemm and
 * ./integer-gemm.ts for MatMulInteger / ConvInteger.
 *
 * Why a separate kernel: the float path (./gemm.ts) multiplies f64x2 pairs (2 multiply-adds per SIMD multiply
 * plus add); WebAssembly's i32x4.dot_i16x8_s does 8 integer multiply-adds per instruction, so the same 4x8
 * register tile costs 4x fewer arithmetic instructions, and B is read as int8 (4x fewer bytes than float32,
 * 8x fewer than the float path's float64 panels).
 *
 * Layout (pairs along K, so one dot instruction consumes two K steps):
 *   - B (the weight, K x N) packed once into NR = 8 column panels, each ceil(K/2) steps of 8 columns x 2 K
 *     values: byte (panel * kp + step) * 16 + col * 2 + e holds B[2 * step + e, panel * 8 + col] (zero padded
 *     past K and N). Same byte count as the int8 weight plus padding to 8 columns and an even K. Cached per
 *     weight storage (`cachedPackedInt8B`), it is the only resident copy besides the weight itself.
 *   - A (activations, M x K) packed per call into MR = 4 row panels: int16 (panel * kp + step) * 8 + row * 2 + e
 *     holds A[panel * 4 + row, 2 * step + e]. The packing is where callers fold the quantization (and im2col).
 * Micro-kernel per step: 4 v128.load32_splat of A pairs (one per row), 2 i16x8.load8x8_s of B (columns 0-3 and
 * 4-7, sign-extended to int16), 8 i32x4.dot_i16x8_s and 8 i32x4.add into 8 accumulators (the 4 x 8 tile): 64
 * multiply-adds. All tiles of one call run inside one wasm function (no JS call per tile).
 *
 * Exactness: |a * b| <= 255 * 128, so the int32 sum is exact for K <= INT8_GEMM_MAX_K; callers check it.
 * Where WebAssembly SIMD is unavailable, `int8GemmAvailable()` is false and callers use their float paths.
 *
 * The same module has the passes around the product, so no JavaScript loop touches an element on the 1x1 /
 * MatMul path (`int8GemmQuantized`): `codes` / `fake` quantize float32 input 8 values per step (f32x4 div,
 * nearest, pmax/pmin, NaN select: bit for bit quant-fused.ts fakeQuantize), `packChannels` / `packRows` build A
 * panels from channel-major or row-major codes (64-bit loads + one shuffle, or 32-bit pair moves), and the
 * `epilogue<i>` functions turn ACC into channel-major float32 (convert, scale in double, round, bias,
 * activation). `int8Gemm` takes a JavaScript A packer instead (the im2col case).
 *
 * Memory: one instance with its own linear memory laid out per call as [codes | quantizer input | A panels |
 * ACC | B panels | epilogue output, scales, bias]; it grows to the largest call and is kept (like ./scratch.ts
 * slots, but `clearScratch()` does not release it). B panels are copied in per call (a memcpy of the int8
 * panels: K * N bytes, against 2 * M * N * K operations). Single-threaded: the calling thread only.
 */
import { localGet as get, localSet as set, name as utf8, section, simd, simdMem, sleb, uleb, vector as vec } from './wasm-asm.js';

/** Rows of the register tile (A panels). */
export const INT8_GEMM_MR = 4;
/** Columns of the register tile (B panels). */
export const INT8_GEMM_NR = 8;
/** Largest K whose int32 accumulation is exact for |A| <= 255 and |B| <= 128 (2^31 / (255 * 128), rounded down). */
export const INT8_GEMM_MAX_K = 65_000;

/** A K x N int8 operand packed into pair-interleaved 8-column panels (see the file comment). */
export interface PackedInt8B {
  readonly k: number;
  readonly n: number;
  /** Steps (K pairs): ceil(k / 2). */
  readonly kp: number;
  /** Column panels: ceil(n / 8). */
  readonly panels: number;
  /** panels * kp * 16 bytes. */
  readonly data: Int8Array;
}

/**
 * Pack B[k, n] = w[offset + k * rowStride + n * colStride] (k < K, n < N) into int8 panels. Cost K * N reads.
 */
export function packInt8B(w: Int8Array, offset: number, rowStride: number, colStride: number, k: number, n: number): PackedInt8B {
  const kp = (k + 1) >> 1;
  const panels = Math.ceil(n / INT8_GEMM_NR);
  const data = new Int8Array(panels * kp * 16);
  for (let col = 0; col < n; col++) {
    const base = Math.floor(col / INT8_GEMM_NR) * kp * 16 + (col % INT8_GEMM_NR) * 2;
    const src = offset + col * colStride;
    for (let kk = 0; kk < k; kk++) data[base + (kk >> 1) * 16 + (kk & 1)] = w[src + kk * rowStride]!;
  }
  return { k, n, kp, panels, data };
}

interface PackedEntry {
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
  readonly packed: PackedInt8B;
}

const packedCache = new WeakMap<Int8Array, PackedEntry[]>();
/** Packs per weight array at most (e.g. one per Conv group). */
const PACKS_PER_WEIGHT = 64;

/**
 * `packInt8B` of a constant weight, packed once per (weight storage, offset, strides) and kept while `w` lives
 * (a WeakMap keyed by the typed array). Only for weights that never change while the array lives.
 */
export function cachedPackedInt8B(w: Int8Array, offset: number, rowStride: number, colStride: number, k: number, n: number): PackedInt8B {
  let entries = packedCache.get(w);
  if (!entries) {
    entries = [];
    packedCache.set(w, entries);
  }
  for (const e of entries) {
    if (e.offset === offset && e.rowStride === rowStride && e.colStride === colStride && e.packed.k === k && e.packed.n === n) return e.packed;
  }
  const packed = packInt8B(w, offset, rowStride, colStride, k, n);
  if (entries.length >= PACKS_PER_WEIGHT) entries.shift();
  entries.push({ offset, rowStride, colStride, packed });
  return packed;
}

// ---------------------------------------------------------------------------------------------------------
// The WebAssembly module, assembled from its opcodes.

const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_SHL = 0x74;
const BLOCK = 0x02;
const LOOP = 0x03;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;
const V128_LOAD8X8_S = 0x01;
const V128_LOAD32_SPLAT = 0x09;
const V128_STORE = 0x0b;
const V128_CONST = 0x0c;
const I32X4_ADD = 0xae;
const I32X4_DOT_I16X8_S = 0xba;
const F32X4_SPLAT = 0x13;
const F32X4_EQ = 0x41;
const V128_BITSELECT = 0x52;
const F32X4_NEAREST = 0x6a;
const I16X8_NARROW_I32X4_S = 0x85;
const F32X4_ADD = 0xe4;
const F32X4_MUL = 0xe6;
const F32X4_DIV = 0xe7;
const F32X4_PMIN = 0xea;
const F32X4_PMAX = 0xeb;
const I32X4_TRUNC_SAT_F32X4_S = 0xf8;
const V128_LOAD = 0x00;
const V128_LOAD64_ZERO = 0x5d;
const I8X16_SHUFFLE = 0x0d;
const I32_LOAD = 0x28;
const I32_STORE = 0x36;
const I32_MUL = 0x6c;
const F32_LOAD = 0x2a;
const F64_LOAD = 0x2b;
const F32_STORE = 0x38;
const F64_CONST = 0x44;
const F32_ADD = 0x92;
const F64_ADD = 0xa0;
const F64_MUL = 0xa2;
const F64_DIV = 0xa3;
const F64_MIN = 0xa4;
const F64_MAX = 0xa5;
const F32_MAX = 0x97;
const F64_CONVERT_I32_S = 0xb7;
const F32_DEMOTE_F64 = 0xb6;
const F64_PROMOTE_F32 = 0xbb;
const T_F64 = 0x7c;
const T_V128 = 0x7b;
const T_I32 = 0x7f;
const T_F32 = 0x7d;

const addConst = (local: number, c: number): number[] => [...get(local), I32_CONST, ...sleb(c), I32_ADD, ...set(local)];
/** `block { if local == 0 break; loop { body; local -= 1; continue while local != 0 } }` */
const countedLoop = (counter: number, body: readonly number[]): number[] => [
  BLOCK, VOID, ...get(counter), I32_EQZ, BR_IF, 0,
  LOOP, VOID, ...body, ...get(counter), I32_CONST, 1, I32_SUB, LOCAL_TEE, ...uleb(counter), BR_IF, 0, END,
  END,
];

// gemm(kp, a, b, mTiles, nTiles, c, ldc): byte addresses; ldc = bytes per ACC row
const P_KP = 0;
const P_A = 1;
const P_B = 2;
const P_MT = 3;
const P_NT = 4;
const P_C = 5;
const P_LDC = 6;
// i32 locals
const L_BP = 7;
const L_STEP = 8;
const L_AW = 9;
const L_BW = 10;
const L_J = 11;
const L_CP = 12;
const L_PANEL = 13;
const L_ROW = 14;
// v128 locals
const V_ACC = 15;
const V_A = 23;
const V_B = 27;

function gemmBody(): number[] {
  const tile: number[] = [];
  for (let v = 0; v < 8; v++) tile.push(...simd(V128_CONST), ...new Array<number>(16).fill(0), ...set(V_ACC + v));
  tile.push(...get(P_A), ...set(L_AW), ...get(P_B), ...set(L_BW), ...get(P_KP), ...set(L_STEP));
  const step: number[] = [];
  for (let r = 0; r < 4; r++) step.push(...get(L_AW), ...simdMem(V128_LOAD32_SPLAT, 2, 4 * r), ...set(V_A + r));
  step.push(...get(L_BW), ...simdMem(V128_LOAD8X8_S, 3, 0), ...set(V_B));
  step.push(...get(L_BW), ...simdMem(V128_LOAD8X8_S, 3, 8), ...set(V_B + 1));
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) {
      const acc = V_ACC + 2 * r + h;
      step.push(...get(acc), ...get(V_A + r), ...get(V_B + h), ...simd(I32X4_DOT_I16X8_S), ...simd(I32X4_ADD), ...set(acc));
    }
  }
  step.push(...addConst(L_AW, 16), ...addConst(L_BW, 16));
  tile.push(...countedLoop(L_STEP, step));
  // store the 4 x 8 tile: row r at cp + r * ldc
  tile.push(...get(L_CP), ...set(L_ROW));
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) tile.push(...get(L_ROW), ...get(V_ACC + 2 * r + h), ...simdMem(V128_STORE, 4, 16 * h));
    if (r < 3) tile.push(...get(L_ROW), ...get(P_LDC), I32_ADD, ...set(L_ROW));
  }
  // next B panel (bw now points past this one), next tile of ACC
  tile.push(...get(L_BW), ...set(P_B), ...addConst(L_CP, 32));
  const rowPanel: number[] = [...get(P_B), ...set(L_BP), ...get(P_NT), ...set(L_J), ...get(P_C), ...set(L_CP)];
  rowPanel.push(...countedLoop(L_J, tile));
  // restore B, advance A by one panel (kp * 16 bytes) and ACC by 4 rows
  rowPanel.push(...get(L_BP), ...set(P_B));
  rowPanel.push(...get(P_A), ...get(P_KP), I32_CONST, 4, I32_SHL, I32_ADD, ...set(P_A));
  rowPanel.push(...get(P_C), ...get(P_LDC), I32_CONST, 2, I32_SHL, I32_ADD, ...set(P_C));
  return [...get(P_MT), ...set(L_PANEL), ...countedLoop(L_PANEL, rowPanel), END];
}

// quantize(src, dst, groups, s, qlo, qhi, nan): 8 float32 values per group from byte address src; codes
// c = pmin(pmax(nearest(x / s), qlo), qhi), NaN -> nan (pmax/pmin: `v < lo ? lo : v`, `v > hi ? hi : v`, the
// comparisons of the JavaScript fakeQuantize). Function 1 stores int16 codes (16 bytes per
// group), function 2 stores c * s as float32 (32 bytes per group: exactly fakeQuantize's float32 rounding).
const Q_SRC = 0;
const Q_DST = 1;
const Q_GROUPS = 2;
const Q_S = 3;
const Q_LO = 4;
const Q_HI = 5;
const Q_NAN = 6;
const QV_S = 7;
const QV_LO = 8;
const QV_HI = 9;
const QV_NAN = 10;
const QV_T = 11;
const QV_C0 = 12;
const QV_C1 = 13;

function quantizeBody(asFloat: boolean): number[] {
  const code: number[] = [];
  code.push(...get(Q_S), ...simd(F32X4_SPLAT), ...set(QV_S));
  code.push(...get(Q_LO), ...simd(F32X4_SPLAT), ...set(QV_LO));
  code.push(...get(Q_HI), ...simd(F32X4_SPLAT), ...set(QV_HI));
  code.push(...get(Q_NAN), ...simd(F32X4_SPLAT), ...set(QV_NAN));
  const one = (offset: number, into: number): number[] => [
    ...get(Q_SRC), ...simdMem(V128_LOAD, 2, offset), ...get(QV_S), ...simd(F32X4_DIV), ...simd(F32X4_NEAREST),
    // + 0 turns a -0 code into +0, as the JavaScript rounding (v + 1.5 * 2^52 - 1.5 * 2^52) does
    ...simd(V128_CONST), ...new Array<number>(16).fill(0), ...simd(F32X4_ADD),
    ...get(QV_LO), ...simd(F32X4_PMAX), ...get(QV_HI), ...simd(F32X4_PMIN), ...set(QV_T),
    ...get(QV_T), ...get(QV_NAN), ...get(QV_T), ...get(QV_T), ...simd(F32X4_EQ), ...simd(V128_BITSELECT), ...set(into),
  ];
  const body: number[] = [...one(0, QV_C0), ...one(16, QV_C1)];
  if (asFloat) {
    body.push(...get(Q_DST), ...get(QV_C0), ...get(QV_S), ...simd(F32X4_MUL), ...simdMem(V128_STORE, 2, 0));
    body.push(...get(Q_DST), ...get(QV_C1), ...get(QV_S), ...simd(F32X4_MUL), ...simdMem(V128_STORE, 2, 16));
    body.push(...addConst(Q_DST, 32));
  } else {
    body.push(...get(Q_DST), ...get(QV_C0), ...simd(I32X4_TRUNC_SAT_F32X4_S), ...get(QV_C1), ...simd(I32X4_TRUNC_SAT_F32X4_S), ...simd(I16X8_NARROW_I32X4_S), ...simdMem(V128_STORE, 1, 0));
    body.push(...addConst(Q_DST, 16));
  }
  body.push(...addConst(Q_SRC, 32));
  code.push(...countedLoop(Q_GROUPS, body), END);
  return code;
}

// packChannels(src, stride, panels, kp, dst): A panels from codes stored channel-major (K rows of `stride`
// bytes, one int16 code per position): per panel (4 positions) and step (channel pair), 4 codes of channel 2s
// and 4 of channel 2s+1 (v128.load64_zero each) interleaved by one shuffle into the 16-byte step.
// packRows(src, rowBytes, panels, kp, dst): A panels from codes stored row-major (rows of K int16 codes):
// per panel and step, the 32-bit code pair of each of the 4 rows. Both read past the last row / channel
// (callers leave slack there); what they read there only meets zero weights or unused rows of ACC.
const K_SRC = 0;
const K_STRIDE = 1;
const K_PANELS = 2;
const K_KP = 3;
const K_DST = 4;
const K_STEP = 5;
const K_PTR = 6;
const K_PANEL_PTR = 7;
const K_R2 = 8;
const K_R3 = 9;

function packChannelsBody(): number[] {
  const step: number[] = [
    ...get(K_DST),
    ...get(K_PTR), ...simdMem(V128_LOAD64_ZERO, 3, 0),
    ...get(K_PTR), ...get(K_STRIDE), I32_ADD, ...simdMem(V128_LOAD64_ZERO, 3, 0),
    ...simd(I8X16_SHUFFLE), 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23,
    ...simdMem(V128_STORE, 4, 0),
    ...addConst(K_DST, 16),
    ...get(K_PTR), ...get(K_R2), I32_ADD, ...set(K_PTR),
  ];
  const panel: number[] = [...get(K_PANEL_PTR), ...set(K_PTR), ...get(K_KP), ...set(K_STEP), ...countedLoop(K_STEP, step), ...addConst(K_PANEL_PTR, 8)];
  return [...get(K_STRIDE), I32_CONST, 1, I32_SHL, ...set(K_R2), ...get(K_SRC), ...set(K_PANEL_PTR), ...countedLoop(K_PANELS, panel), END];
}

function packRowsBody(): number[] {
  const step: number[] = [];
  for (let r = 0; r < 4; r++) {
    const row = r === 0 ? [...get(K_PTR)] : r === 1 ? [...get(K_PTR), ...get(K_STRIDE), I32_ADD] : [...get(K_PTR), ...get(r === 2 ? K_R2 : K_R3), I32_ADD];
    step.push(...get(K_DST), ...row, I32_LOAD, 0, 0, I32_STORE, 2, ...uleb(4 * r));
  }
  step.push(...addConst(K_DST, 16), ...addConst(K_PTR, 4));
  const panel: number[] = [...get(K_PANEL_PTR), ...set(K_PTR), ...get(K_KP), ...set(K_STEP), ...countedLoop(K_STEP, step)];
  panel.push(...get(K_PANEL_PTR), ...get(K_STRIDE), I32_CONST, 2, I32_SHL, I32_ADD, ...set(K_PANEL_PTR));
  return [
    ...get(K_STRIDE), I32_CONST, 1, I32_SHL, ...set(K_R2),
    ...get(K_STRIDE), I32_CONST, 3, I32_MUL, ...set(K_R3),
    ...get(K_SRC), ...set(K_PANEL_PTR), ...countedLoop(K_PANELS, panel), END,
  ];
}

// epilogue(acc, ldc, rows, cols, out, ostride, scales, bias, p0, p1): out[c * ostride + r] (bytes: out + c *
// ostride + 4r) = act(float32(float32(acc[r, c] * scales[c]) + bias[c])) for r < rows, c < cols: ACC (int32,
// ldc bytes per row) transposed into channel-major float32, with the scale per column (f64), the bias per column
// (f32) and the activation computed in double from the float32 value, as the JavaScript kernels do (one
// function per activation: none, Relu, HardSwish, HardSigmoid with alpha p0 and beta p1).
const E_ACC = 0;
const E_LDC = 1;
const E_ROWS = 2;
const E_COLS = 3;
const E_OUT = 4;
const E_OSTRIDE = 5;
const E_SCALES = 6;
const E_BIAS = 7;
const E_P0 = 8;
const E_P1 = 9;
const E_R = 10;
const E_SRC = 11;
const E_COLPTR = 12;
const E_DST = 13;
const E_S = 14;
const E_B = 15;
const E_V = 16;
/** Activations with a wasm epilogue, by function index offset. */
export const EPILOGUE_ACTIVATIONS = ['', 'Relu', 'HardSwish', 'HardSigmoid'] as const;

const f64c = (v: number): number[] => {
  const b = new Uint8Array(new Float64Array([v]).buffer);
  return [F64_CONST, ...b];
};

function epilogueBody(activation: (typeof EPILOGUE_ACTIVATIONS)[number]): number[] {
  const inner: number[] = [
    ...get(E_DST),
    ...get(E_SRC), I32_LOAD, 2, 0, F64_CONVERT_I32_S, ...get(E_S), F64_MUL, F32_DEMOTE_F64, ...get(E_B), F32_ADD,
  ];
  if (activation === 'Relu') {
    inner.push(0x43, 0, 0, 0, 0, F32_MAX); // f32.const 0, f32.max: -0 -> +0, NaN stays NaN
  } else if (activation === 'HardSwish') {
    // v * min(max(v / 6 + 0.5, 0), 1) in double
    inner.push(F64_PROMOTE_F32, LOCAL_TEE, ...uleb(E_V), ...get(E_V), ...f64c(6), F64_DIV, ...f64c(0.5), F64_ADD, ...f64c(0), F64_MAX, ...f64c(1), F64_MIN, F64_MUL, F32_DEMOTE_F64);
  } else if (activation === 'HardSigmoid') {
    inner.push(F64_PROMOTE_F32, ...get(E_P0), F64_MUL, ...get(E_P1), F64_ADD, ...f64c(0), F64_MAX, ...f64c(1), F64_MIN, F32_DEMOTE_F64);
  }
  inner.push(F32_STORE, 2, 0, ...addConst(E_DST, 4), ...get(E_SRC), ...get(E_LDC), I32_ADD, ...set(E_SRC));
  const col: number[] = [
    ...get(E_OUT), ...set(E_DST), ...get(E_OUT), ...get(E_OSTRIDE), I32_ADD, ...set(E_OUT),
    ...get(E_SCALES), F64_LOAD, 3, 0, ...set(E_S), ...addConst(E_SCALES, 8),
    ...get(E_BIAS), F32_LOAD, 2, 0, ...set(E_B), ...addConst(E_BIAS, 4),
    ...get(E_COLPTR), ...set(E_SRC), ...addConst(E_COLPTR, 4),
    ...get(E_ROWS), ...set(E_R), ...countedLoop(E_R, inner),
  ];
  return [...get(E_ACC), ...set(E_COLPTR), ...countedLoop(E_COLS, col), END];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const locals = vec([
    [...uleb(8), T_I32],
    [...uleb(14), T_V128],
  ]);
  const fn = [...locals, ...gemmBody()];
  const qLocals = vec([[...uleb(7), T_V128]]);
  const quantizeCodes = [...qLocals, ...quantizeBody(false)];
  const quantizeFloats = [...qLocals, ...quantizeBody(true)];
  const pLocals = vec([[...uleb(5), T_I32]]);
  const packChannels = [...pLocals, ...packChannelsBody()];
  const packRows = [...pLocals, ...packRowsBody()];
  const eLocals = vec([
    [...uleb(4), T_I32],
    [...uleb(1), T_F64],
    [...uleb(1), T_F32],
    [...uleb(1), T_F64],
  ]);
  const epilogues = EPILOGUE_ACTIVATIONS.map((a) => [...eLocals, ...epilogueBody(a)]);
  const types = section(1, vec([
    [0x60, ...vec([[T_I32], [T_I32], [T_I32], [T_I32], [T_I32], [T_I32], [T_I32]]), 0],
    [0x60, ...vec([[T_I32], [T_I32], [T_I32], [T_F32], [T_F32], [T_F32], [T_F32]]), 0],
    [0x60, ...vec([[T_I32], [T_I32], [T_I32], [T_I32], [T_I32]]), 0],
    [0x60, ...vec([[T_I32], [T_I32], [T_I32], [T_I32], [T_I32], [T_I32], [T_I32], [T_I32], [T_F64], [T_F64]]), 0],
  ]));
  const imports = section(2, vec([[...utf8('m'), ...utf8('mem'), 0x02, 0x00, 0x01]]));
  const functions = section(3, vec([[0], [1], [1], [2], [2], ...EPILOGUE_ACTIVATIONS.map(() => [3])]));
  const exports = section(7, vec([
    [...utf8('gemm'), 0x00, 0],
    [...utf8('codes'), 0x00, 1],
    [...utf8('fake'), 0x00, 2],
    [...utf8('packChannels'), 0x00, 3],
    [...utf8('packRows'), 0x00, 4],
    ...EPILOGUE_ACTIVATIONS.map((_, i) => [...utf8(`epilogue${i}`), 0x00, 5 + i]),
  ]));
  const bodies = [fn, quantizeCodes, quantizeFloats, packChannels, packRows, ...epilogues];
  const code = section(10, vec(bodies.map((b) => [...uleb(b.length), ...b])));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}

type GemmExport = (kp: number, a: number, b: number, mTiles: number, nTiles: number, c: number, ldc: number) => void;
type QuantizeExport = (src: number, dst: number, groups: number, s: number, qlo: number, qhi: number, nan: number) => void;
type PackExport = (src: number, stride: number, panels: number, kp: number, dst: number) => void;
type EpilogueExport = (acc: number, ldc: number, rows: number, cols: number, out: number, ostride: number, scales: number, bias: number, p0: number, p1: number) => void;

/** The kernel instance: its memory and typed views (replaced when the memory grows). */
class Int8GemmInstance {
  readonly memory: WebAssembly.Memory;
  readonly run: GemmExport;
  readonly codes: QuantizeExport;
  readonly fake: QuantizeExport;
  readonly packChannels: PackExport;
  readonly packRows: PackExport;
  readonly epilogues: EpilogueExport[];
  f64: Float64Array;
  f32: Float32Array;
  i8: Int8Array;
  i16: Int16Array;
  i32: Int32Array;

  constructor(mod: WebAssembly.Module) {
    this.memory = new WebAssembly.Memory({ initial: 16 });
    const instance = new WebAssembly.Instance(mod, { m: { mem: this.memory } });
    this.run = instance.exports['gemm'] as GemmExport;
    this.codes = instance.exports['codes'] as QuantizeExport;
    this.fake = instance.exports['fake'] as QuantizeExport;
    this.packChannels = instance.exports['packChannels'] as PackExport;
    this.packRows = instance.exports['packRows'] as PackExport;
    this.epilogues = EPILOGUE_ACTIVATIONS.map((_, i) => instance.exports[`epilogue${i}`] as EpilogueExport);
    this.f64 = new Float64Array(this.memory.buffer);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i8 = new Int8Array(this.memory.buffer);
    this.i16 = new Int16Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(Math.ceil((bytes - have) / 65536));
    this.f32 = new Float32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    this.i8 = new Int8Array(this.memory.buffer);
    this.i16 = new Int16Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }
}

let instance: Int8GemmInstance | null | undefined;
/** Tests turn the fast path off to compare it with the float fallback. */
let enabled = true;

function kernelInstance(): Int8GemmInstance | null {
  if (instance === undefined) {
    instance = null;
    try {
      const bytes = moduleBytes();
      if (typeof WebAssembly === 'object' && WebAssembly.validate(bytes)) instance = new Int8GemmInstance(new WebAssembly.Module(bytes));
    } catch {
      instance = null;
    }
  }
  return instance;
}

/** Whether the integer GEMM can run here (WebAssembly SIMD present and not switched off). */
export function int8GemmAvailable(): boolean {
  return enabled && kernelInstance() !== null;
}

/** Switch the integer GEMM off (callers then take their float paths) or back on; returns whether it is available. */
export function setInt8Gemm(on: boolean): boolean {
  enabled = on;
  return int8GemmAvailable();
}

/**
 * Fills A panels for rows [row0, row0 + rows) into `dst` (int16, from index `at`, already zeroed): the value of
 * A[row0 + r, kk] goes to dst[at + ((r >> 2) * kp + (kk >> 1)) * 8 + (r & 3) * 2 + (kk & 1)].
 */
export type PackRowsA = (dst: Int16Array, at: number, kp: number, row0: number, rows: number) => void;

/**
 * A PackRowsA for a row-major [m, k] matrix of small integers starting at `offset` of `src`, each minus `zero`
 * (a zero point; the results must fit int16).
 */
export function rowMajorRows(src: ArrayLike<number>, offset: number, k: number, zero = 0): PackRowsA {
  return (dst, at, kp, row0, rows) => {
    const kp8 = kp * 8;
    for (let r = 0; r < rows; r++) {
      const from = offset + (row0 + r) * k;
      const base = at + (r >> 2) * kp8 + (r & 3) * 2;
      for (let q = 0; q < k; q++) dst[base + (q >> 1) * 8 + (q & 1)] = src[from + q]! - zero;
    }
  };
}

/**
 * Consumes ACC for rows [row0, row0 + rows): ACC[row0 + r, col] is acc[at + r * ldc + col] (int32, exact), for
 * col < N (columns past N are padding).
 */
export type ConsumeRows = (acc: Int32Array, at: number, ldc: number, row0: number, rows: number) => void;

/**
 * The wasm epilogue of a convolution (ACC rows = output positions, columns = output channels): writes
 * out[outOffset + c * m + row] = act(float32(float32(ACC[row, c] * scales[c]) + bias[c])) for every row < m
 * and column c < N, i.e. the [N, m] channel-major output block, in one copy at the end. `activation` is one of
 * EPILOGUE_ACTIVATIONS; `params` are HardSigmoid's alpha and beta.
 */
export interface ChannelEpilogue {
  /** Scales and biases of the N columns start at index `first` of these arrays. */
  readonly scales: Float64Array;
  readonly bias: Float32Array;
  readonly first: number;
  /** N: the number of columns. */
  readonly columns: number;
  readonly activation: (typeof EPILOGUE_ACTIVATIONS)[number];
  readonly params: readonly number[];
  readonly out: Float32Array;
  readonly outOffset: number;
}

/** Bytes of the epilogue regions (output block, scales, bias) for m rows and n columns. */
function epilogueBytes(m: number, n: number): number {
  return roundUp16(4 * m * n) + roundUp16(8 * n) + roundUp16(4 * n);
}

/** Stage scales and bias at `at`; returns [outAt, scalesAt, biasAt]. */
function stageEpilogue(inst: Int8GemmInstance, at: number, m: number, e: ChannelEpilogue): [number, number, number] {
  const n = e.columns;
  const outAt = at;
  const scalesAt = outAt + roundUp16(4 * m * n);
  const biasAt = scalesAt + roundUp16(8 * n);
  inst.f64.set(e.scales.subarray(e.first, e.first + n), scalesAt >> 3);
  inst.f32.set(e.bias.subarray(e.first, e.first + n), biasAt >> 2);
  return [outAt, scalesAt, biasAt];
}

function runEpilogue(inst: Int8GemmInstance, e: ChannelEpilogue, cAt: number, ldc: number, row0: number, rows: number, m: number, where: [number, number, number]): void {
  const index = EPILOGUE_ACTIVATIONS.indexOf(e.activation);
  inst.epilogues[index]!(cAt, ldc * 4, rows, e.columns, where[0] + 4 * row0, 4 * m, where[1], where[2], e.params[0] ?? 0, e.params[1] ?? 0);
}

function finishEpilogue(inst: Int8GemmInstance, e: ChannelEpilogue, m: number, where: [number, number, number]): void {
  const start = where[0] >> 2;
  e.out.set(inst.f32.subarray(start, start + m * e.columns), e.outOffset);
}

/** Rows of A processed per kernel call (A panels and ACC of a block stay in L2). */
const ROW_BLOCK = 128;

/**
 * ACC = A (m x K, packed per row block by `packA`) times B (packed), handed to `consume` one row block at a
 * time. Requires `int8GemmAvailable()` and B.k <= INT8_GEMM_MAX_K.
 */
export function int8Gemm(m: number, b: PackedInt8B, packA: PackRowsA, consume: ConsumeRows | ChannelEpilogue): void {
  const inst = kernelInstance();
  if (!inst) throw new Error('int8Gemm: WebAssembly SIMD is not available (check int8GemmAvailable() first)');
  if (b.k > INT8_GEMM_MAX_K) throw new Error(`int8Gemm: K = ${b.k} exceeds ${INT8_GEMM_MAX_K}, where int32 accumulation stays exact`);
  if (m === 0 || b.n === 0) return;
  const { kp, panels } = b;
  const block = Math.min(ROW_BLOCK, Math.ceil(m / INT8_GEMM_MR) * INT8_GEMM_MR);
  const ldc = panels * INT8_GEMM_NR;
  const aBytes = block * kp * 4;
  const cBytes = block * ldc * 4;
  const aAt = 0;
  const cAt = aBytes;
  const bAt = cAt + cBytes;
  const eAt = roundUp16(bAt + b.data.length);
  const epilogue = typeof consume === 'function' ? undefined : consume;
  if (epilogue && epilogue.columns !== b.n) throw new Error(`int8Gemm: the epilogue has ${epilogue.columns} columns, B has ${b.n}`);
  inst.reserve(eAt + (epilogue ? epilogueBytes(m, b.n) : 0));
  inst.i8.set(b.data, bAt);
  const where = epilogue ? stageEpilogue(inst, eAt, m, epilogue) : undefined;
  const aIndex = aAt >> 1;
  const cIndex = cAt >> 2;
  for (let row0 = 0; row0 < m; row0 += block) {
    const rows = Math.min(block, m - row0);
    const tiles = Math.ceil(rows / INT8_GEMM_MR);
    const a = inst.i16;
    a.fill(0, aIndex, aIndex + tiles * kp * 8);
    packA(a, aIndex, kp, row0, rows);
    if (kp > 0) inst.run(kp, aAt, bAt, tiles, panels, cAt, ldc * 4);
    else inst.i32.fill(0, cIndex, cIndex + tiles * INT8_GEMM_MR * ldc);
    if (epilogue) runEpilogue(inst, epilogue, cAt, ldc, row0, rows, m, where!);
    else (consume as ConsumeRows)(inst.i32, cIndex, ldc, row0, rows);
  }
  if (epilogue) finishEpilogue(inst, epilogue, m, where!);
}

/** Code range of an activation quantization: codes relative to the zero point lie in [qlo, qhi]; NaN gets `nan`. */
export interface CodeRange {
  /** A float32 value (an X_scale tensor's element): the SIMD quantizer holds it as float32. */
  readonly scale: number;
  readonly qlo: number;
  readonly qhi: number;
  readonly nan: number;
}

/** Values quantized per wasm call (bounds the scratch the quantizer adds to the kernel memory). */
const QUANTIZE_CHUNK = 1 << 16;

function quantizeThrough(x: Float32Array, offset: number, n: number, r: CodeRange, out: Int16Array | Float32Array): void {
  const inst = kernelInstance();
  if (!inst) throw new Error('quantizeCodes: WebAssembly SIMD is not available (check int8GemmAvailable() first)');
  const asFloat = out instanceof Float32Array;
  // the quantizer's region sits above everything int8Gemm uses at the moment (it is not live during a GEMM)
  const src = 0;
  const dst = QUANTIZE_CHUNK * 4;
  inst.reserve(dst + QUANTIZE_CHUNK * 4);
  for (let at = 0; at < n; at += QUANTIZE_CHUNK) {
    const count = Math.min(QUANTIZE_CHUNK, n - at);
    inst.f32.set(x.subarray(offset + at, offset + at + count), 0);
    const groups = Math.ceil(count / 8);
    // the tail group reads up to 7 stale values past `count`; their codes are never copied out
    if (asFloat) {
      inst.fake(src, dst, groups, r.scale, r.qlo, r.qhi, r.nan);
      out.set(inst.f32.subarray(dst >> 2, (dst >> 2) + count), at);
    } else {
      inst.codes(src, dst, groups, r.scale, r.qlo, r.qhi, r.nan);
      out.set(inst.i16.subarray(dst >> 1, (dst >> 1) + count), at);
    }
  }
}

/**
 * out[i] = the code of x[offset + i] relative to the zero point, clamp(roundHalfEven(fround(x / s)) + z) - z
 * (NaN: -z), for i < n: the q of fakeQuantize, 8 values per SIMD step. Must not run inside an int8Gemm callback.
 */
export function quantizeCodes(x: Float32Array, offset: number, n: number, r: CodeRange, out: Int16Array): void {
  quantizeThrough(x, offset, n, r, out);
}

/** out[i] = code(x[offset + i]) * s rounded to float32: fakeQuantize (bit for bit) with SIMD. */
export function fakeQuantizeSimd(x: Float32Array, offset: number, n: number, r: CodeRange, out: Float32Array): void {
  quantizeThrough(x, offset, n, r, out);
}

/** How A's codes are laid out when int8GemmQuantized stages them: channel-major (a convolution's input planes) or row-major. */
export type StagedLayout = { readonly kind: 'channels'; readonly ld: number } | { readonly kind: 'rows' };

function roundUp16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

/**
 * ACC = A times B (packed) with A quantized from x[offset, offset + n) straight into the kernel memory and
 * packed there by the wasm packers (no JavaScript loop touches an element):
 *   - 'channels': A[pos, k] = code(x[offset + k * ld + pos]) for pos < m <= ld (n = K * ld): a 1x1 convolution's
 *     input planes, positions as rows;
 *   - 'rows': A[row, k] = code(x[offset + row * K + k]) (n = m * K).
 * `consume` gets ACC one row block at a time as in int8Gemm. Requires int8GemmAvailable().
 */
export function int8GemmQuantized(x: Float32Array, offset: number, n: number, range: CodeRange, m: number, b: PackedInt8B, layout: StagedLayout, consume: ConsumeRows | ChannelEpilogue): void {
  const inst = kernelInstance();
  if (!inst) throw new Error('int8GemmQuantized: WebAssembly SIMD is not available (check int8GemmAvailable() first)');
  const K = b.k;
  if (K > INT8_GEMM_MAX_K) throw new Error(`int8GemmQuantized: K = ${K} exceeds ${INT8_GEMM_MAX_K}, where int32 accumulation stays exact`);
  const expected = layout.kind === 'channels' ? K * layout.ld : m * K;
  if (n !== expected || (layout.kind === 'channels' && m > layout.ld)) {
    throw new Error(`int8GemmQuantized: ${n} values do not form the ${layout.kind} layout of A (m ${m}, K ${K}${layout.kind === 'channels' ? `, ld ${layout.ld}` : ''})`);
  }
  if (m === 0 || b.n === 0) return;
  const { kp, panels } = b;
  const block = Math.min(ROW_BLOCK, Math.ceil(m / INT8_GEMM_MR) * INT8_GEMM_MR);
  const ldc = panels * INT8_GEMM_NR;
  // the packers read up to one channel (or four rows) plus a few codes past the end: zeroed slack
  const slack = layout.kind === 'channels' ? 2 * layout.ld + 64 : 8 * K + 64;
  const codesAt = 0;
  const codesBytes = roundUp16(2 * n + slack);
  const chunk = Math.min(n, QUANTIZE_CHUNK);
  const qAt = codesAt + codesBytes;
  const aAt = qAt + roundUp16(4 * chunk + 32);
  const cAt = aAt + block * kp * 4;
  const bAt = cAt + block * ldc * 4;
  const eAt = roundUp16(bAt + b.data.length);
  const epilogue = typeof consume === 'function' ? undefined : consume;
  if (epilogue && epilogue.columns !== b.n) throw new Error(`int8Gemm: the epilogue has ${epilogue.columns} columns, B has ${b.n}`);
  inst.reserve(eAt + (epilogue ? epilogueBytes(m, b.n) : 0));
  inst.i8.set(b.data, bAt);
  const where = epilogue ? stageEpilogue(inst, eAt, m, epilogue) : undefined;
  for (let at = 0; at < n; at += QUANTIZE_CHUNK) {
    const count = Math.min(QUANTIZE_CHUNK, n - at);
    inst.f32.set(x.subarray(offset + at, offset + at + count), qAt >> 2);
    // whole groups of 8: the tail's extra codes land where the next chunk (or the slack) goes
    inst.codes(qAt, codesAt + 2 * at, Math.ceil(count / 8), range.scale, range.qlo, range.qhi, range.nan);
  }
  inst.i16.fill(0, (codesAt >> 1) + n, (codesAt + codesBytes) >> 1);
  const cIndex = cAt >> 2;
  for (let row0 = 0; row0 < m; row0 += block) {
    const rows = Math.min(block, m - row0);
    const tiles = Math.ceil(rows / INT8_GEMM_MR);
    if (kp > 0) {
      if (layout.kind === 'channels') inst.packChannels(codesAt + 2 * row0, 2 * layout.ld, tiles, kp, aAt);
      else inst.packRows(codesAt + 2 * row0 * K, 2 * K, tiles, kp, aAt);
      inst.run(kp, aAt, bAt, tiles, panels, cAt, ldc * 4);
    } else {
      inst.i32.fill(0, cIndex, cIndex + tiles * INT8_GEMM_MR * ldc);
    }
    if (epilogue) runEpilogue(inst, epilogue, cAt, ldc, row0, rows, m, where!);
    else (consume as ConsumeRows)(inst.i32, cIndex, ldc, row0, rows);
  }
  if (epilogue) finishEpilogue(inst, epilogue, m, where!);
}
