/**
 * Error types. Every error Tessera raises on purpose is a `TesseraError`; the subclasses say which layer
 * refused the input. Messages name what was wrong, where (op, node, input) and what was expected.
 */

/** Base class of every error Tessera throws deliberately. */
export class TesseraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor was built from data that does not match its dtype or dims. */
export class TensorError extends TesseraError {}

/** An operator received inputs or attributes that its schema rejects. */
export class OpValidationError extends TesseraError {
  constructor(
    /** Operator type, e.g. `Conv`. */
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/**
 * A valid call that asks for something Tessera deliberately does not implement (e.g. training-mode Dropout
 * with a random mask). Distinct from a malformed call; the conformance runner reports it as "unsupported".
 */
export class UnsupportedFeatureError extends OpValidationError {}

/** No kernel is registered for an (operator, backend) pair. */
export class KernelNotFoundError extends TesseraError {
  constructor(
    readonly op: string,
    readonly backend: string,
  ) {
    super(`no kernel registered for operator '${op}' on backend '${backend}'`);
  }
}

/** A kernel failed at run time in a way validation could not foresee. */
export class KernelError extends TesseraError {}
