/**
 * Layer-wise least-squares reconstruction of a pruned layer ("refit"): after a mask has zeroed some weights of a
 * Conv / MatMul / Gemm, the surviving weights of each output are solved again so that the layer's output on
 * calibration inputs matches what the dense layer produced. The mask is not changed; only the kept weights
 * (and the bias, when the layer has one) move.
 *
 * The problem for one output o with kept reduction positions S (plus the bias column when there is one):
 *
 *     minimize over w_S:   (1/N) sum over rows r of (x_r,S . w_S - y_r,o)^2  +  lambda * |w_S - w0_S|^2
 *
 * where a row r is one output position of one calibration input (for a Conv: the im2col patch of the
 * receptive field, a trailing 1 for the bias), x comes from the pruned network (or the dense one), y_r,o is
 * the dense layer's output on the dense network's input, and w0 is the masked weight before the refit (so a
 * large lambda returns the plain masked layer, lambda -> 0 the unregularized least-squares fit). Its normal
 * equations are
 *
 *     (H_SS + lambda I) w_S = c_S,o + lambda w0_S,     H = (1/N) X^T X,  c_o = (1/N) X^T y_o,
 *
 * so only the Gram matrix H (R x R per group, R = reduction + bias column) and the cross moments c (R per
 * output) are accumulated over the rows, never X itself. lambda = damp * mean(diag(H_SS)) scales with the
 * layer's input energy (the SparseGPT "percdamp" convention). The system is symmetric positive definite
 * (lambda > 0) and is solved by a Cholesky factorization in float64.
 *
 * Cost: accumulation R^2 / 2 + R * (outputs per group) multiply-adds per row (zero inputs skipped, which
 * after ReLU is a large share); each solve |S|^3 / 6 for the factorization (shared by consecutive outputs of a
 * group with the same kept set, as in structured pruning) plus |S|^2 for the substitutions. The plain-loop
 * twin is ./refit-reference.ts.
 */
import { TesseraError } from '../tensor/errors.js';

/** Geometry of a 2-D Conv (NCHW input, [M, C/group, kh, kw] weight). */
export interface ConvGeometry {
  readonly group: number;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  /** [top, left, bottom, right] (the ONNX order x1_begin, x2_begin, x1_end, x2_end). */
  readonly pads: readonly [number, number, number, number];
  readonly dilations: readonly [number, number];
}

/** Accumulated statistics of one layer: per group H (R x R, upper triangle filled) and c (R x outputs). */
export interface RefitProblem {
  readonly groups: number;
  /** Reduction length per output (weights only). */
  readonly reduction: number;
  readonly outputsPerGroup: number;
  /** True when the last column of each row is the constant 1 of a bias. */
  readonly bias: boolean;
  /** R = reduction + (bias ? 1 : 0). */
  readonly width: number;
  /** Sum of x x^T per group (row-major R x R; only j >= i is accumulated until `finish`). */
  readonly gram: Float64Array[];
  /** Sum of x y_o per group (row-major R x outputsPerGroup). */
  readonly cross: Float64Array[];
  /** Sum of y_o^2 per output (for the relative error). */
  readonly targetEnergy: Float64Array;
  /** Rows accumulated (output positions of all inputs; the same in every group). */
  rows: number;
}

/** An empty problem for a layer of `groups` x `outputsPerGroup` outputs with `reduction` weights each. */
export function newRefitProblem(groups: number, outputsPerGroup: number, reduction: number, bias: boolean): RefitProblem {
  if (!(groups >= 1 && outputsPerGroup >= 1 && reduction >= 1)) throw new TesseraError(`refit: a layer needs at least one group, output and weight, got ${groups} groups x ${outputsPerGroup} outputs x ${reduction} weights`);
  const width = reduction + (bias ? 1 : 0);
  return {
    groups,
    reduction,
    outputsPerGroup,
    bias,
    width,
    gram: Array.from({ length: groups }, () => new Float64Array(width * width)),
    cross: Array.from({ length: groups }, () => new Float64Array(width * outputsPerGroup)),
    targetEnergy: new Float64Array(groups * outputsPerGroup),
    rows: 0,
  };
}

/**
 * Add one row: `x` (length R, the pruned network's patch with a trailing 1 when biased) and the dense targets
 * `y` (length outputsPerGroup) of group `g`. Zero entries of x are skipped.
 */
function addRow(p: RefitProblem, g: number, x: Float64Array, y: Float64Array): void {
  const R = p.width;
  const M = p.outputsPerGroup;
  const H = p.gram[g]!;
  const C = p.cross[g]!;
  for (let i = 0; i < R; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const row = i * R;
    for (let j = i; j < R; j++) H[row + j]! += xi * x[j]!;
    const crow = i * M;
    for (let o = 0; o < M; o++) C[crow + o]! += xi * y[o]!;
  }
  const e = p.targetEnergy;
  for (let o = 0; o < M; o++) e[g * M + o]! += y[o]! * y[o]!;
}

/** Output size of one spatial axis of a Conv. */
function convOut(size: number, k: number, stride: number, padBegin: number, padEnd: number, dilation: number): number {
  return Math.floor((size + padBegin + padEnd - ((k - 1) * dilation + 1)) / stride) + 1;
}

/**
 * Accumulate a Conv layer on one batch: `xp` is the layer input from the pruned network, `xd` the same input
 * from the dense network (both NCHW with `dims`), `w` / `b` the dense weights and bias that define the target
 * y = conv(xd, w) + b. Rows are the im2col patches of xp (zero padding), one per output position and group.
 */
export function accumulateConv(p: RefitProblem, xp: ArrayLike<number>, xd: ArrayLike<number>, dims: readonly number[], geo: ConvGeometry, w: ArrayLike<number>, b: ArrayLike<number> | undefined): void {
  const [n, c, h, wd] = dims as [number, number, number, number];
  const { group } = geo;
  const [kh, kw] = geo.kernel;
  const [sh, sw] = geo.strides;
  const [pt, pl, pb, pr] = geo.pads;
  const [dh, dw] = geo.dilations;
  const cg = c / group;
  if (dims.length !== 4 || group !== p.groups || !Number.isInteger(cg) || cg * kh * kw !== p.reduction || (b !== undefined) !== p.bias) {
    throw new TesseraError(`refit: Conv input [${dims.join(', ')}] with group ${group} and kernel ${kh}x${kw} does not match a problem of ${p.groups} groups x ${p.reduction} weights${p.bias ? ' + bias' : ''}`);
  }
  const oh = convOut(h, kh, sh, pt, pb, dh);
  const ow = convOut(wd, kw, sw, pl, pr, dw);
  const R = p.width;
  const M = p.outputsPerGroup;
  const xrow = new Float64Array(R);
  const drow = new Float64Array(p.reduction);
  const y = new Float64Array(M);
  if (p.bias) xrow[R - 1] = 1;
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < group; g++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          // gather the receptive field of (oy, ox) for this group's input channels, zero where padded
          let at = 0;
          for (let ci = 0; ci < cg; ci++) {
            const plane = (img * c + g * cg + ci) * h * wd;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - pt + ky * dh;
              for (let kx = 0; kx < kw; kx++, at++) {
                const ix = ox * sw - pl + kx * dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                  xrow[at] = 0;
                  drow[at] = 0;
                } else {
                  xrow[at] = xp[plane + iy * wd + ix]!;
                  drow[at] = xd[plane + iy * wd + ix]!;
                }
              }
            }
          }
          // dense target of the group's outputs
          for (let o = 0; o < M; o++) {
            const wo = (g * M + o) * p.reduction;
            let s = b ? b[g * M + o]! : 0;
            for (let i = 0; i < p.reduction; i++) s += w[wo + i]! * drow[i]!;
            y[o] = s;
          }
          addRow(p, g, xrow, y);
        }
      }
    }
  }
  p.rows += n * oh * ow;
}

/** How a channel-pruned Conv's channels map onto the dense Conv's (see accumulateConvMapped). */
export interface ChannelMap {
  /** Dense input dims (NCHW) and the dense Conv's group. */
  readonly denseDims: readonly number[];
  readonly denseGroup: number;
  /** For each pruned input channel, the dense channel it is; for each pruned output, the dense output it is. */
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

/**
 * accumulateConv for a Conv whose input and output channels are a subset of the dense Conv's (structured
 * pruning): rows are the im2col patches of the pruned input `xp` (dims `dims`, geometry `geo` of the pruned
 * Conv), targets are the dense Conv (weight `w` [M, C/denseGroup, kh, kw], bias `b`) evaluated on the dense
 * input `xd` at the dense outputs `map.outputs`. Supported: group-1 Convs (any subsets) and depthwise Convs
 * (one input channel per group, multiplier 1, map.inputs == map.outputs). Equal to accumulateConv on the
 * dense-shaped input with the removed channels zero, restricted to the kept rows, columns and outputs.
 */
export function accumulateConvMapped(p: RefitProblem, xp: ArrayLike<number>, dims: readonly number[], geo: ConvGeometry, xd: ArrayLike<number>, map: ChannelMap, w: ArrayLike<number>, b: ArrayLike<number> | undefined): void {
  const [n, c, h, wd] = dims as [number, number, number, number];
  const [, cD, hD, wD] = map.denseDims as [number, number, number, number];
  const [kh, kw] = geo.kernel;
  const depthwise = map.denseGroup > 1;
  if (dims.length !== 4 || map.denseDims.length !== 4 || hD !== h || wD !== wd || map.inputs.length !== c || (depthwise ? geo.group !== c || map.denseGroup !== cD || map.outputs.length !== c : geo.group !== 1 || map.denseGroup !== 1)) {
    throw new TesseraError(`refit: a channel map from [${map.denseDims.join(', ')}] (group ${map.denseGroup}) to [${dims.join(', ')}] (group ${geo.group}) is neither group-1 nor depthwise with matching spatial size`);
  }
  const cg = depthwise ? 1 : c;
  const cgD = depthwise ? 1 : cD;
  const M = p.outputsPerGroup;
  if (p.groups !== geo.group || p.reduction !== cg * kh * kw || M * geo.group !== map.outputs.length || (b !== undefined) !== p.bias) {
    throw new TesseraError(`refit: pruned Conv [${dims.join(', ')}] with group ${geo.group} does not match a problem of ${p.groups} groups x ${p.reduction} weights`);
  }
  const [sh, sw] = geo.strides;
  const [pt, pl, pb, pr] = geo.pads;
  const [dh, dw] = geo.dilations;
  const oh = convOut(h, kh, sh, pt, pb, dh);
  const ow = convOut(wd, kw, sw, pl, pr, dw);
  const R = p.width;
  const redD = cgD * kh * kw;
  const xrow = new Float64Array(R);
  const drow = new Float64Array(redD);
  const y = new Float64Array(M);
  if (p.bias) xrow[R - 1] = 1;
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < geo.group; g++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let at = 0;
          for (let ci = 0; ci < cg; ci++) {
            const plane = (img * c + g * cg + ci) * h * wd;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - pt + ky * dh;
              for (let kx = 0; kx < kw; kx++, at++) {
                const ix = ox * sw - pl + kx * dw;
                xrow[at] = iy < 0 || iy >= h || ix < 0 || ix >= wd ? 0 : xp[plane + iy * wd + ix]!;
              }
            }
          }
          // the dense receptive field: all dense channels (group 1) or the one dense channel of this group
          at = 0;
          for (let ci = 0; ci < cgD; ci++) {
            const plane = (img * cD + (depthwise ? map.inputs[g]! : ci)) * h * wd;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - pt + ky * dh;
              for (let kx = 0; kx < kw; kx++, at++) {
                const ix = ox * sw - pl + kx * dw;
                drow[at] = iy < 0 || iy >= h || ix < 0 || ix >= wd ? 0 : xd[plane + iy * wd + ix]!;
              }
            }
          }
          for (let o = 0; o < M; o++) {
            const od = map.outputs[g * M + o]!;
            let s = b ? b[od]! : 0;
            for (let i = 0; i < redD; i++) s += w[od * redD + i]! * drow[i]!;
            y[o] = s;
          }
          addRow(p, g, xrow, y);
        }
      }
    }
  }
  p.rows += n * oh * ow;
}

/**
 * Accumulate a MatMul / Gemm layer: `xp` and `xd` are [rows, K] (pruned and dense inputs, any leading dims
 * flattened), the dense weight `w` is [K, N] (`rowMajor` false: MatMul, Gemm without transB) or [N, K]
 * (`rowMajor` true: Gemm transB), `b` an optional [N] bias.
 */
export function accumulateMatMul(p: RefitProblem, xp: ArrayLike<number>, xd: ArrayLike<number>, rows: number, w: ArrayLike<number>, rowMajor: boolean, b: ArrayLike<number> | undefined): void {
  const K = p.reduction;
  const N = p.outputsPerGroup;
  if (p.groups !== 1 || xp.length !== rows * K || xd.length !== rows * K || (b !== undefined) !== p.bias) throw new TesseraError(`refit: MatMul input of ${xp.length} values is not ${rows} rows x ${K}, or the bias does not match the problem`);
  const R = p.width;
  const xrow = new Float64Array(R);
  const y = new Float64Array(N);
  if (p.bias) xrow[R - 1] = 1;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) xrow[k] = xp[r * K + k]!;
    for (let o = 0; o < N; o++) {
      let s = b ? b[o]! : 0;
      for (let k = 0; k < K; k++) s += (rowMajor ? w[o * K + k]! : w[k * N + o]!) * xd[r * K + k]!;
      y[o] = s;
    }
    addRow(p, 0, xrow, y);
  }
  p.rows += rows;
}

/**
 * Cholesky factor L (row-major n x n, lower triangle) of the symmetric positive definite A = L L^T (A row-major
 * n x n, only its upper triangle read); float64. Returns undefined when a pivot is not positive (A not
 * positive definite to working precision).
 */
export function choleskyFactor(a: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= L[j * n + k]! * L[j * n + k]!;
    if (!(d > 0)) return undefined;
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[j * n + i]!; // A[i][j] == A[j][i]: read the upper triangle
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

/** Solve L L^T x = rhs for a factor from choleskyFactor: forward, then back substitution. */
export function choleskySubstitute(L: Float64Array, n: number, rhs: Float64Array): Float64Array {
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = rhs[i]!;
    for (let k = 0; k < i; k++) s -= L[i * n + k]! * z[k]!;
    z[i] = s / L[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!;
    x[i] = s / L[i * n + i]!;
  }
  return x;
}

/**
 * Solve the symmetric positive definite system A x = rhs (A row-major n x n, only its upper triangle read) by
 * Cholesky factorization A = L L^T, forward then back substitution; float64 throughout. Returns undefined
 * when a pivot is not positive (A not positive definite to working precision).
 */
export function choleskySolve(a: Float64Array, n: number, rhs: Float64Array): Float64Array | undefined {
  const L = choleskyFactor(a, n);
  return L ? choleskySubstitute(L, n, rhs) : undefined;
}

/** Weights of a layer seen as [outputs, reduction] (see PrunableWeight in ./prune.ts for the layouts). */
export interface RefitLayout {
  readonly outputs: number;
  readonly reduction: number;
  /** True when output o's reduction is contiguous (Conv, Gemm transB); false for MatMul / Gemm B[K, N]. */
  readonly rowMajor: boolean;
}

/** The refit weights and bias, and the layer's relative output error before and after. */
export interface RefitResult {
  readonly weights: Float32Array;
  readonly bias: Float32Array | undefined;
  /** sum over outputs of the squared output error / sum of squared targets, on the accumulated rows. */
  readonly errorBefore: number;
  readonly errorAfter: number;
}

/**
 * Refit the kept weights of every output (see the file comment). `w0` holds the masked weights (zeros where
 * `removed` is 1), `b0` the bias to start from (required when the problem has a bias column). `damp` >= 0
 * sets lambda = damp * mean(diag(H_SS)); a tiny floor keeps the system definite when an input never fires.
 * Removed positions stay exactly zero.
 */
export function refitLayer(p: RefitProblem, layout: RefitLayout, w0: Float32Array, b0: Float32Array | undefined, removed: Uint8Array, damp: number): RefitResult {
  const { reduction: K, outputsPerGroup: M, width: R } = p;
  if (layout.outputs !== p.groups * M || layout.reduction !== K || w0.length !== layout.outputs * K || removed.length !== w0.length) {
    throw new TesseraError(`refit: weights of ${w0.length} values as ${layout.outputs} x ${layout.reduction} do not match a problem of ${p.groups * M} outputs x ${K} weights`);
  }
  if (p.bias !== (b0 !== undefined)) throw new TesseraError(`refit: the problem ${p.bias ? 'has' : 'has no'} bias column but the layer ${b0 ? 'has' : 'has no'} bias`);
  if (!(damp >= 0)) throw new TesseraError(`refit: damp must be >= 0, got ${damp}`);
  if (p.rows === 0) throw new TesseraError('refit: no rows were accumulated');
  const at = (o: number, r: number): number => (layout.rowMajor ? o * K + r : r * layout.outputs + o);
  const weights = Float32Array.from(w0);
  const bias = b0 ? Float32Array.from(b0) : undefined;
  const inv = 1 / p.rows;
  let before = 0;
  let after = 0;
  let energy = 0;
  const idx = new Int32Array(R);
  for (let g = 0; g < p.groups; g++) {
    const H = p.gram[g]!;
    const C = p.cross[g]!;
    const h = (i: number, j: number): number => (i <= j ? H[i * R + j]! : H[j * R + i]!) * inv;
    let factored: { n: number; idx: Int32Array; L: Float64Array | undefined } | undefined;
    for (let m = 0; m < M; m++) {
      const o = g * M + m;
      let n = 0;
      for (let r = 0; r < K; r++) if (!removed[at(o, r)]) idx[n++] = r;
      if (p.bias) idx[n++] = K;
      const start = new Float64Array(n);
      for (let i = 0; i < n; i++) start[i] = idx[i]! === K ? b0![o]! : w0[at(o, idx[i]!)]!;
      const yy = p.targetEnergy[o]! * inv;
      energy += yy;
      // squared error of a candidate v on the kept set: v^T H v - 2 v^T c + y^T y
      const err = (v: Float64Array): number => {
        let q = 0;
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += h(idx[i]!, idx[j]!) * v[j]!;
          q += v[i]! * (s - 2 * C[idx[i]! * M + m]! * inv);
        }
        return Math.max(0, q + yy);
      };
      const e0 = err(start);
      before += e0;
      if (n === 0) {
        after += e0;
        continue;
      }
      let diag = 0;
      for (let i = 0; i < n; i++) diag += h(idx[i]!, idx[i]!);
      const lambda = Math.max(damp * (diag / n), 1e-12 * (diag / n) + 1e-30);
      const rhs = new Float64Array(n);
      for (let i = 0; i < n; i++) rhs[i] = C[idx[i]! * M + m]! * inv + lambda * start[i]!;
      // outputs of a group with the same kept set (no mask, structured pruning) share one factorization
      const same = factored !== undefined && factored.n === n && factored.idx.every((v, i) => v === idx[i]);
      if (!same) {
        const A = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = i; j < n; j++) A[i * n + j] = h(idx[i]!, idx[j]!);
          A[i * n + i]! += lambda;
        }
        factored = { n, idx: idx.slice(0, n), L: choleskyFactor(A, n) };
      }
      const v = factored!.L ? choleskySubstitute(factored!.L, n, rhs) : undefined;
      // keep the start when the solve failed or (float rounding) did not improve the layer's output
      const e1 = v ? err(v) : Infinity;
      if (!v || !(e1 <= e0)) {
        after += e0;
        continue;
      }
      after += e1;
      for (let i = 0; i < n; i++) {
        if (idx[i]! === K) bias![o] = v[i]!;
        else weights[at(o, idx[i]!)] = v[i]!;
      }
    }
  }
  return { weights, bias, errorBefore: energy > 0 ? before / energy : 0, errorAfter: energy > 0 ? after / energy : 0 };
}
