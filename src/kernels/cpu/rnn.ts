/**
 * CPU kernels of the 'rnn' family (being written).
 */
export {};
