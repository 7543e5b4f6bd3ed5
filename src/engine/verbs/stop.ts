/** `stop`: the stop signal, then SIGKILL after the timeout, then the cleanup of the exit. */
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { parseSignal, signalNumber } from '../signals.ts';
import { canKill, canStop, stopActsOn } from '../state.ts';
import { waitExit } from './wait.ts';
import { cleanup } from './cleanup.ts';

/** Send the stop signal; SIGKILL after `timeout` seconds (the container's own when unset). */
export async function stop(engine: EngineCore, ref: string, timeout?: number, signal?: string): Promise<ContainerRow> {
  let row = engine.find(ref);
  const sig = signal ? parseSignal(signal) : undefined;
  const sent = await engine.withLock(ref, async (r) => {
    row = r;
    // A restart its policy scheduled is called off, and an exit not yet cleaned up is not restarted: the user
    // stopped it (docker's stop of a restarting container).
    if (!canStop(r.state) && stopActsOn(r)) engine.containers.update(r.id, { restartAt: '', stoppedByUser: true });
    if (!canStop(r.state)) return false;
    // Before the signal: whichever process sees the exit first must not restart it.
    engine.containers.update(r.id, { stoppedByUser: true });
    const s = r.state === 'paused' ? 'SIGKILL' : (sig ?? r.config.stopSignal);
    const drv = engine.driver(r.config.runtime);
    await drv.kill(r.id, s, r.state === 'paused');
    engine.emitContainer(r, 'kill', { signal: String(signalNumber(parseSignal(s))) });
    // A frozen process cannot act on a signal: thaw it (runc's kill --all may have done so already).
    if (r.state === 'paused') await drv.unpause(r.id).catch(() => {});
    return true;
  });
  if (!sent) return row;
  const secs = timeout ?? row.config.stopTimeout;
  if (!(secs >= 0 && (await waitExit(engine, row.id, secs * 1000)))) {
    await engine.withLock(ref, async (r) => {
      if (canKill(r.state)) {
        await engine.driver(r.config.runtime).kill(r.id, 'SIGKILL', true);
        engine.emitContainer(r, 'kill', { signal: '9' });
      }
    });
    await waitExit(engine, row.id, 30_000);
  }
  const out = await cleanup(engine, row.id);
  engine.emitContainer(row, 'stop');
  return out;
}
