/**
 * CPU kernels of the 'conv' family (being written).
 */
export {};
