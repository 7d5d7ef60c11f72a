/**
 * Registers every CPU kernel. One import per operator family; a family file imports its own sub-files.
 */
import './elementwise.js';
import './matmul.js';
import './conv.js';
import './reduce.js';
import './shape.js';
import './gather.js';
import './rnn.js';
import './quantize.js';
import './fused.js';
import './misc.js';
import './fake-quant.js';
import './dynamic-fake-quant.js';
