/**
 * Byte-level helpers for the WebAssembly modules the CPU kernels assemble from opcodes (./gemm-simd.ts,
 * ./gemm-int8.ts): LEB128 integers, vectors, sections and names, as the binary format
 * (https://webassembly.github.io/spec/core/binary/) spells them.
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit values). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A wasm vector: its length then its items. */
export function vector(items: readonly (readonly number[])[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A section: id, byte length, bytes. */
export function section(id: number, bytes: readonly number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

/** A name (ASCII): a vector of its bytes. */
export function name(s: string): number[] {
  return vector([...s].map((ch) => [ch.charCodeAt(0)]));
}

/** `local.get i`. */
export const localGet = (i: number): number[] => [0x20, ...uleb(i)];
/** `local.set i`. */
export const localSet = (i: number): number[] => [0x21, ...uleb(i)];
/** A SIMD instruction (prefix 0xfd, then the opcode as LEB128). */
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
/** A SIMD memory instruction with alignment log2 `align` and a byte offset. */
export const simdMem = (op: number, align: number, offset: number): number[] => [...simd(op), align, ...uleb(offset)];
