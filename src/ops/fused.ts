/**
 * Fused operators that graph passes emit (domain 'com.tessera'): being written.
 */
export {};
