// Registers TensorFlow.js' standard gradients in Node. tfjs-core's Node bundle (tf-core.node.js)
// ships no gradient configs, and its ESM `dist/register_all_gradients.js` uses extensionless
// imports that Node's ESM loader rejects; a resolve hook appends `.js` to those. The gradient
// registry and the engine are process-global, so the configs reach the bundle's engine.
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('.') && !specifier.endsWith('.js') &&
      context.parentURL?.includes('/@tensorflow/tfjs-core/dist/')) {
    try {
      return await next(specifier + '.js', context);
    } catch {
      return next(specifier + '/index.js', context);
    }
  }
  return next(specifier, context);
}`;
register('data:text/javascript,' + encodeURIComponent(hook), import.meta.url);
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
