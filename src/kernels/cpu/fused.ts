/**
 * CPU kernels of the fused operators (being written).
 */
export {};
