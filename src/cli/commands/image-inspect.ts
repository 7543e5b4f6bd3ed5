/** `berth image inspect IMAGE...` */
import type { Globals } from '../globals.ts';
import { main as inspect } from './inspect.ts';

export async function main(argv: string[], g: Globals): Promise<number> {
  return inspect(argv, g, 'image');
}
