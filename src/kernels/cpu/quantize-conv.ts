/**
 * CPU kernels of ConvInteger and QLinearConv (written after the conv family lands).
 */
export {};
