/** Runtime: onnxruntime sessions, execution providers and tensor conversions. */
export * from './providers.js';
export * from './session.js';
export * from './tensors.js';
