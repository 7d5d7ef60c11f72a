/**
 * GPU kernels for Conv and ConvTranspose (1-D and 2-D; groups, depthwise, dilations, strides, pads).
 *
 * Conv is an implicit GEMM: one thread per output element (n, m, oh, ow) walks its group's C/g input
 * channels and the KH x KW taps, reading the input at (oh*sh - ph + kh*dh, ow*sw - pw + kw*dw) straight from
 * the input texture (taps in the padding are skipped), so no im2col matrix is ever materialized; the bias is
 * added at the end. Depthwise convolution is the case C/g = 1 of the same loop.
 * ConvTranspose gathers instead of scattering: output (oh, ow) receives input (ih, iw) through tap (kh, kw)
 * when oh = ih*sh - ph + kh*dh, so each thread solves for ih and keeps the taps where it is an integer in range.
 * Cost: 2 * N * M * (C/g) * KH * KW * OH * OW flops, one input and one weight fetch per multiply-add.
 *
 * Two register-tiled variants take over when they apply (policy: setGemmTiling in ./gemm-tiled.ts), both
 * writing one RGBA texel = four consecutive outputs per fragment:
 *  - a 1x1 convolution with unit strides, no padding and one group is the batched GEMM
 *    Y[n] = W[M, C] x X[n][C, H*W] (+ bias per row) and runs on the tiled GEMM kernel (vec4 reads of W and X);
 *  - any other Conv runs convQuadSource: the four outputs lie in one (n, m) plane, so each weight tap is
 *    fetched once for all four (5 fetches per 4 multiply-adds instead of 8) and the channel and tap loops
 *    run once per four outputs. When OW is a multiple of 4 or at least 16, the four outputs are neighbours
 *    in one output row (rows padded to a multiple of 4), and with unit horizontal stride and dilation each
 *    tap row's KW + 3 input values are read once (13 fetches instead of 25 per row of a 5x5 kernel).
 *    Narrow outputs take four consecutive positions of the plane instead. A padded layout is computed
 *    with clamped or bounds-checked reads and gathered back by one copy pass.
 * The one-output kernel above stays the fallback (tiny outputs and planes, tiling off) and the twin the
 * tiled variants are tested against.
 * 3-D convolutions run on the host (recorded as host ops).
 */
import type { Attrs, OutputSpec } from '../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { KernelError } from '../../tensor/errors.js';
import { checkIndexRange, int, kernelSource, splitIndex } from './codegen.js';
import { dropColumnsSource, gemmTilingMode, runTiledGemm, tiledCalls, useTiledGemm, type TiledGemm } from './gemm-tiled.js';
import { registerGpuKernel, runOnHost, wrapTexture, type CallScope } from './runtime.js';

interface Geometry {
  n: number;
  c: number;
  h: number;
  w: number;
  m: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  ph: number;
  pw: number;
  group: number;
}

/** Conv geometry with a 1-D convolution seen as 2-D of height 1. */
function geometry(x: Tensor, w: Tensor, spec: OutputSpec, attrs: Attrs): Geometry {
  const two = x.rank === 4;
  const strides = attrs['strides'] as readonly number[];
  const dil = attrs['dilations'] as readonly number[];
  const pads = attrs['pads'] as readonly number[];
  const group = (attrs['group'] as number | undefined) ?? 1;
  const pick = (v: readonly number[], i2: number, i1: number, dflt: number): number => (two ? v[i2]! : i1 < 0 ? dflt : v[i1]!);
  return {
    n: x.dims[0]!,
    c: x.dims[1]!,
    h: two ? x.dims[2]! : 1,
    w: two ? x.dims[3]! : x.dims[2]!,
    m: spec.dims[1]!,
    oh: two ? spec.dims[2]! : 1,
    ow: two ? spec.dims[3]! : spec.dims[2]!,
    kh: two ? w.dims[2]! : 1,
    kw: two ? w.dims[3]! : w.dims[2]!,
    sh: pick(strides, 0, -1, 1),
    sw: pick(strides, 1, 0, 1),
    dh: pick(dil, 0, -1, 1),
    dw: pick(dil, 1, 0, 1),
    ph: pick(pads, 0, -1, 0),
    pw: pick(pads, 1, 0, 0),
    group,
  };
}

/**
 * Whether the four-outputs kernel runs a Conv. 'auto': at least 64 outputs, and a plane that is a multiple
 * of 4 or at least 16 positions (a padded plane computes up to 3 clamped positions and adds a gather pass).
 */
function useConvQuad(g: Geometry): boolean {
  const mode = gemmTilingMode();
  if (mode === 'never') return false;
  const plane = g.oh * g.ow;
  return mode === 'always' || (g.n * g.m * plane >= 64 && (plane % 4 === 0 || plane >= 16));
}

/** Run the four-outputs Conv; a padded layout (rows or plane not a multiple of 4) is gathered back. */
function runConvQuad(scope: CallScope, g: Geometry, hasBias: boolean, args: readonly Tensor[], dims: readonly number[]): Tensor {
  const layout = convQuadLayout(g);
  // the output as [lines, width] padded to [lines, stride]
  const [lines, width] = layout.kind === 'rows' ? [g.n * g.m * g.oh, g.ow] : [g.n * g.m, g.oh * g.ow];
  checkIndexRange(scope.ctx.op, [lines, layout.stride]);
  tiledCalls.conv++;
  const device = scope.device;
  const rendered = device.runQuad(convQuadSource(g, hasBias, layout), lines * layout.stride, args.map((t) => scope.texture(t)));
  if (layout.stride === width) return wrapTexture(device, rendered, dims);
  const wide = wrapTexture(device, rendered, [lines * layout.stride]);
  try {
    return wrapTexture(device, device.run(dropColumnsSource(lines, width, layout.stride), lines * width, [wide.texture]), dims);
  } finally {
    wide.dispose();
  }
}

const spatial12 = (inputs: readonly (Tensor | undefined)[], outputs: readonly OutputSpec[]): boolean =>
  outputs[0]!.type === 'float32' && inputs.every((t) => !t || t.type === 'float32') && (inputs[0]!.rank === 3 || inputs[0]!.rank === 4);

/** Source of the implicit-GEMM convolution. */
export function convSource(g: Geometry, hasBias: boolean): string {
  const cg = g.c / g.group;
  const mg = g.m / g.group;
  const split = splitIndex('i', [g.n, g.m, g.oh, g.ow], 'o');
  const [n, m, oh, ow] = split.coords as [string, string, string, string];
  const lines = [
    split.code,
    `var grp = Math.floor((${m} + 0.5) / ${int(mg)});`,
    `var xBase = (${n} * ${int(g.c)} + grp * ${int(cg)}) * ${int(g.h * g.w)};`,
    `var wBase = ${m} * ${int(cg * g.kh * g.kw)};`,
    `var ih0 = ${oh} * ${int(g.sh)} - ${int(g.ph)};`,
    `var iw0 = ${ow} * ${int(g.sw)} - ${int(g.pw)};`,
    `var acc = 0.0;`,
    `for (var ci = 0; ci < ${cg}; ci++) {`,
    `  var xc = xBase + ci * ${int(g.h * g.w)};`,
    `  var wc = wBase + ci * ${int(g.kh * g.kw)};`,
    `  for (var ky = 0; ky < ${g.kh}; ky++) {`,
    `    var ih = ih0 + ky * ${int(g.dh)};`,
    `    if (ih >= 0.0 && ih < ${int(g.h)}) {`,
    `      for (var kx = 0; kx < ${g.kw}; kx++) {`,
    `        var iw = iw0 + kx * ${int(g.dw)};`,
    `        if (iw >= 0.0 && iw < ${int(g.w)}) {`,
    `          acc = acc + a0[xc + ih * ${int(g.w)} + iw] * a1[wc + ky * ${int(g.kw)} + kx];`,
    `        }`,
    `      }`,
    `    }`,
    `  }`,
    `}`,
  ];
  if (hasBias) lines.push(`acc = acc + a2[${m}];`);
  lines.push('return acc;');
  return kernelSource(hasBias ? ['a0', 'a1', 'a2'] : ['a0', 'a1'], lines.join('\n'));
}

/**
 * How the four-outputs Conv lays its quads out: 'rows' quads are four neighbours in one output row (each row
 * padded to `stride` = OW rounded up to 4); 'plane' quads are four consecutive positions of the (n, m) plane
 * (padded to `stride` = OH*OW rounded up to 4), which may straddle a row end. Padding outputs are computed
 * from clamped or bounds-checked reads and dropped by a gather pass when stride exceeds OW (or OH*OW).
 */
export type ConvQuadLayout = { readonly kind: 'rows' | 'plane'; readonly stride: number };

/** The layout for `g`: rows when OW is a multiple of 4 or at least 16 (little padding), else the plane. */
export function convQuadLayout(g: Geometry): ConvQuadLayout {
  if (g.ow % 4 === 0 || g.ow >= 16) return { kind: 'rows', stride: Math.ceil(g.ow / 4) * 4 };
  return { kind: 'plane', stride: Math.ceil((g.oh * g.ow) / 4) * 4 };
}

/**
 * Source of the four-outputs-per-fragment convolution (a quad kernel over [N, M, OH, stride] for 'rows',
 * [N, M, stride] for 'plane'). Thread t owns four outputs of one (n, m) plane; all four share every weight
 * fetch. 'rows' quads also share the input row: with unit horizontal stride and dilation and KW <= 9 each
 * tap row's KW + 3 input values are read once (the window: 8 + 5 fetches instead of 20 + 5 for a 5x5
 * kernel); otherwise each output reads its own taps, with its own (oh, ow) and padding checks in 'plane'.
 */
export function convQuadSource(g: Geometry, hasBias: boolean, layout: ConvQuadLayout = convQuadLayout(g)): string {
  const cg = g.c / g.group;
  const mg = g.m / g.group;
  const plane = g.oh * g.ow;
  const rows = layout.kind === 'rows';
  const min = rows ? g.ow : plane;
  if (layout.stride % 4 !== 0 || layout.stride < min) throw new KernelError(`convQuadSource: ${layout.kind} stride ${layout.stride} must be a multiple of 4 and at least ${min}`);
  const split = splitIndex('t', rows ? [g.n, g.m, g.oh, layout.stride / 4] : [g.n, g.m, layout.stride / 4], 'o');
  const [n, m] = split.coords as [string, string];
  const lines = [
    split.code,
    `var grp = Math.floor((${m} + 0.5) / ${int(mg)});`,
    `var xBase = (${n} * ${int(g.c)} + grp * ${int(cg)}) * ${int(g.h * g.w)};`,
    `var wBase = ${m} * ${int(cg * g.kh * g.kw)};`,
    'var s0 = 0.0;',
    'var s1 = 0.0;',
    'var s2 = 0.0;',
    'var s3 = 0.0;',
  ];
  const loopsOpen = (inner: string[]): string[] => [
    `for (var ci = 0; ci < ${cg}; ci++) {`,
    `  var xc = xBase + ci * ${int(g.h * g.w)};`,
    `  var wc = wBase + ci * ${int(g.kh * g.kw)};`,
    `  for (var ky = 0; ky < ${g.kh}; ky++) {`,
    `    var wr = wc + ky * ${int(g.kw)};`,
    ...inner.map((l) => `    ${l}`),
    '  }',
    '}',
  ];
  if (rows) {
    const [, , oh, c4] = split.coords as [string, string, string, string];
    lines.push(`var ih = ${oh} * ${int(g.sh)} - ${int(g.ph)};`, `var iw0 = ${c4} * ${int(4 * g.sw)} - ${int(g.pw)};`);
    const body = [`var y = ih + ky * ${int(g.dh)};`, `if (y >= 0.0 && y < ${int(g.h)}) {`, `  var r = xc + y * ${int(g.w)};`];
    if (g.sw === 1 && g.dw === 1 && g.kw <= 9) {
      for (let u = 0; u < g.kw + 3; u++) body.push(`  var c${u} = iw0 + ${int(u)};`, `  var v${u} = 0.0;`, `  if (c${u} >= 0.0 && c${u} < ${int(g.w)}) { v${u} = a0[r + c${u}]; }`);
      for (let kx = 0; kx < g.kw; kx++) body.push(`  var w${kx} = a1[wr + ${int(kx)}];`);
      for (let j = 0; j < 4; j++) body.push(`  s${j} = s${j} + ${Array.from({ length: g.kw }, (_, kx) => `w${kx} * v${j + kx}`).join(' + ')};`);
    } else {
      body.push(`  for (var kx = 0; kx < ${g.kw}; kx++) {`, '    var wv = a1[wr + kx];');
      for (let j = 0; j < 4; j++) {
        body.push(
          `    var x${j} = iw0 + ${int(j * g.sw)} + kx * ${int(g.dw)};`,
          `    if (x${j} >= 0.0 && x${j} < ${int(g.w)}) { s${j} = s${j} + a0[r + x${j}] * wv; }`,
        );
      }
      body.push('  }');
    }
    body.push('}');
    lines.push(...loopsOpen(body));
  } else {
    const p4 = split.coords[2]!;
    for (let j = 0; j < 4; j++) {
      lines.push(`var pp${j} = ${p4} * 4.0 + ${int(j)};`);
      if (layout.stride !== plane) lines.push(`if (pp${j} > ${int(plane - 1)}) { pp${j} = ${int(plane - 1)}; }`);
      const pos = splitIndex(`pp${j}`, [g.oh, g.ow], `p${j}`);
      const [oh, ow] = pos.coords as [string, string];
      lines.push(pos.code, `var ih${j} = ${oh} * ${int(g.sh)} - ${int(g.ph)};`, `var iw${j} = ${ow} * ${int(g.sw)} - ${int(g.pw)};`);
    }
    const body: string[] = [];
    for (let j = 0; j < 4; j++) body.push(`var y${j} = ih${j} + ky * ${int(g.dh)};`, `var r${j} = xc + y${j} * ${int(g.w)};`);
    body.push(`for (var kx = 0; kx < ${g.kw}; kx++) {`, '  var wv = a1[wr + kx];');
    for (let j = 0; j < 4; j++) {
      body.push(
        `  var x${j} = iw${j} + kx * ${int(g.dw)};`,
        `  if (y${j} >= 0.0 && y${j} < ${int(g.h)} && x${j} >= 0.0 && x${j} < ${int(g.w)}) { s${j} = s${j} + a0[r${j} + x${j}] * wv; }`,
      );
    }
    body.push('}');
    lines.push(...loopsOpen(body));
  }
  if (hasBias) lines.push(`var bv = a2[${m}];`);
  lines.push(`return [${[0, 1, 2, 3].map((j) => (hasBias ? `s${j} + bv` : `s${j}`)).join(', ')}];`);
  const args = hasBias ? ['a0', 'a1', 'a2'] : ['a0', 'a1'];
  return `function (${args.join(', ')}) {\nvar t = this.thread.x + 0.0;\n${lines.join('\n')}\n}`;
}

/** A 1x1 convolution with unit strides, no padding and one group, as the batched GEMM W x X[n] (+ bias). */
function pointwiseGemm(g: Geometry, hasBias: boolean): TiledGemm | undefined {
  if (g.kh !== 1 || g.kw !== 1 || g.sh !== 1 || g.sw !== 1 || g.ph !== 0 || g.pw !== 0 || g.group !== 1) return undefined;
  if (g.oh !== g.h || g.ow !== g.w) return undefined; // end pads
  const plane = g.h * g.w;
  return {
    batch: [g.n],
    m: g.m,
    n: plane,
    k: g.c,
    a: { batch: [0], outer: g.c, k: 1 },
    b: { batch: [g.c * plane], outer: 1, k: plane },
    alpha: 1,
    ...(hasBias ? { epilogue: { beta: 1, index: (_b: readonly string[], row: string) => row } } : {}),
  };
}

/** Source of the gathering ConvTranspose (weights [C, M/g, KH, KW]). */
export function convTransposeSource(g: Geometry, hasBias: boolean): string {
  const cg = g.c / g.group;
  const mg = g.m / g.group;
  const split = splitIndex('i', [g.n, g.m, g.oh, g.ow], 'o');
  const [n, m, oh, ow] = split.coords as [string, string, string, string];
  const lines = [
    split.code,
    `var grp = Math.floor((${m} + 0.5) / ${int(mg)});`,
    `var mi = ${m} - grp * ${int(mg)};`,
    `var acc = 0.0;`,
    `for (var ci = 0; ci < ${cg}; ci++) {`,
    `  var cIn = grp * ${int(cg)} + ci;`,
    `  var xc = (${n} * ${int(g.c)} + cIn) * ${int(g.h * g.w)};`,
    `  var wc = (cIn * ${int(mg)} + mi) * ${int(g.kh * g.kw)};`,
    `  for (var ky = 0; ky < ${g.kh}; ky++) {`,
    `    var th = ${oh} + ${int(g.ph)} - ky * ${int(g.dh)};`,
    `    var ih = Math.floor((th + 0.5) / ${int(g.sh)});`,
    `    if (th >= 0.0 && ih * ${int(g.sh)} == th && ih < ${int(g.h)}) {`,
    `      for (var kx = 0; kx < ${g.kw}; kx++) {`,
    `        var tw = ${ow} + ${int(g.pw)} - kx * ${int(g.dw)};`,
    `        var iw = Math.floor((tw + 0.5) / ${int(g.sw)});`,
    `        if (tw >= 0.0 && iw * ${int(g.sw)} == tw && iw < ${int(g.w)}) {`,
    `          acc = acc + a0[xc + ih * ${int(g.w)} + iw] * a1[wc + ky * ${int(g.kw)} + kx];`,
    `        }`,
    `      }`,
    `    }`,
    `  }`,
    `}`,
  ];
  if (hasBias) lines.push(`acc = acc + a2[${m}];`);
  lines.push('return acc;');
  return kernelSource(hasBias ? ['a0', 'a1', 'a2'] : ['a0', 'a1'], lines.join('\n'));
}

function convKernel(transpose: boolean) {
  return (scope: CallScope, inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: readonly OutputSpec[]): Tensor[] => {
    const x = inputs[0]!;
    const w = inputs[1]!;
    const bias = inputs[2];
    const spec = outputs[0]!;
    checkIndexRange(scope.ctx.op, spec.dims);
    checkIndexRange(scope.ctx.op, x.dims);
    const g = geometry(x, w, spec, attrs);
    const hasBias = !!bias && bias.size > 0;
    const args = hasBias ? [x, w, bias!] : [x, w];
    // an empty input or weight leaves nothing to read: the host writes the bias (or zeros)
    if (x.size === 0 || w.size === 0) return runOnHost(scope.device, inputs, attrs, outputs, scope.ctx);
    if (!transpose && spec.dims.every((d) => d > 0)) {
      const gemm = pointwiseGemm(g, hasBias);
      if (gemm && useTiledGemm(gemm)) return [runTiledGemm(scope, gemm, w, x, hasBias ? bias : undefined, spec.dims)];
      if (useConvQuad(g)) return [runConvQuad(scope, g, hasBias, args, spec.dims)];
    }
    return [scope.run(transpose ? convTransposeSource(g, hasBias) : convSource(g, hasBias), spec, args)];
  };
}

registerGpuKernel('Conv', convKernel(false), { accepts: spatial12 });
registerGpuKernel('ConvTranspose', convKernel(true), { accepts: spatial12 });
