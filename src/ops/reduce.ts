/**
 * Operator family 'reduce': schemas and eager functions (being written).
 */
export {};
