/**
 * `berth system supervise`: the root's supervisor as a process of its own (src/engine/supervisor.ts), started
 * on demand by the engine; it ends by itself once nothing needs it. Not for users to run, though harmless:
 * a second one on a root ends at once. Its warnings go to stderr (the engine points it at supervisor.log).
 */
import { engineFor, report } from '../common.ts';
import type { Globals } from '../globals.ts';

export async function main(argv: string[], g: Globals): Promise<number> {
  if (argv.length !== 0) return report(new (await import('../../errors.ts')).InvalidArgument('usage: berth system supervise'), 'supervise');
  const engine = engineFor(g);
  try {
    const s = await engine.supervise({ exitWhenIdle: true });
    await Promise.race([s.ended, new Promise<void>((r) => (process.once('SIGTERM', r), process.once('SIGINT', r)))]);
    await s.close();
    return 0;
  } catch (e) {
    return report(e, 'supervise');
  } finally {
    engine.close();
  }
}
