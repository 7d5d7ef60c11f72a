/**
 * Protocol-buffer wire access with bounds checks, on top of protobufjs's low-level Reader and Writer.
 *
 * `WireReader` reads tags, varints, fixed-width numbers and length-delimited fields. Every length or count
 * taken from the wire is checked against the bytes that remain in the enclosing message before anything is
 * allocated, so a truncated or hostile file fails with a ModelFormatError naming the field path and byte
 * offset instead of a RangeError, a crash or a huge allocation. int64 varints are read as exact bigints
 * (protobufjs would round them to a float without the `long` package).
 *
 * `WireWriter` is protobufjs's Writer with helpers for the field kinds ONNX uses (bigint int64, packed
 * arrays, nested messages through fork/ldelim).
 */
import protobuf from 'protobufjs/minimal.js';
import { ModelFormatError } from '../errors.js';

const { Reader, Writer } = protobuf;

/** Wire types of the protobuf encoding. */
export const WireType = { VARINT: 0, FIXED64: 1, BYTES: 2, START_GROUP: 3, END_GROUP: 4, FIXED32: 5 } as const;

const WIRE_TYPE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', 'invalid(6)', 'invalid(7)'];

const utf8 = new TextDecoder('utf-8');

/** Deepest nesting of messages accepted (graphs inside attributes inside graphs...). */
export const MAX_NESTING = 100;

/** A field tag: field number and wire type. */
export interface Tag {
  field: number;
  wireType: number;
}

/** Bounds-checked reader over one buffer. Sub-messages are read by narrowing `end` (see `message`). */
export class WireReader {
  private readonly reader: protobuf.Reader;
  /** End (exclusive) of the message being read. */
  end: number;
  /** Current nesting depth. */
  depth = 0;

  /** The message bytes, as a plain Uint8Array (a Node Buffer is re-viewed: its `.slice()` would alias). */
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // a plain Reader, not BufferReader, so bytes() returns subarrays of our own Uint8Array
    this.reader = new Reader(this.bytes);
    this.end = this.bytes.length;
  }

  /** Byte offset of the next read. */
  get pos(): number {
    return this.reader.pos;
  }

  /** True while the current message has bytes left. */
  more(): boolean {
    return this.reader.pos < this.end;
  }

  /** Throw a ModelFormatError for `path` at the current offset. */
  fail(path: string, message: string): never {
    throw new ModelFormatError(`${path}: ${message} (at byte offset ${this.reader.pos})`);
  }

  private need(n: number, path: string, what: string): void {
    if (n > this.end - this.reader.pos) {
      this.fail(path, `${what} needs ${n} bytes but only ${this.end - this.reader.pos} remain in the enclosing message`);
    }
  }

  /** Read a varint as a bigint (unsigned 64-bit value). At most 10 bytes. */
  private varintBig(path: string): bigint {
    const buf = this.bytes;
    let pos = this.reader.pos;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) this.fail(path, 'truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.reader.pos = pos;
        return BigInt.asUintN(64, result);
      }
      shift += 7n;
    }
    this.fail(path, 'varint longer than 10 bytes');
  }

  /** Read a varint that must fit 32 bits unsigned (lengths, tags). */
  private varint32(path: string): number {
    const buf = this.bytes;
    let pos = this.reader.pos;
    let result = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) this.fail(path, 'truncated varint');
      const b = buf[pos++]!;
      if (i < 5) result += (b & 0x7f) * 2 ** (7 * i);
      else if ((b & 0x7f) !== 0) {
        this.reader.pos = pos;
        this.fail(path, 'varint does not fit 32 bits');
      }
      if ((b & 0x80) === 0) {
        this.reader.pos = pos;
        if (result > 0xffffffff) this.fail(path, 'varint does not fit 32 bits');
        return result;
      }
    }
    this.fail(path, 'varint longer than 10 bytes');
  }

  /** Read the next field tag. */
  tag(path: string): Tag {
    const v = this.varint32(path);
    const field = Math.floor(v / 8);
    const wireType = v & 7;
    if (field === 0) this.fail(path, 'field number 0 is invalid');
    if (wireType > 5) this.fail(path, `invalid wire type ${wireType} for field ${field}`);
    return { field, wireType };
  }

  /** Throw unless `tag` has wire type `want`. */
  expectWire(tag: Tag, want: number, path: string): void {
    if (tag.wireType !== want) {
      this.fail(path, `field ${tag.field} has wire type ${WIRE_TYPE_NAMES[tag.wireType]}; expected ${WIRE_TYPE_NAMES[want]}`);
    }
  }

  /** Skip a field we do not model. Groups (deprecated, never used by ONNX) are refused. */
  skip(tag: Tag, path: string): void {
    switch (tag.wireType) {
      case WireType.VARINT:
        this.varintBig(path);
        return;
      case WireType.FIXED64:
        this.need(8, path, 'fixed64 field');
        this.reader.pos += 8;
        return;
      case WireType.FIXED32:
        this.need(4, path, 'fixed32 field');
        this.reader.pos += 4;
        return;
      case WireType.BYTES: {
        const n = this.length(path);
        this.reader.pos += n;
        return;
      }
      default:
        this.fail(path, `field ${tag.field} uses wire type ${WIRE_TYPE_NAMES[tag.wireType]}, which ONNX never uses`);
    }
  }

  /** Read a length prefix and check it against the remaining bytes. */
  length(path: string): number {
    const n = this.varint32(path);
    this.need(n, path, 'length-delimited field');
    return n;
  }

  /** int64 varint as a signed bigint. */
  int64(path: string): bigint {
    return BigInt.asIntN(64, this.varintBig(path));
  }

  /** uint64 varint as an unsigned bigint. */
  uint64(path: string): bigint {
    return this.varintBig(path);
  }

  /** int64 varint that must be a safe integer (versions, dims, counts). */
  safeInt(path: string): number {
    const v = this.int64(path);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) this.fail(path, `value ${v} is not a safe integer`);
    return Number(v);
  }

  /** int32 varint (sign-extended from 64 bits as protobuf does). */
  int32(path: string): number {
    return Number(BigInt.asIntN(32, this.varintBig(path)));
  }

  /** A 32-bit float (fixed32). */
  float(path: string): number {
    this.need(4, path, 'float field');
    return this.reader.float();
  }

  /** A 64-bit float (fixed64). */
  double(path: string): number {
    this.need(8, path, 'double field');
    return this.reader.double();
  }

  /** A length-delimited byte string: a view into the source buffer, no copy. */
  bytesField(path: string): Uint8Array {
    const n = this.length(path);
    const start = this.reader.pos;
    this.reader.pos += n;
    return this.bytes.subarray(start, start + n);
  }

  /** A length-delimited UTF-8 string. */
  string(path: string): string {
    return utf8.decode(this.bytesField(path));
  }

  /**
   * Read a nested message: narrows `end` to the message's length, calls `read`, checks that it consumed
   * exactly that many bytes, restores `end`.
   */
  message<T>(path: string, read: (r: WireReader) => T): T {
    const n = this.length(path);
    if (this.depth >= MAX_NESTING) this.fail(path, `messages nested deeper than ${MAX_NESTING}`);
    const outer = this.end;
    this.end = this.reader.pos + n;
    this.depth++;
    const value = read(this);
    if (this.reader.pos !== this.end) this.fail(path, 'message length does not match its content');
    this.depth--;
    this.end = outer;
    return value;
  }

  /**
   * Read a repeated numeric field, packed (wire type 2: `readOne` until the run ends) or one element per tag
   * (`tag` must then have `elementWire`).
   */
  repeated(tag: Tag, path: string, elementWire: number, readOne: () => void): void {
    if (tag.wireType === WireType.BYTES) {
      const n = this.length(path);
      const stop = this.reader.pos + n;
      const outer = this.end;
      this.end = stop;
      while (this.reader.pos < stop) readOne();
      this.end = outer;
      return;
    }
    this.expectWire(tag, elementWire, path);
    readOne();
  }

  /**
   * A packed run of fixed-width little-endian numbers copied into a new typed array (after checking the
   * length): the fast path for float_data / double_data.
   */
  packedFixed(path: string, elementBytes: 4 | 8): Uint8Array {
    const n = this.length(path);
    if (n % elementBytes !== 0) this.fail(path, `packed field of ${n} bytes is not a multiple of ${elementBytes}`);
    const start = this.reader.pos;
    this.reader.pos += n;
    return this.bytes.subarray(start, start + n);
  }
}

/** Writer for ONNX messages (protobufjs Writer plus bigint and nested-message helpers). */
export class WireWriter {
  readonly w: protobuf.Writer = Writer.create();

  private key(field: number, wireType: number): void {
    this.w.uint32(((field << 3) | wireType) >>> 0);
  }

  /** An int64 varint field (negative values take ten bytes, as protobuf specifies). */
  int64(field: number, v: bigint | number): void {
    this.key(field, WireType.VARINT);
    this.rawInt64(v);
  }

  /** The varint of an int64 value, without a key. */
  rawInt64(v: bigint | number): void {
    const b = BigInt.asUintN(64, BigInt(v));
    this.w.uint64({ low: Number(b & 0xffffffffn) | 0, high: Number(b >> 32n) | 0 } as unknown as number);
  }

  /** An int32 varint field. */
  int32(field: number, v: number): void {
    this.key(field, WireType.VARINT);
    this.w.int32(v);
  }

  float(field: number, v: number): void {
    this.key(field, WireType.FIXED32);
    this.w.float(v);
  }

  string(field: number, v: string): void {
    this.key(field, WireType.BYTES);
    this.w.string(v);
  }

  bytes(field: number, v: Uint8Array): void {
    this.key(field, WireType.BYTES);
    this.w.bytes(v);
  }

  /** A nested message written by `body`. */
  message(field: number, body: () => void): void {
    this.key(field, WireType.BYTES);
    this.w.fork();
    body();
    this.w.ldelim();
  }

  /** A packed repeated varint field (int64 values). */
  packedInt64(field: number, values: ArrayLike<bigint | number>): void {
    if (values.length === 0) return;
    this.message(field, () => {
      for (let i = 0; i < values.length; i++) this.rawInt64(values[i]!);
    });
  }

  /** A packed repeated int32 varint field. */
  packedInt32(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    this.message(field, () => {
      for (let i = 0; i < values.length; i++) this.w.int32(values[i]!);
    });
  }

  /** A packed repeated float (fixed32) field. */
  packedFloat(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    this.message(field, () => {
      for (let i = 0; i < values.length; i++) this.w.float(values[i]!);
    });
  }

  /** A packed repeated double (fixed64) field. */
  packedDouble(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    this.message(field, () => {
      for (let i = 0; i < values.length; i++) this.w.double(values[i]!);
    });
  }

  /**
   * The encoded bytes, in a Uint8Array that owns its memory. (protobufjs returns a Node Buffer cut from a
   * shared slab for small messages: its `.slice()` is a view and its `.buffer` holds other messages' bytes.)
   */
  finish(): Uint8Array {
    const out = this.w.finish();
    if (out.constructor === Uint8Array && out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) return out;
    return new Uint8Array(out);
  }
}
