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
 * 3-D convolutions run on the host (recorded as host ops).
 */
import type { Attrs, OutputSpec } from '../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkIndexRange, int, kernelSource, splitIndex } from './codegen.js';
import { registerGpuKernel, runOnHost, type CallScope } from './runtime.js';

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
    return [scope.run(transpose ? convTransposeSource(g, hasBias) : convSource(g, hasBias), spec, args)];
  };
}

registerGpuKernel('Conv', convKernel(false), { accepts: spatial12 });
registerGpuKernel('ConvTranspose', convKernel(true), { accepts: spatial12 });
