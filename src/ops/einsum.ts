/**
 * Einsum: parses and validates the equation, and rewrites it into the canonical form the kernel runs.
 *
 * Accepted: terms of letters (a-z, A-Z) with at most one `...` each, separated by commas, optionally followed
 * by `->` and an output term (explicit form); spaces are ignored. Without `->` the output is the ellipsis
 * dims followed by the letters that occur exactly once in the equation, in alphabetical order (implicit form).
 * A letter repeated within a term takes a diagonal; a letter missing from the output is summed over.
 * Ellipsis dims are aligned from the right across operands and broadcast numpy-style (equal sizes, or 1).
 *
 * Canonical form (what the kernel sees): attribute `equation` is explicit (`lhs->out`), without spaces or
 * ellipses; every ellipsis dim got its own label character (U+0100 + i, counted from the left of the
 * broadcast ellipsis block). A label's dims across operands are then equal except for broadcast ellipsis
 * dims of size 1.
 */
import type { OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { withAttrs } from './reduce-axes.js';
import { runOp1 } from './dispatch.js';
import { defineOp, fail, NUMERIC_TYPES, type InferContext } from './schema.js';

/** First code unit used for ellipsis labels in the canonical equation. */
const ELLIPSIS_LABEL_BASE = 0x100;

interface ParsedTerm {
  /** Labels before the ellipsis. */
  readonly head: string;
  /** Labels after it ('' and hasEllipsis=false when there is none). */
  readonly tail: string;
  readonly hasEllipsis: boolean;
}

function parseTerm(op: string, term: string, where: string, ctx: InferContext): ParsedTerm {
  const parts = term.split('...');
  if (parts.length > 2) fail(op, `${where} '${term}' has more than one ellipsis`, ctx);
  for (const p of parts) {
    for (const ch of p) {
      if (!/[A-Za-z]/.test(ch)) fail(op, `${where} '${term}' contains '${ch}'; labels are letters a-z, A-Z, plus one optional '...'`, ctx);
    }
  }
  return { head: parts[0]!, tail: parts[1] ?? '', hasEllipsis: parts.length === 2 };
}

/** Rewrite an einsum equation for the given operand shapes into the canonical form, validating it. */
function canonicalEinsum(op: string, equation: string, shapes: readonly (readonly number[])[], ctx: InferContext): string {
  const eq = equation.replace(/ /g, '');
  const arrow = eq.indexOf('->');
  if (arrow >= 0 && eq.indexOf('->', arrow + 1) >= 0) fail(op, `equation '${equation}' has more than one '->'`, ctx);
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const rhs = arrow >= 0 ? eq.slice(arrow + 2) : undefined;
  const terms = lhs.split(',');
  if (terms.length !== shapes.length) {
    fail(op, `equation '${equation}' has ${terms.length} input term${terms.length === 1 ? '' : 's'} but ${shapes.length} input${shapes.length === 1 ? ' was' : 's were'} given`, ctx);
  }
  const parsed = terms.map((t, i) => parseTerm(op, t, `input term ${i}`, ctx));
  // how many dims each operand's ellipsis stands for
  let ellRank = 0;
  const ellCounts = parsed.map((p, i) => {
    const letters = p.head.length + p.tail.length;
    const rank = shapes[i]!.length;
    if (!p.hasEllipsis && letters !== rank) {
      fail(op, `input term ${i} '${terms[i]}' has ${letters} label${letters === 1 ? '' : 's'} but input ${i} has shape ${fmtShape(shapes[i]!)} (rank ${rank})`, ctx);
    }
    if (p.hasEllipsis && letters > rank) {
      fail(op, `input term ${i} '${terms[i]}' has ${letters} labels besides '...' but input ${i} has shape ${fmtShape(shapes[i]!)} (rank ${rank})`, ctx);
    }
    const n = p.hasEllipsis ? rank - letters : 0;
    ellRank = Math.max(ellRank, n);
    return n;
  });
  const ellLabel = (j: number): string => String.fromCharCode(ELLIPSIS_LABEL_BASE + j);
  const sizes = new Map<string, number>();
  const canonTerms = parsed.map((p, i) => {
    const n = ellCounts[i]!;
    let ell = '';
    for (let j = ellRank - n; j < ellRank; j++) ell += ellLabel(j);
    const labels = p.head + ell + p.tail;
    const dims = shapes[i]!;
    for (let a = 0; a < labels.length; a++) {
      const l = labels[a]!;
      const d = dims[a]!;
      const isEll = l.charCodeAt(0) >= ELLIPSIS_LABEL_BASE;
      const prev = sizes.get(l);
      if (prev === undefined || (isEll && prev === 1)) sizes.set(l, d);
      else if (prev !== d && !(isEll && d === 1)) {
        const name = isEll ? `ellipsis dim ${l.charCodeAt(0) - ELLIPSIS_LABEL_BASE}` : `label '${l}'`;
        fail(op, `${name} has size ${d} in input ${i} ${fmtShape(dims)} but size ${prev} elsewhere in equation '${equation}'`, ctx);
      }
    }
    return labels;
  });
  let ellOut = '';
  for (let j = 0; j < ellRank; j++) ellOut += ellLabel(j);
  let out: string;
  if (rhs === undefined) {
    const counts = new Map<string, number>();
    for (const p of parsed) for (const l of p.head + p.tail) counts.set(l, (counts.get(l) ?? 0) + 1);
    const once = [...counts.entries()].filter(([, c]) => c === 1).map(([l]) => l);
    once.sort();
    out = ellOut + once.join('');
  } else {
    const p = parseTerm(op, rhs, 'output term', ctx);
    out = p.head + (p.hasEllipsis ? ellOut : '') + p.tail;
    const seen = new Set<string>();
    for (const l of p.head + p.tail) {
      if (seen.has(l)) fail(op, `output term '${rhs}' repeats label '${l}'`, ctx);
      seen.add(l);
      if (!sizes.has(l)) fail(op, `output term '${rhs}' has label '${l}', which no input term has`, ctx);
    }
  }
  return `${canonTerms.join(',')}->${out}`;
}

defineOp({
  name: 'Einsum',
  inputs: [{ name: 'Inputs', type: 'T', variadic: true }],
  outputs: ['Output'],
  types: { T: NUMERIC_TYPES },
  attributes: { equation: { kind: 'string', required: true } },
  normalize(inputs, attrs, ctx) {
    for (let i = 0; i < inputs.length; i++) if (!inputs[i]) fail('Einsum', `input ${i} is missing`, ctx);
    const shapes = inputs.map((t) => t!.dims);
    const equation = canonicalEinsum('Einsum', attrs.equation as string, shapes, ctx);
    return { inputs, attrs: withAttrs(attrs, { equation }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    // the canonical equation was validated by normalize: read each label's size (broadcast 1s give way)
    const [lhs, out] = (attrs.equation as string).split('->') as [string, string];
    const sizes = new Map<string, number>();
    lhs.split(',').forEach((term, i) => {
      const dims = inputs[i]!.dims;
      if (term.length !== dims.length) fail('Einsum', `canonical term '${term}' does not match input ${i} ${fmtShape(dims)}`, ctx);
      for (let a = 0; a < term.length; a++) sizes.set(term[a]!, Math.max(sizes.get(term[a]!) ?? 1, dims[a]!));
    });
    // a label of size 0 anywhere makes its size 0
    lhs.split(',').forEach((term, i) => {
      for (let a = 0; a < term.length; a++) if (inputs[i]!.dims[a] === 0) sizes.set(term[a]!, 0);
    });
    return [{ type: inputs[0]!.type, dims: [...out].map((l) => sizes.get(l)!) }];
  },
});

/**
 * Einstein summation, e.g. `einsum('bij,bjk->bik', a, b)` (batched matmul), `einsum('ii->i', x)` (diagonal),
 * `einsum('i,i', x, y)` (inner product), `einsum('...ij->...ji', x)`.
 */
export function einsum(equation: string, ...xs: Tensor[]): Tensor {
  return runOp1('Einsum', xs, { equation });
}
