/**
 * Reference (naive) kernels of the string operators, written independently of the fast ones: StringConcat
 * reads each output element's inputs by unravelling its multi-index; StringSplit uses String.prototype.split
 * (and a whitespace regex) and re-joins the tail past `maxsplit`; StringNormalizer tests stop words with
 * Array.includes; RegexFullMatch compiles a fresh anchored RegExp per element.
 */
import { sizeOf } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';

function unravel(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let i = dims.length - 1; i >= 0; i--) {
    idx[i] = flat % dims[i]!;
    flat = Math.floor(flat / dims[i]!);
  }
  return idx;
}

/** Element of `t` at output multi-index `idx` under numpy broadcasting. */
function broadcastRead(t: Tensor, idx: readonly number[]): string {
  const lead = idx.length - t.rank;
  let flat = 0;
  for (let a = 0; a < t.rank; a++) flat = flat * t.dims[a]! + (t.dims[a] === 1 ? 0 : idx[lead + a]!);
  return (t.data as string[])[flat]!;
}

export function refStringConcat(x: Tensor, y: Tensor): Tensor {
  const rank = Math.max(x.rank, y.rank);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) {
    const a = x.dims[i - (rank - x.rank)] ?? 1;
    const b = y.dims[i - (rank - y.rank)] ?? 1;
    dims.push(a === 1 ? b : a);
  }
  const n = sizeOf(dims);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, dims);
    out.push(broadcastRead(x, idx) + broadcastRead(y, idx));
  }
  return new Tensor('string', out, dims);
}

export function refSplit(s: string, delimiter: string | undefined, maxsplit: number | undefined): string[] {
  if (delimiter === undefined || delimiter === '') {
    const parts: string[] = [];
    let rest = s.replace(/^\s+/, '');
    while (rest.length > 0) {
      if (maxsplit !== undefined && parts.length === maxsplit) {
        parts.push(rest);
        break;
      }
      const m = /\s+/.exec(rest);
      if (!m) {
        parts.push(rest);
        break;
      }
      parts.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return parts;
  }
  const all = s.split(delimiter);
  if (maxsplit === undefined || all.length <= maxsplit + 1) return all;
  return [...all.slice(0, maxsplit), all.slice(maxsplit).join(delimiter)];
}

export function refStringSplit(x: Tensor, delimiter?: string, maxsplit?: number): [Tensor, Tensor] {
  const rows = (x.data as string[]).map((s) => refSplit(s, delimiter, maxsplit));
  const width = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const flat: string[] = [];
  for (const r of rows) for (let k = 0; k < width; k++) flat.push(r[k] ?? '');
  return [new Tensor('string', flat, [...x.dims, width]), new Tensor('int64', rows.map((r) => BigInt(r.length)), x.dims)];
}

export function refStringNormalizer(x: Tensor, action: string, caseSensitive: boolean, stopwords: readonly string[]): Tensor {
  const out: string[] = [];
  for (const s of x.data as string[]) {
    const stop = caseSensitive ? stopwords.includes(s) : stopwords.map((w) => w.toLowerCase()).includes(s.toLowerCase());
    if (stop) continue;
    out.push(action === 'LOWER' ? s.toLowerCase() : action === 'UPPER' ? s.toUpperCase() : s);
  }
  if (out.length === 0) out.push('');
  return new Tensor('string', out, x.rank === 2 ? [1, out.length] : [out.length]);
}

export function refRegexFullMatch(x: Tensor, pattern: string): Tensor {
  const out = (x.data as string[]).map((s) => (new RegExp(`^(?:${pattern})$`, 'u').test(s) ? 1 : 0));
  return new Tensor('bool', Uint8Array.from(out), x.dims);
}
