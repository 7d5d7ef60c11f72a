/**
 * Operator family 'gather': schemas and eager functions (being written).
 */
export {};
