/**
 * Plain twin of ./refit.ts for the property tests: the rows of a Conv layer are built one by one from the
 * convolution's definition (output position, group, input channel, kernel tap, zero outside the input), kept
 * as an explicit matrix X with its dense targets Y, and each output's ridge problem is solved from the normal
 * equations formed entry by entry from X and closed by Gaussian elimination with partial pivoting. Slow by
 * design; never used by the passes.
 */
import type { ConvGeometry } from './refit.js';

/** Explicit rows of a layer: X (rows x width, a trailing 1 when biased) per group and dense targets Y (rows x outputs per group). */
export interface ExplicitRows {
  readonly x: number[][][];
  readonly y: number[][][];
}

/** Rows of a Conv layer built from the definition (see the file comment); `xp` pruned input, `xd` dense input. */
export function convRowsReference(xp: ArrayLike<number>, xd: ArrayLike<number>, dims: readonly number[], geo: ConvGeometry, w: ArrayLike<number>, b: ArrayLike<number> | undefined, outputs: number): ExplicitRows {
  const [n, c, h, wd] = dims as [number, number, number, number];
  const cg = c / geo.group;
  const mg = outputs / geo.group;
  const [kh, kw] = geo.kernel;
  const oh = Math.floor((h + geo.pads[0] + geo.pads[2] - ((kh - 1) * geo.dilations[0] + 1)) / geo.strides[0]) + 1;
  const ow = Math.floor((wd + geo.pads[1] + geo.pads[3] - ((kw - 1) * geo.dilations[1] + 1)) / geo.strides[1]) + 1;
  const read = (v: ArrayLike<number>, img: number, ch: number, iy: number, ix: number): number => (iy < 0 || iy >= h || ix < 0 || ix >= wd ? 0 : v[((img * c + ch) * h + iy) * wd + ix]!);
  const x: number[][][] = [];
  const y: number[][][] = [];
  for (let g = 0; g < geo.group; g++) {
    const xs: number[][] = [];
    const ys: number[][] = [];
    for (let img = 0; img < n; img++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const row: number[] = [];
          const dense: number[] = [];
          for (let ci = 0; ci < cg; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * geo.strides[0] - geo.pads[0] + ky * geo.dilations[0];
                const ix = ox * geo.strides[1] - geo.pads[1] + kx * geo.dilations[1];
                row.push(read(xp, img, g * cg + ci, iy, ix));
                dense.push(read(xd, img, g * cg + ci, iy, ix));
              }
            }
          }
          const targets: number[] = [];
          for (let m = 0; m < mg; m++) {
            const o = g * mg + m;
            let s = b ? b[o]! : 0;
            for (let i = 0; i < dense.length; i++) s += w[o * dense.length + i]! * dense[i]!;
            targets.push(s);
          }
          if (b) row.push(1);
          xs.push(row);
          ys.push(targets);
        }
      }
    }
    x.push(xs);
    y.push(ys);
  }
  return { x, y };
}

/** Solve A v = r by Gaussian elimination with partial pivoting (A is copied). */
export function gaussianSolveReference(a: readonly (readonly number[])[], r: readonly number[]): number[] {
  const n = r.length;
  const m = a.map((row, i) => [...row, r[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let i = col + 1; i < n; i++) if (Math.abs(m[i]![col]!) > Math.abs(m[pivot]![col]!)) pivot = i;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let i = col + 1; i < n; i++) {
      const f = m[i]![col]! / m[col]![col]!;
      for (let j = col; j <= n; j++) m[i]![j]! -= f * m[col]![j]!;
    }
  }
  const v = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i]![n]!;
    for (let j = i + 1; j < n; j++) s -= m[i]![j]! * v[j]!;
    v[i] = s / m[i]![i]!;
  }
  return v;
}

/**
 * The ridge solution for one output from explicit rows: columns `keep` of X, target column `target` of Y,
 * lambda = damp * mean of the kept diagonal of X^T X / N (with the same tiny floor as refitLayer), pulled
 * toward `start`: (X_S^T X_S / N + lambda I) v = X_S^T y / N + lambda start.
 */
export function ridgeRefitReference(x: readonly (readonly number[])[], y: readonly (readonly number[])[], target: number, keep: readonly number[], start: readonly number[], damp: number): number[] {
  const N = x.length;
  const k = keep.length;
  const a: number[][] = [];
  const r: number[] = [];
  let diag = 0;
  for (let i = 0; i < k; i++) {
    const row: number[] = [];
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < N; t++) s += x[t]![keep[i]!]! * x[t]![keep[j]!]!;
      row.push(s / N);
    }
    diag += row[i]!;
    a.push(row);
    let s = 0;
    for (let t = 0; t < N; t++) s += x[t]![keep[i]!]! * y[t]![target]!;
    r.push(s / N);
  }
  const lambda = Math.max(damp * (diag / k), 1e-12 * (diag / k) + 1e-30);
  for (let i = 0; i < k; i++) {
    a[i]![i]! += lambda;
    r[i]! += lambda * start[i]!;
  }
  return gaussianSolveReference(a, r);
}

/** Sum of squared errors of the outputs of group `g` of a layer with weights `w` (rows x [outputs, reduction]) and bias `b`. */
export function outputErrorReference(rows: ExplicitRows, w: ArrayLike<number>, b: ArrayLike<number> | undefined, reduction: number): number {
  let e = 0;
  rows.x.forEach((xs, g) => {
    const mg = rows.y[g]![0]?.length ?? 0;
    xs.forEach((row, t) => {
      for (let m = 0; m < mg; m++) {
        const o = g * mg + m;
        let s = b ? b[o]! : 0;
        for (let i = 0; i < reduction; i++) s += w[o * reduction + i]! * row[i]!;
        e += (s - rows.y[g]![t]![m]!) ** 2;
      }
    });
  });
  return e;
}
