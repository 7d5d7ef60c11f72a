import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { equal, regexFullMatch, stringConcat, stringNormalizer, stringSplit } from '../../src/ops/index.js';
import { runOp } from '../../src/ops/dispatch.js';
import { refRegexFullMatch, refStringConcat, refStringNormalizer, refStringSplit } from '../../src/kernels/cpu/reference/string.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { splitString } from '../../src/tensor/text.js';
import { arbBroadcastPair } from '../util/tensors.js';

const str = (values: string[], dims?: number[]): Tensor => new Tensor('string', values, dims ?? [values.length]);

/** Strings over a small alphabet that exercises delimiters, whitespace runs, case and non-ASCII. */
const arbText = fc.array(fc.constantFrom('a', 'B', '-', '-', ' ', '  ', '\t', 'é', 'Ö', 'xy'), { maxLength: 8 }).map((p) => p.join(''));

function arbStringTensor(dims: readonly number[]): fc.Arbitrary<Tensor> {
  const n = dims.reduce((a, b) => a * b, 1);
  return fc.array(arbText, { minLength: n, maxLength: n }).map((v) => new Tensor('string', v, dims));
}

/** A strided view with the same elements (transposed storage for rank >= 2, every other slot for rank 1). */
function nonContiguousStrings(t: Tensor): Tensor {
  if (t.rank >= 2) {
    const rev = [...Array(t.rank).keys()].reverse();
    return t.transpose(rev).contiguous().transpose(rev);
  }
  const src = t.data as string[];
  const padded: string[] = [];
  for (const s of src) padded.push(s, '#');
  return new Tensor('string', padded, [padded.length]).slice([0], [padded.length], [0], [2]).reshape(t.dims);
}

describe('StringConcat', () => {
  it('matches the Operators.md examples (broadcasting, utf-8, empty strings, scalars)', () => {
    expect(stringConcat(str(['abc', 'def']), str(['.com', '.net'])).data).toEqual(['abc.com', 'def.net']);
    expect(stringConcat(str(['abc', 'def']), str(['!'], [])).data).toEqual(['abc!', 'def!']);
    expect(stringConcat(str(['ﬀ', '']), str(['ȧ', 'x'])).data).toEqual(['ﬀȧ', 'x']);
    const z = stringConcat(str(['a'], []), str(['b'], []));
    expect(z.dims).toEqual([]);
    expect(z.data).toEqual(['ab']);
  });
  it('equals the reference on random broadcast shapes (size-0 and size-1 dims, strided inputs)', () => {
    fc.assert(
      fc.property(
        arbBroadcastPair({ maxRank: 3, maxDim: 3 }).chain(([a, b]) => fc.tuple(arbStringTensor(a), arbStringTensor(b), fc.boolean())),
        ([x, y, strided]) => {
          const got = stringConcat(strided ? nonContiguousStrings(x) : x, y);
          const want = refStringConcat(x, y);
          expect(got.dims).toEqual(want.dims);
          expect(got.data).toEqual(want.data);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('refuses non-string inputs and shapes that do not broadcast', () => {
    expect(() => stringConcat(new Tensor('float32', [1]), str(['a']))).toThrow(OpValidationError);
    expect(() => stringConcat(new Tensor('float32', [1]), str(['a']))).toThrow(/input 0 'X' has type float32; expected one of string/);
    expect(() => stringConcat(str(['a', 'b']), str(['a', 'b', 'c']))).toThrow(/shapes \[2\] and \[3\] cannot be broadcast/);
  });
});

describe('StringSplit', () => {
  it('matches the Operators.md examples', () => {
    const [y, z] = stringSplit(str(['abc.com', 'def.net']), { delimiter: '.' });
    expect(y.dims).toEqual([2, 2]);
    expect(y.data).toEqual(['abc', 'com', 'def', 'net']);
    expect(Array.from(z.data as BigInt64Array)).toEqual([2n, 2n]);
    const [y2, z2] = stringSplit(str(['1,2', '1,,2'], [2]), { delimiter: ',' });
    expect(y2.data).toEqual(['1', '2', '', '1', '', '2']);
    expect(Array.from(z2.data as BigInt64Array)).toEqual([2n, 3n]);
    const [y3, z3] = stringSplit(str(['hello world', 'def.net', 'o n n x', 'the quick brown fox'], [2, 2]), { maxsplit: 2 });
    expect(y3.dims).toEqual([2, 2, 3]);
    expect(y3.data).toEqual(['hello', 'world', '', 'def.net', '', '', 'o', 'n', 'n x', 'the', 'quick', 'brown fox']);
    expect(Array.from(z3.data as BigInt64Array)).toEqual([2n, 1n, 3n, 3n]);
    const [y4, z4] = stringSplit(str([], [0]));
    expect(y4.dims).toEqual([0, 0]);
    expect(z4.dims).toEqual([0]);
  });
  it('keeps the remainder after maxsplit as Python does', () => {
    expect(splitString('a b  c ', '', 1)).toEqual(['a', 'b  c ']);
    expect(splitString('a-b-c', '-', 1)).toEqual(['a', 'b-c']);
    expect(splitString('a--b', '--', -1)).toEqual(['a', 'b']);
    expect(splitString('   ', '', -1)).toEqual([]);
  });
  it('equals the reference on random strings, delimiters and maxsplit (strided input too)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom([0], [3], [2, 2], [1, 3, 1]).chain((dims) =>
          fc.tuple(arbStringTensor(dims), fc.constantFrom(undefined, '', '-', '--', 'a'), fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), fc.boolean()),
        ),
        ([x, delimiter, maxsplit, strided]) => {
          const [y, z] = stringSplit(strided ? nonContiguousStrings(x) : x, { delimiter, maxsplit });
          const [wy, wz] = refStringSplit(x, delimiter, maxsplit);
          expect(y.dims).toEqual(wy.dims);
          expect(y.data).toEqual(wy.data);
          expect(z.dims).toEqual(wz.dims);
          expect(Array.from(z.data as BigInt64Array)).toEqual(Array.from(wz.data as BigInt64Array));
        },
      ),
      { numRuns: 80 },
    );
  });
  it('refuses a negative maxsplit and non-string input', () => {
    expect(() => stringSplit(str(['a']), { maxsplit: -1 })).toThrow(/attribute 'maxsplit' is -1/);
    expect(() => runOp('StringSplit', [new Tensor('int32', new Int32Array(1))])).toThrow(OpValidationError);
  });
});

describe('StringNormalizer', () => {
  const monday = str(['monday', 'tuesday', 'wednesday', 'thursday']);
  it('matches the Operators.md examples', () => {
    expect(stringNormalizer(monday, { caseChangeAction: 'LOWER', isCaseSensitive: true, stopwords: ['monday'] }).data).toEqual(['tuesday', 'wednesday', 'thursday']);
    expect(stringNormalizer(monday, { caseChangeAction: 'UPPER', isCaseSensitive: true, stopwords: ['monday'] }).data).toEqual(['TUESDAY', 'WEDNESDAY', 'THURSDAY']);
    const empty = stringNormalizer(str(['monday', 'monday']), { caseChangeAction: 'LOWER', isCaseSensitive: true, stopwords: ['monday'] });
    expect(empty.dims).toEqual([1]);
    expect(empty.data).toEqual(['']);
    const two = stringNormalizer(str(['Monday', 'tuesday', 'wednesday', 'Monday', 'tuesday', 'wednesday'], [1, 6]), { caseChangeAction: 'UPPER', stopwords: ['monday'] });
    expect(two.dims).toEqual([1, 4]);
    expect(two.data).toEqual(['TUESDAY', 'WEDNESDAY', 'TUESDAY', 'WEDNESDAY']);
    expect(stringNormalizer(str(['Monday'], [1, 1]), { stopwords: ['monday'], isCaseSensitive: false }).dims).toEqual([1, 1]);
  });
  it('equals the reference on random inputs', () => {
    fc.assert(
      fc.property(
        fc.constantFrom([1], [4], [1, 3]).chain((dims) =>
          fc.tuple(arbStringTensor(dims), fc.constantFrom('LOWER', 'UPPER', 'NONE') as fc.Arbitrary<'LOWER' | 'UPPER' | 'NONE'>, fc.boolean(), fc.array(arbText, { maxLength: 3 })),
        ),
        ([x, action, sensitive, stopwords]) => {
          const got = stringNormalizer(x, { caseChangeAction: action, isCaseSensitive: sensitive, stopwords });
          const want = refStringNormalizer(x, action, sensitive, stopwords);
          expect(got.dims).toEqual(want.dims);
          expect(got.data).toEqual(want.data);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('refuses other ranks, bad attributes and non-string input', () => {
    expect(() => stringNormalizer(str(['a', 'b', 'c', 'd'], [2, 2]))).toThrow(/input 'X' has shape \[2, 2\]; expected \[C\] or \[1, C\]/);
    expect(() => runOp('StringNormalizer', [monday], { case_change_action: 'TITLE' })).toThrow(/'case_change_action' is 'TITLE'/);
    expect(() => runOp('StringNormalizer', [monday], { locale: 'not a locale!!' })).toThrow(/attribute 'locale'/);
    expect(runOp('StringNormalizer', [monday], { locale: 'en_US' })[0]!.data).toEqual(monday.data);
    expect(() => runOp('StringNormalizer', [new Tensor('float32', [1])])).toThrow(/expected one of string/);
  });
});

describe('RegexFullMatch', () => {
  it('matches the Operators.md examples', () => {
    const x = str(['www.google.com', 'www.facebook.com', 'www.bbc.co.uk']);
    expect(Array.from(regexFullMatch(x, String.raw`www\.[\w.-]+\.\bcom\b`).data as Uint8Array)).toEqual([1, 1, 0]);
    const mails = str(['account@gmail.com', 'account@hotmail.com', 'not email', 'account2@yahoo.com'], [2, 2]);
    const y = regexFullMatch(mails, String.raw`(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)`);
    expect(y.dims).toEqual([2, 2]);
    expect(Array.from(y.data as Uint8Array)).toEqual([1, 0, 0, 1]);
    expect(regexFullMatch(str([], [2, 0]), 'a').dims).toEqual([2, 0]);
  });
  it('is a full match, not a search, and equals the reference', () => {
    fc.assert(
      fc.property(arbStringTensor([5]), fc.constantFrom('a+', '(a|B)*', String.raw`\s*xy`, '.*-.*', 'é?Ö'), (x, pattern) => {
        expect(Array.from(regexFullMatch(x, pattern).data as Uint8Array)).toEqual(Array.from(refRegexFullMatch(x, pattern).data as Uint8Array));
      }),
      { numRuns: 40 },
    );
    expect(Array.from(regexFullMatch(str(['ab', 'a']), 'a').data as Uint8Array)).toEqual([0, 1]);
    expect(Array.from(regexFullMatch(str(['ab']), 'a|ab').data as Uint8Array)).toEqual([1]);
  });
  it('refuses a pattern it cannot compile and a missing pattern', () => {
    expect(() => regexFullMatch(str(['a']), '(')).toThrow(/attribute 'pattern' "\(" is not a regular expression/);
    expect(() => runOp('RegexFullMatch', [str(['a'])])).toThrow(/attribute 'pattern' is required/);
  });
});

describe('Equal on strings', () => {
  it('compares elementwise with broadcasting', () => {
    const y = equal(str(['a', 'b', 'c', 'd'], [2, 2]), str(['a', 'd'], [2]));
    expect(y.type).toBe('bool');
    expect(Array.from(y.data as Uint8Array)).toEqual([1, 0, 0, 1]);
  });
  it('still refuses a string compared with a number', () => {
    expect(() => equal(str(['1']), new Tensor('float32', [1]))).toThrow(/they must match/);
  });
});

describe('data-movement operators on string tensors', () => {
  const x = str(['a', 'b', 'c', 'd', 'e', 'f'], [2, 3]);
  const i64 = (v: number[]): Tensor => new Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);
  it('view operators and Shape/Size accept strings', () => {
    const r = runOp('Reshape', [x, i64([3, 2])])[0]!;
    expect(r.dims).toEqual([3, 2]);
    expect(r.data).toEqual(x.data);
    expect(runOp('Identity', [nonContiguousStrings(x)])[0]!.data).toEqual(x.data);
    expect(runOp('Flatten', [x], { axis: 0 })[0]!.dims).toEqual([1, 6]);
    expect(runOp('Unsqueeze', [x, i64([0])])[0]!.dims).toEqual([1, 2, 3]);
    expect(runOp('Squeeze', [str(['z'], [1, 1])])[0]!.dims).toEqual([]);
    expect(Array.from(runOp('Shape', [x])[0]!.data as BigInt64Array)).toEqual([2n, 3n]);
    expect(Number(runOp('Size', [x])[0]!.item())).toBe(6);
  });
  it('operators that copy bytes refuse strings by schema', () => {
    expect(() => runOp('Transpose', [x])).toThrow(/input 0 'data' has type string/);
    expect(() => runOp('Concat', [x, x], { axis: 0 })).toThrow(OpValidationError);
    expect(() => runOp('Relu', [x])).toThrow(OpValidationError);
  });
});
