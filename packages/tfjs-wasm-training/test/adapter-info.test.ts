/**
 * Software-adapter detection and adapter names, from adapter info strings real drivers report.
 * Needs no GPU: part of the normal `core` project (the GPU suite is the `*.webgpu.ts` files).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  adapterName,
  DAWN_BACKEND_NAMES,
  isSoftwareAdapter,
  loadWebGpu,
} from '@densehybrid/tfjs-wasm-training';

const SOFTWARE = [
  // Dawn OpenGL ES on Mesa llvmpipe (Debian 12), as Dawn reports it
  {
    vendor: '',
    architecture: '',
    device: 'llvmpipe-llvm-15-0-6-256-bits-',
    description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
  },
  // Vulkan lavapipe (Mesa 25, Debian bookworm-backports), as Dawn reports it
  {
    vendor: 'mesa',
    architecture: 'software',
    device: 'llvmpipe-llvm-15-0-6-256-bits-',
    description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1',
    isFallbackAdapter: true,
  },
  // the same without the fallback flag: recognised by name
  { vendor: 'mesa', device: 'llvmpipe (LLVM 19.1.7, 256 bits)', description: 'Mesa 25.0.7' },
  // SwiftShader (Vulkan)
  {
    vendor: 'google',
    architecture: '',
    device: 'SwiftShader Device (Subzero)',
    description: 'SwiftShader driver',
  },
  // Windows WARP
  {
    vendor: 'microsoft',
    architecture: '',
    device: 'Microsoft Basic Render Driver',
    description: 'D3D12 driver version 10.0',
  },
  // the spec's fallback flag alone
  { vendor: 'x', device: 'y', isFallbackAdapter: true },
  // Chrome-style adapter type
  { vendor: 'x', device: 'y', type: 'CPU' },
];

const HARDWARE = [
  {
    vendor: 'nvidia',
    architecture: 'hopper',
    device: 'NVIDIA H100 80GB HBM3',
    description: 'NVIDIA: 550.54.15 550.54.15.0',
  },
  { vendor: 'apple', architecture: 'metal-3', device: 'Apple M1 Max', description: '' },
  {
    vendor: 'amd',
    architecture: 'rdna-2',
    device: 'AMD Radeon RX 6800 (RADV NAVI21)',
    description: 'radv Mesa 24.2.8',
  },
  {
    vendor: 'intel',
    architecture: 'gen-9',
    device: 'Intel(R) UHD Graphics 630 (CFL GT2)',
    description: 'Intel open-source Mesa driver: Mesa 23.2.1',
  },
  {
    vendor: 'nvidia',
    device: 'NVIDIA GeForce RTX 4090',
    type: 'discrete GPU',
    isFallbackAdapter: false,
  },
];

describe('isSoftwareAdapter', () => {
  it.each(SOFTWARE)('software: $device', (info) => {
    expect(isSoftwareAdapter(info)).toBe(true);
  });
  it.each(HARDWARE)('hardware: $device', (info) => {
    expect(isSoftwareAdapter(info)).toBe(false);
  });
});

describe('adapterName', () => {
  it('uses the device, trims Dawn trailing dashes, adds the driver without "OpenGL version"', () => {
    expect(adapterName(SOFTWARE[0] as object)).toBe(
      'llvmpipe-llvm-15-0-6-256-bits (OpenGL ES 3.2 Mesa 22.3.6)',
    );
    expect(adapterName(HARDWARE[0] as object)).toBe(
      'NVIDIA H100 80GB HBM3 (NVIDIA: 550.54.15 550.54.15.0)',
    );
    expect(adapterName({ device: 'Apple M1 Max', description: '' })).toBe('Apple M1 Max');
  });
  it('falls back to vendor + architecture, then the description, then "unknown adapter"', () => {
    expect(adapterName({ vendor: 'nvidia', architecture: 'ampere', device: '' })).toBe(
      'nvidia ampere',
    );
    expect(adapterName({ description: 'some driver' })).toBe('some driver');
    expect(adapterName({})).toBe('unknown adapter');
  });
});

describe('DAWN_BACKEND_NAMES', () => {
  it("lists Dawn's backends, with 'default' first", () => {
    expect(DAWN_BACKEND_NAMES[0]).toBe('default');
    expect([...DAWN_BACKEND_NAMES].sort()).toEqual(
      ['d3d11', 'd3d12', 'default', 'metal', 'null', 'opengl', 'opengles', 'vulkan'].sort(),
    );
  });
});

describe('loadWebGpu without a Vulkan loader (Linux)', () => {
  const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find((p) => existsSync(p));
  const listed =
    ldconfig === undefined
      ? undefined
      : spawnSync(ldconfig, ['-p'], { encoding: 'utf8' }).stdout.includes('libvulkan.so.1');
  it.runIf(process.platform === 'linux' && listed !== undefined)(
    'refuses before loading Dawn when ldconfig lists no libvulkan.so.1, and names the fix',
    async () => {
      const saved = process.env['DENSEHYBRID_WEBGPU_BACKEND'];
      delete process.env['DENSEHYBRID_WEBGPU_BACKEND'];
      try {
        const result = await loadWebGpu({ allowSoftwareAdapter: false }).catch(
          (e: unknown) => e as Error,
        );
        if (listed === false) {
          expect(result).toBeInstanceOf(Error);
          expect((result as Error).message).toMatch(
            /^no Vulkan loader \(libvulkan\.so\.1\) .* install the GPU driver with Vulkan support/,
          );
        } else if (result instanceof Error) {
          expect(result.message).not.toMatch(/no Vulkan loader/);
        }
      } finally {
        if (saved !== undefined) process.env['DENSEHYBRID_WEBGPU_BACKEND'] = saved;
      }
    },
  );
});
