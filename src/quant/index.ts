/**
 * Compression: quantization math (./math.ts, with plain-loop twins in ./reference.ts), calibration, the
 * quantize passes (float16 weights, dynamic int8, static int8 QDQ), the opset upgrade they rely on, model
 * load/save for passes, accuracy measures and size/FLOP statistics.
 */
export * from './math.js';
export * from './calibrate.js';
export * from './passes.js';
export * from './int4.js';
export * from './opset.js';
export * from './accuracy.js';
export * from './stats.js';
export { loadForCompression, applyRules, saveModel, modelToProto, compactNames, type CompressModel, type RuleRun } from './model.js';
