/**
 * Operator family 'rnn': schemas and eager functions (being written).
 */
export {};
