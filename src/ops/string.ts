/**
 * String operators: schemas and eager functions for tensors of dtype 'string' (see src/tensor/dtype.ts).
 *
 * - StringNormalizer (opset 10): X of shape [C] or [1, C]; drops the `stopwords` (compared case-insensitively
 *   unless `is_case_sensitive`), then applies `case_change_action` LOWER / UPPER / NONE. When every element is
 *   dropped the output is [''] with shape [1] (or [1, 1] for a [1, C] input). Case mapping is the Unicode
 *   default mapping of JavaScript's toLowerCase/toUpperCase; `locale` is accepted and must name a locale
 *   that mapping is valid for (any BCP-47-like tag; the default mapping is used for all of them).
 * - StringConcat (opset 20): X + Y elementwise with numpy broadcasting.
 * - StringSplit (opset 20): Y [..., maxCount] of substrings padded with '', Z (int64, X's shape) the count per
 *   element. A `delimiter` splits at every occurrence (consecutive delimiters delimit empty strings); none or
 *   '' splits at runs of whitespace and drops leading/trailing whitespace (Python's str.split()). `maxsplit`
 *   caps the number of splits; the rest of the string is the last substring.
 * - RegexFullMatch (opset 20): bool, true where the whole element matches `pattern`. Patterns are RE2
 *   syntax; Tessera runs them with JavaScript's RegExp in unicode mode, which agrees with RE2 on the common
 *   subset (classes, \w \d \s \b, groups, alternation, bounded repeats). RE2-only syntax ((?P<name>...),
 *   \C, \pN without braces, ...) is an OpValidationError naming the pattern. Output shape = input shape.
 *
 * Output shapes that depend on the data (StringNormalizer's count, StringSplit's last dim) are computed in
 * `infer` from the input values, which runOp always has; the text rules both this file and the kernels use
 * (splitting, stop words, pattern compilation) live in src/tensor/text.ts. Kernels: src/kernels/cpu/string.ts.
 */
import type { OutputSpec } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { fullMatchRegExp, keptByStopwords, splitString } from '../tensor/text.js';
import { broadcastOrFail, defineOp, fail, type InferContext } from './schema.js';

const STRING: readonly ['string'] = ['string'];

const CASE_ACTIONS = ['LOWER', 'UPPER', 'NONE'];

defineOp({
  name: 'StringNormalizer',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: STRING },
  attributes: {
    case_change_action: { kind: 'string', default: 'NONE' },
    is_case_sensitive: { kind: 'int', default: 0 },
    locale: { kind: 'string' },
    stopwords: { kind: 'strings', default: [] },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const action = attrs['case_change_action'] as string;
    if (!CASE_ACTIONS.includes(action)) fail('StringNormalizer', `attribute 'case_change_action' is '${action}'; expected LOWER, UPPER or NONE`, ctx);
    const sensitive = attrs['is_case_sensitive'] as number;
    if (sensitive !== 0 && sensitive !== 1) fail('StringNormalizer', `attribute 'is_case_sensitive' is ${sensitive}; expected 0 or 1`, ctx);
    const locale = attrs['locale'];
    if (locale !== undefined) {
      try {
        new Intl.Locale((locale as string).replace(/_/g, '-').replace(/\..*$/, ''));
      } catch {
        fail('StringNormalizer', `attribute 'locale' is '${String(locale)}', not a locale name (e.g. en_US)`, ctx);
      }
    }
    const oneRow = x.rank === 2 && x.dims[0] === 1;
    if (x.rank !== 1 && !oneRow) fail('StringNormalizer', `input 'X' has shape ${fmtShape(x.dims)}; expected [C] or [1, C]`, ctx);
    const kept = keptByStopwords(x.data as string[], attrs['stopwords'] as readonly string[], sensitive === 1).length;
    const c = Math.max(kept, 1);
    return [{ type: 'string', dims: oneRow ? [1, c] : [c] }];
  },
});

defineOp({
  name: 'StringConcat',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'Y', type: 'T' },
  ],
  outputs: ['Z'],
  types: { T: STRING },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    return [{ type: 'string', dims: broadcastOrFail('StringConcat', ctx, inputs[0]!.dims, inputs[1]!.dims) }];
  },
});

function splitAttrs(op: string, attrs: Readonly<Record<string, unknown>>, ctx: InferContext): { delimiter: string; maxsplit: number } {
  const maxsplit = attrs['maxsplit'] as number | undefined;
  if (maxsplit !== undefined && maxsplit < 0) fail(op, `attribute 'maxsplit' is ${maxsplit}; expected a non-negative number`, ctx);
  return { delimiter: (attrs['delimiter'] as string | undefined) ?? '', maxsplit: maxsplit ?? -1 };
}

defineOp({
  name: 'StringSplit',
  inputs: [{ name: 'X', type: 'T1' }],
  outputs: ['Y', 'Z'],
  types: { T1: STRING },
  attributes: { delimiter: { kind: 'string' }, maxsplit: { kind: 'int' } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const { delimiter, maxsplit } = splitAttrs('StringSplit', attrs, ctx);
    let widest = 0;
    for (const s of x.data as string[]) widest = Math.max(widest, splitString(s, delimiter, maxsplit).length);
    return [
      { type: 'string', dims: [...x.dims, widest] },
      { type: 'int64', dims: x.dims },
    ];
  },
});

defineOp({
  name: 'RegexFullMatch',
  inputs: [{ name: 'X', type: 'T1' }],
  outputs: ['Y'],
  types: { T1: STRING },
  attributes: { pattern: { kind: 'string', required: true } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const pattern = attrs['pattern'] as string;
    if (!fullMatchRegExp(pattern)) fail('RegexFullMatch', `attribute 'pattern' ${JSON.stringify(pattern)} is not a regular expression Tessera can run (RE2 syntax, JavaScript RegExp subset)`, ctx);
    return [{ type: 'bool', dims: inputs[0]!.dims }];
  },
});

/** StringNormalizer: drop `stopwords` from a [C] or [1, C] string tensor and change case. */
export function stringNormalizer(
  x: Tensor,
  options: { caseChangeAction?: 'LOWER' | 'UPPER' | 'NONE'; isCaseSensitive?: boolean; locale?: string; stopwords?: readonly string[] } = {},
): Tensor {
  return runOp1('StringNormalizer', [x], {
    case_change_action: options.caseChangeAction,
    is_case_sensitive: options.isCaseSensitive === undefined ? undefined : options.isCaseSensitive ? 1 : 0,
    locale: options.locale,
    stopwords: options.stopwords,
  });
}

/** StringConcat: x + y elementwise, with numpy broadcasting. */
export function stringConcat(x: Tensor, y: Tensor): Tensor {
  return runOp1('StringConcat', [x, y]);
}

/** StringSplit: the substrings of each element (padded with '') and their counts. */
export function stringSplit(x: Tensor, options: { delimiter?: string; maxsplit?: number } = {}): [substrings: Tensor, counts: Tensor] {
  const [y, z] = runOp('StringSplit', [x], { delimiter: options.delimiter, maxsplit: options.maxsplit });
  return [y!, z!];
}

/** RegexFullMatch: true where the whole element matches `pattern` (RE2 syntax; see the file comment). */
export function regexFullMatch(x: Tensor, pattern: string): Tensor {
  return runOp1('RegexFullMatch', [x], { pattern });
}
