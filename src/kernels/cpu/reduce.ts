/**
 * CPU kernels of the 'reduce' family (being written).
 */
export {};
