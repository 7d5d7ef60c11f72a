/**
 * CPU kernels of the 'shape' family (being written).
 */
export {};
