/**
 * CPU kernels of the 'gather' family (being written).
 */
export {};
