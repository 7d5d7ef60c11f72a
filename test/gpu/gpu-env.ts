/**
 * Whether GPU tests can run here, decided once per test file.
 *
 * When no GPU context can be made (no `gl` build, no X display), GPU tests must not pass silently: the suite
 * is skipped with the reason printed once ("GPU tests not run: ..."), and when TESSERA_REQUIRE_GPU=1 (CI)
 * that situation is a failing test instead.
 */
import { describe, it } from 'vitest';
import { gpuUnavailableReason, getGpuDevice } from '../../src/kernels/gpu/index.js';

/** Why the GPU cannot be used, or undefined when it can. */
export const GPU_UNAVAILABLE = gpuUnavailableReason();

/** The renderer label of the device (for timing messages), or 'none'. */
export const RENDERER = GPU_UNAVAILABLE ? 'none' : getGpuDevice().renderer;

const required = process.env['TESSERA_REQUIRE_GPU'] === '1';
let announced = false;

/** `describe` that runs only with a GPU; otherwise announces the skip (or fails under TESSERA_REQUIRE_GPU=1). */
export function describeGpu(name: string, body: () => void): void {
  if (!GPU_UNAVAILABLE) {
    describe(name, body);
    return;
  }
  if (!announced) {
    announced = true;
    console.warn(`GPU tests not run: ${GPU_UNAVAILABLE}`);
  }
  if (required) {
    describe(name, () => {
      it('needs a GPU context (TESSERA_REQUIRE_GPU=1)', () => {
        throw new Error(`GPU tests required but not run: ${GPU_UNAVAILABLE}`);
      });
    });
  } else describe.skip(`${name} (GPU tests not run: ${GPU_UNAVAILABLE})`, body);
}
