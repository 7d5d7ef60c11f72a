/**
 * Operator family 'shape': schemas and eager functions (being written).
 */
export {};
