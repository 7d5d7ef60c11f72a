/**
 * Registers every CPU kernel. One import per operator family.
 */
import './elementwise.js';
