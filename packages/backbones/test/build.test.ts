import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  deeplabV3Plus,
  ladderDenseNet,
  splitEncoderVariables,
} from '@densehybrid/backbones';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('buildModel and splitEncoderVariables', () => {
  it('rebuilds both architectures from their JSON config', () => {
    for (const model of [
      ladderDenseNet({ preset: 'tiny', numClasses: 2, upSizes: [16, 16, 32] }),
      deeplabV3Plus({
        encoder: 'resnet18',
        baseWidth: 4,
        asppChannels: 8,
        outputStride: 8,
        numClasses: 2,
      }),
    ]) {
      const copy = buildModel(JSON.parse(JSON.stringify(model.config)) as Record<string, unknown>);
      expect(copy.config).toEqual(model.config);
      expect([...copy.variables].map(([n, v]) => [n, v.shape])).toEqual(
        [...model.variables].map(([n, v]) => [n, v.shape]),
      );
      copy.dispose();
      model.dispose();
    }
    expect(() => buildModel({ architecture: 'unet', numClasses: 2 })).toThrow(
      /config\.architecture to be one of 'ladderDenseNet', 'deeplabV3Plus', got "unet"/,
    );
  });

  it('splits trainable variables into the ImageNet encoder and the rest', () => {
    const ldn = ladderDenseNet({ preset: 'tiny', numClasses: 2 });
    const { encoder, decoder } = splitEncoderVariables(ldn);
    expect(encoder.length + decoder.length).toBe(ldn.trainableVariables().length);
    const names = new Map([...ldn.variables].map(([n, v]) => [v, n]));
    expect(encoder.every((v) => names.get(v)!.startsWith('backbone.features.'))).toBe(true);
    expect(decoder.map((v) => names.get(v)).filter((n) => n!.startsWith('backbone.'))).toEqual([]);
    expect(encoder.some((v) => names.get(v)!.includes('running'))).toBe(false);
    const dl = deeplabV3Plus({ encoder: 'resnet18', baseWidth: 4, asppChannels: 8, numClasses: 2 });
    const split = splitEncoderVariables(dl);
    const dlNames = new Map([...dl.variables].map(([n, v]) => [v, n]));
    expect(split.encoder.map((v) => dlNames.get(v))[0]).toBe('conv1.weight');
    expect(split.decoder.map((v) => dlNames.get(v))[0]).toBe('aspp.img_conv.0.weight');
    expect(split.decoder.map((v) => dlNames.get(v)).at(-1)).toBe('final.6.weight');
    ldn.dispose();
    dl.dispose();
  });
});
