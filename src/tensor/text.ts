/**
 * Text rules of the string operators, shared by their schemas (src/ops/string.ts computes data-dependent
 * output shapes with them) and their kernels (src/kernels/cpu/string.ts), which may both import only the
 * tensor layer. Plain functions on JavaScript strings; no tensors.
 */

/** Elements of `x` kept by StringNormalizer's stop-word filter. */
export function keptByStopwords(values: readonly string[], stopwords: readonly string[], caseSensitive: boolean): string[] {
  if (stopwords.length === 0) return [...values];
  if (caseSensitive) {
    const stop = new Set(stopwords);
    return values.filter((v) => !stop.has(v));
  }
  const stop = new Set(stopwords.map((w) => w.toLowerCase()));
  return values.filter((v) => !stop.has(v.toLowerCase()));
}

/**
 * Where Python's str.split would cut `s`: the substrings, splitting at most `maxsplit` times (negative =
 * unlimited); `delimiter` '' means runs of whitespace with leading/trailing whitespace dropped.
 */
export function splitString(s: string, delimiter: string, maxsplit: number): string[] {
  const limit = maxsplit < 0 ? Infinity : maxsplit;
  const out: string[] = [];
  if (delimiter === '') {
    let i = 0;
    const n = s.length;
    const isSpace = (c: string): boolean => /\s/.test(c);
    while (i < n && isSpace(s[i]!)) i++;
    while (i < n) {
      if (out.length >= limit) {
        // the rest as it is (Python keeps the remainder's spacing, trailing whitespace included)
        out.push(s.slice(i));
        return out;
      }
      let j = i;
      while (j < n && !isSpace(s[j]!)) j++;
      out.push(s.slice(i, j));
      i = j;
      while (i < n && isSpace(s[i]!)) i++;
    }
    return out;
  }
  let start = 0;
  let splits = 0;
  for (;;) {
    const at = splits < limit ? s.indexOf(delimiter, start) : -1;
    if (at < 0) {
      out.push(s.slice(start));
      return out;
    }
    out.push(s.slice(start, at));
    start = at + delimiter.length;
    splits++;
  }
}

/** A RegExp that is true on a full match of the RE2 `pattern`, or undefined when JavaScript cannot compile it. */
export function fullMatchRegExp(pattern: string): RegExp | undefined {
  // RE2's named groups (?P<name>...) are written (?<name>...) in JavaScript
  const source = `^(?:${pattern.replace(/\(\?P</g, '(?<')})$`;
  try {
    return new RegExp(source, 'u');
  } catch {
    return undefined;
  }
}
