/**
 * CPU kernels of the string operators (schemas: src/ops/string.ts). String tensors hold plain string[]
 * (src/tensor/dtype.ts), so these are loops over JavaScript strings; the text rules (splitting, stop words,
 * pattern compilation) are in src/tensor/text.ts, shared with the schemas.
 *
 * - StringNormalizer: one filter pass over C elements, one case-mapping pass. Cost O(total characters).
 * - StringConcat: a flat loop over the output with precomputed broadcast index tables (./util.ts).
 * - StringSplit: each element split once; substrings written row by row into a [..., maxCount] output
 *   prefilled with ''. Cost O(total characters).
 * - RegexFullMatch: the pattern compiled once per call, one anchored test per element.
 * - stringEqual: Equal's string case (its schema in src/ops/binary.ts admits 'string'; ./binary.ts calls it).
 */
import { fmtShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { KernelError } from '../../tensor/errors.js';
import { fullMatchRegExp, keptByStopwords, splitString } from '../../tensor/text.js';
import { registerKernel, type Kernel, type OutputSpec } from '../registry.js';
import { broadcastIndex } from './util.js';

const stringNormalizer: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const kept = keptByStopwords(x.data as string[], attrs['stopwords'] as readonly string[], attrs['is_case_sensitive'] === 1);
  const action = attrs['case_change_action'];
  const out = kept.length === 0 ? [''] : action === 'LOWER' ? kept.map((s) => s.toLowerCase()) : action === 'UPPER' ? kept.map((s) => s.toUpperCase()) : kept;
  return [new Tensor('string', out, spec.dims)];
};

const stringConcat: Kernel = (inputs, _attrs, outputs) => {
  const spec = outputs[0]!;
  const x = inputs[0]!;
  const y = inputs[1]!;
  const xs = x.data as string[];
  const ys = y.data as string[];
  const xi = broadcastIndex(x.dims, spec.dims);
  const yi = broadcastIndex(y.dims, spec.dims);
  const n = xi.length;
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = xs[xi[i]!]! + ys[yi[i]!]!;
  return [new Tensor('string', out, spec.dims)];
};

const stringSplit: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const [ySpec, zSpec] = outputs as [(typeof outputs)[number], (typeof outputs)[number]];
  const width = ySpec.dims[ySpec.dims.length - 1]!;
  const delimiter = (attrs['delimiter'] as string | undefined) ?? '';
  const maxsplit = (attrs['maxsplit'] as number | undefined) ?? -1;
  const src = x.data as string[];
  const substrings = new Array<string>(src.length * width).fill('');
  const counts = new BigInt64Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const parts = splitString(src[i]!, delimiter, maxsplit);
    if (parts.length > width) throw new KernelError(`StringSplit: element ${i} splits into ${parts.length} substrings; inference allowed ${width}`);
    for (let k = 0; k < parts.length; k++) substrings[i * width + k] = parts[k]!;
    counts[i] = BigInt(parts.length);
  }
  return [new Tensor('string', substrings, ySpec.dims), new Tensor('int64', counts, zSpec.dims)];
};

/** Equal on string tensors (called by the Equal kernel of ./binary.ts): broadcast, exact code-unit equality. */
export function stringEqual(a: Tensor, b: Tensor, spec: OutputSpec): Tensor {
  const as = a.data as string[];
  const bs = b.data as string[];
  const ai = broadcastIndex(a.dims, spec.dims);
  const bi = broadcastIndex(b.dims, spec.dims);
  const out = new Uint8Array(ai.length);
  for (let i = 0; i < ai.length; i++) out[i] = as[ai[i]!] === bs[bi[i]!] ? 1 : 0;
  return new Tensor('bool', out, spec.dims);
}

const regexFullMatch: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const re = fullMatchRegExp(attrs['pattern'] as string);
  if (!re) throw new KernelError(`RegexFullMatch: pattern for input ${fmtShape(x.dims)} does not compile`);
  const src = x.data as string[];
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = re.test(src[i]!) ? 1 : 0;
  return [new Tensor('bool', out, outputs[0]!.dims)];
};

registerKernel('StringNormalizer', 'cpu', stringNormalizer);
registerKernel('StringConcat', 'cpu', stringConcat);
registerKernel('StringSplit', 'cpu', stringSplit);
registerKernel('RegexFullMatch', 'cpu', regexFullMatch);
