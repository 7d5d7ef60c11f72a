/**
 * CPU kernels of the further operators (being written).
 */
export {};
