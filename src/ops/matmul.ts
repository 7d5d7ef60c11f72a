/**
 * Operator family 'matmul': schemas and eager functions (being written).
 */
export {};
