/**
 * CPU kernels of the 'matmul' family (being written).
 */
export {};
