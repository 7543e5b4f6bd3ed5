/** `berth pause CONTAINER...` */
import { containerVerb } from '../common.ts';

export const main = containerVerb('pause', 'Pause all processes within one or more containers', async (engine, ref) => {
  await engine.pause(ref);
  return ref;
});
