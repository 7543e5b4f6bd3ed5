/** `berth wait CONTAINER...`: block until each stops, print its exit code. */
import { containerVerb } from '../common.ts';

export const main = containerVerb('wait', 'Block until one or more containers stop, then print their exit codes', async (engine, ref) =>
  String(await engine.wait(ref)),
);
