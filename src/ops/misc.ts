/**
 * Further operators (losses, attention, signal processing, detection utilities): being written.
 */
export {};
