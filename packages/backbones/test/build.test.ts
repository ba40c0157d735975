import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BACKBONE_NAMES,
  createBackbone,
  deeplabV3Plus,
  ladderDenseNet,
  type SegmentationModel,
} from '@densehybrid/backbones';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

function sameWeights(a: SegmentationModel, b: SegmentationModel): void {
  expect([...b.variables].map(([n, v]) => [n, v.shape])).toEqual(
    [...a.variables].map(([n, v]) => [n, v.shape]),
  );
  for (const [name, v] of a.variables) {
    expect(Array.from(b.variables.get(name)!.dataSync()), name).toEqual(Array.from(v.dataSync()));
  }
}

describe('createBackbone', () => {
  it('rebuilds both architectures from their JSON config, with the same initial weights', () => {
    for (const model of [
      ladderDenseNet({ preset: 'tiny', numClasses: 2, upSizes: [16, 16, 32], seed: 3 }),
      deeplabV3Plus({
        encoder: 'resnet18',
        baseWidth: 4,
        asppChannels: 8,
        outputStride: 8,
        numClasses: 2,
      }),
    ]) {
      const copy = createBackbone(
        JSON.parse(JSON.stringify(model.config)) as Record<string, unknown> & {
          architecture: string;
        },
      );
      expect(copy.config).toEqual(model.config);
      sameWeights(model, copy);
      copy.dispose();
      model.dispose();
    }
  });

  it('builds every name as the LDN preset or DeepLabV3+ encoder it stands for', () => {
    expect(BACKBONE_NAMES).toEqual([
      'tiny',
      'small',
      'densenet121',
      'deeplab-resnet18',
      'deeplab-resnet50',
      'deeplabv3plus-wrn38',
    ]);
    const tiny = createBackbone({ name: 'tiny', numClasses: 3, seed: 5 });
    const ldn = ladderDenseNet({ preset: 'tiny', numClasses: 3, seed: 5 });
    expect(tiny.config).toEqual(ldn.config);
    sameWeights(ldn, tiny);
    tiny.dispose();
    ldn.dispose();
    const r18 = createBackbone({ name: 'deeplab-resnet18', numClasses: 4 });
    expect(r18.config).toMatchObject({ architecture: 'deeplabV3Plus', encoder: 'resnet18' });
    expect(r18.config).toEqual(deeplabV3Plus({ encoder: 'resnet18', numClasses: 4 }).config);
    expect(r18.preLogitChannels).toBe(304);
    r18.dispose();
  });

  it('names the unknown architecture or name and lists the known ones', () => {
    expect(() => createBackbone({ architecture: 'unet', numClasses: 2 })).toThrow(
      /createBackbone: expected config\.architecture to be one of 'ladderDenseNet', 'deeplabV3Plus', 'deeplabV3PlusWrn38' .*got "unet"/,
    );
    expect(() => createBackbone({ name: 'resnet101' as 'tiny', numClasses: 2 })).toThrow(
      /createBackbone: expected name to be one of 'tiny', .*'deeplabv3plus-wrn38', got "resnet101"/,
    );
    expect(() => createBackbone({ name: 'constructor' as 'tiny', numClasses: 2 })).toThrow(
      /expected name to be one of/,
    );
  });
});
