/**
 * Registers the kernels and gradient configs this project adds to TensorFlow.js
 * (wasm training kernels, dilated-conv gradients). Idempotent.
 * (Issue 5 fills this in.)
 */
export function registerTrainingKernels(): void {}
