/** `berth unpause CONTAINER...` */
import { containerVerb } from '../common.ts';

export const main = containerVerb('unpause', 'Unpause all processes within one or more containers', async (engine, ref) => {
  await engine.unpause(ref);
  return ref;
});
