/**
 * Operator family 'conv': schemas and eager functions (being written).
 */
export {};
