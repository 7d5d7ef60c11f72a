/**
 * Operator schemas: what each operator accepts and produces, checked before any kernel runs.
 *
 * A schema lists inputs (with a type variable each, optional and variadic flags), type constraints (which
 * dtypes a type variable may take), attributes (kind, default, required), an optional `normalize` step that
 * turns an older opset's form into the canonical one (e.g. Squeeze-11's `axes` attribute vs Squeeze-13's axes
 * input), and `infer`, which validates what the type table cannot express and returns the output types and
 * dims. Kernels then only compute.
 */
import type { AttrValue, Attrs, GraphAttribute, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { OpValidationError } from '../tensor/errors.js';
import { fmtShape, tryBroadcastShapes } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** Attribute kinds (the ONNX AttributeProto types Tessera uses). */
export type AttrKind = 'int' | 'float' | 'string' | 'ints' | 'floats' | 'strings' | 'tensor' | 'tensors' | 'graph' | 'graphs';

/** One attribute of a schema. */
export interface AttrSpec {
  readonly kind: AttrKind;
  /** Value used when the attribute is absent. */
  readonly default?: AttrValue;
  /** The attribute must be given. */
  readonly required?: boolean;
  /** Accepted for compatibility with older opsets but ignored (e.g. BatchNormalization's `spatial`). */
  readonly ignored?: boolean;
}

/** One input of a schema. */
export interface InputSpec {
  readonly name: string;
  /** Name of the type variable in `types` that constrains this input. */
  readonly type: string;
  readonly optional?: boolean;
  /** Takes all remaining inputs (at least one unless optional). Only the last input may be variadic. */
  readonly variadic?: boolean;
}

/** Context for normalize and infer. */
export interface InferContext {
  /** Opset version of the operator's domain. */
  readonly opset: number;
  /** Node name, when known. */
  readonly node?: string;
  /** Number of outputs the caller wants (a graph node's output count), when known. */
  readonly numOutputs?: number;
}

/** The canonical call an op's normalize step produces. */
export interface Normalized {
  inputs: (Tensor | undefined)[];
  attrs: Record<string, AttrValue>;
}

/** Everything Tessera knows about one operator. */
export interface OpSchema {
  readonly name: string;
  /** Operator domain, '' for the default ONNX domain. */
  readonly domain?: string;
  readonly inputs: readonly InputSpec[];
  /** Output names, for documentation and the graph layer. */
  readonly outputs: readonly string[];
  /** Type variables and the dtypes each may take. */
  readonly types: Readonly<Record<string, readonly DataType[]>>;
  readonly attributes: Readonly<Record<string, AttrSpec>>;
  /**
   * Rewrite the call into canonical form before validation (move constant inputs into attributes, apply an
   * older opset's defaults). Receives attributes with defaults already filled. Optional.
   */
  normalize?(inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext): Normalized;
  /** Validate the canonical call and return output types and dims. Throw OpValidationError via `fail`. */
  infer(inputs: readonly (Tensor | undefined)[], attrs: Attrs, ctx: InferContext): OutputSpec[];
}

const schemas = new Map<string, OpSchema>();

/** Register a schema. Each (domain, name) is defined once. */
export function defineOp(schema: OpSchema): OpSchema {
  const k = `${schema.domain ?? ''}\u0000${schema.name}`;
  if (schemas.has(k)) throw new OpValidationError(schema.name, 'schema defined twice');
  schemas.set(k, schema);
  return schema;
}

/** The schema of an operator, or undefined. */
export function findSchema(name: string, domain = ''): OpSchema | undefined {
  return schemas.get(`${domain}\u0000${name}`);
}

/** Names of all defined operators (domain-qualified when not default), sorted. */
export function listSchemas(): string[] {
  return [...schemas.values()].map((s) => (s.domain ? `${s.domain}.${s.name}` : s.name)).sort();
}

// ---------------------------------------------------------------------------------------------------------
// Type groups for constraints.

export const FLOAT_TYPES: readonly DataType[] = ['float32', 'float16', 'float64'];
export const INT_TYPES: readonly DataType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64'];
export const SIGNED_TYPES: readonly DataType[] = ['float32', 'float16', 'float64', 'int8', 'int16', 'int32', 'int64'];
export const NUMERIC_TYPES: readonly DataType[] = [...FLOAT_TYPES, ...INT_TYPES];
export const ALL_TYPES: readonly DataType[] = [...NUMERIC_TYPES, 'bool'];
export const INDEX_TYPES: readonly DataType[] = ['int32', 'int64'];

// ---------------------------------------------------------------------------------------------------------
// Validation helpers used by infer().

/** Throw an OpValidationError for `op` (with the node name when known). */
export function fail(op: string, message: string, ctx?: InferContext): never {
  throw new OpValidationError(ctx?.node ? `${op} (node '${ctx.node}')` : op, message);
}

/** The required input `i`; throws naming it when absent. */
export function req(op: string, inputs: readonly (Tensor | undefined)[], i: number, name: string, ctx?: InferContext): Tensor {
  const t = inputs[i];
  if (!t) fail(op, `input ${i} '${name}' is required but missing`, ctx);
  return t;
}

/** The broadcast shape of `shapes`; an OpValidationError naming them when they do not broadcast. */
export function broadcastOrFail(op: string, ctx: InferContext | undefined, ...shapes: readonly (readonly number[])[]): number[] {
  const out = tryBroadcastShapes(...shapes);
  if (!out) fail(op, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together`, ctx);
  return out;
}

/** Throw unless `t` has rank `rank` (or one of several). */
export function expectRank(op: string, name: string, t: Tensor, rank: number | readonly number[], ctx?: InferContext): void {
  const ok = typeof rank === 'number' ? t.rank === rank : rank.includes(t.rank);
  if (!ok) {
    const want = typeof rank === 'number' ? `rank ${rank}` : `rank ${rank.join(' or ')}`;
    fail(op, `input '${name}' has shape ${fmtShape(t.dims)} (rank ${t.rank}); expected ${want}`, ctx);
  }
}

/** Throw unless `t` has at least rank `min`. */
export function expectMinRank(op: string, name: string, t: Tensor, min: number, ctx?: InferContext): void {
  if (t.rank < min) fail(op, `input '${name}' has shape ${fmtShape(t.dims)} (rank ${t.rank}); expected rank >= ${min}`, ctx);
}

/** Integer values of a 1-D (or scalar) int32/int64 tensor, clamped to the safe range. */
export function intValues(op: string, name: string, t: Tensor, ctx?: InferContext): number[] {
  if (t.type !== 'int64' && t.type !== 'int32') fail(op, `input '${name}' must be int32 or int64, got ${t.type}`, ctx);
  if (t.rank > 1) fail(op, `input '${name}' must be 1-D, got shape ${fmtShape(t.dims)}`, ctx);
  if (t.type === 'int32') return Array.from(t.data as Int32Array);
  const d = t.data as BigInt64Array;
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return Array.from(d, (v) => (v > max ? Number.MAX_SAFE_INTEGER : v < -max ? -Number.MAX_SAFE_INTEGER : Number(v)));
}

/** Numbers of an attribute that is `ints` (checked by the schema). */
export function ints(attrs: Attrs, name: string): number[] {
  const v = attrs[name];
  return v === undefined ? [] : Array.from(v as readonly number[]);
}

// ---------------------------------------------------------------------------------------------------------
// Attribute resolution.

function isGraph(v: unknown): v is GraphAttribute {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'graph';
}

function checkKind(op: string, name: string, kind: AttrKind, v: AttrValue, ctx?: InferContext): AttrValue {
  const bad = (): never => fail(op, `attribute '${name}' must be ${kind}, got ${describe(v)}`, ctx);
  switch (kind) {
    case 'int':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v !== 'number' || !Number.isInteger(v)) bad();
      return v;
    case 'float':
      if (typeof v !== 'number') bad();
      return v;
    case 'string':
      if (typeof v !== 'string') bad();
      return v;
    case 'ints':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) bad();
      return Object.freeze([...(v as number[])]);
    case 'floats':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) bad();
      return Object.freeze([...(v as number[])]);
    case 'strings':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad();
      return Object.freeze([...(v as string[])]);
    case 'tensor':
      if (!(v instanceof Tensor)) bad();
      return v;
    case 'tensors':
      if (!Array.isArray(v) || !v.every((x) => x instanceof Tensor)) bad();
      return v;
    case 'graph':
      if (!isGraph(v)) bad();
      return v;
    case 'graphs':
      if (!Array.isArray(v) || !v.every(isGraph)) bad();
      return v;
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array [${v.slice(0, 8).map(String).join(', ')}${v.length > 8 ? ', ...' : ''}]`;
  if (v instanceof Tensor) return v.toString();
  return `${typeof v} ${String(v)}`;
}

/**
 * Check given attributes against the schema and fill defaults. Unknown attribute names are an error (an
 * attribute Tessera would ignore could change the result). Returns a null-prototype record.
 */
export function resolveAttrs(schema: OpSchema, given: Readonly<Record<string, AttrValue | undefined>>, ctx?: InferContext): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const name of Object.keys(given)) {
    const v = given[name];
    if (v === undefined) continue;
    if (!Object.prototype.hasOwnProperty.call(schema.attributes, name)) {
      const known = Object.keys(schema.attributes);
      fail(schema.name, `unknown attribute '${name}'; known attributes: ${known.length ? known.join(', ') : 'none'}`, ctx);
    }
    const spec = schema.attributes[name]!;
    if (spec.ignored) continue;
    out[name] = checkKind(schema.name, name, spec.kind, v, ctx);
  }
  for (const name of Object.keys(schema.attributes)) {
    const spec = schema.attributes[name]!;
    if (spec.ignored || name in out) continue;
    if (spec.required) fail(schema.name, `attribute '${name}' is required`, ctx);
    if (spec.default !== undefined) out[name] = spec.default;
  }
  return out;
}
