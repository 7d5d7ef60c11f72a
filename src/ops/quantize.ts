/**
 * Operator family 'quantize': schemas and eager functions (being written).
 */
export {};
