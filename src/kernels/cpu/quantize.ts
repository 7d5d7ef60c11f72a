/**
 * CPU kernels of the 'quantize' family (being written).
 */
export {};
