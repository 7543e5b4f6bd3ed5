/** `kill`, `pause` and `unpause`: signals and the freezer, guarded by the state table. */
import { Conflict, NotSupported } from '../../errors.ts';
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { parseSignal, signalNumber } from '../signals.ts';
import { canKill, canPause, canUnpause, move } from '../state.ts';

export async function kill(engine: EngineCore, ref: string, signal = 'SIGKILL'): Promise<ContainerRow> {
  const sig = parseSignal(signal);
  return engine.withLock(ref, async (row) => {
    if (!canKill(row.state)) {
      throw new Conflict(`cannot kill container: ${ref}: container ${row.id} is not running`);
    }
    // docker's rule: SIGKILL or the container's stop signal is the user stopping it; its restart policy
    // does not bring it back. Set before the signal, so the exit finds it.
    if (sig === 'SIGKILL' || sig === row.config.stopSignal) engine.containers.update(row.id, { stoppedByUser: true });
    await engine.driver(row.config.runtime).kill(row.id, sig);
    engine.emitContainer(row, 'kill', { signal: String(signalNumber(sig)) });
    return row;
  });
}

export async function pause(engine: EngineCore, ref: string): Promise<ContainerRow> {
  return engine.withLock(ref, async (row) => {
    if (canUnpause(row.state)) throw new Conflict(`container ${row.id} is already paused`);
    if (!canPause(row.state)) throw new Conflict(`container ${row.id} is not running`);
    // Pausing freezes the container's cgroup; an ordinary user's containers have none (src/engine/rootless.ts).
    if (engine.rootlessUser !== undefined) throw new NotSupported("an ordinary user's container cannot be paused: pausing freezes its cgroup, and no cgroup is delegated to the user");
    await engine.driver(row.config.runtime).pause(row.id);
    engine.containers.update(row.id, ...move('pause'));
    engine.emitContainer(row, 'pause');
    return engine.containers.get(row.id)!;
  });
}

export async function unpause(engine: EngineCore, ref: string): Promise<ContainerRow> {
  return engine.withLock(ref, async (row) => {
    if (!canUnpause(row.state)) throw new Conflict(`container ${row.id} is not paused`);
    await engine.driver(row.config.runtime).unpause(row.id);
    engine.containers.update(row.id, ...move('unpause'));
    engine.emitContainer(row, 'unpause');
    return engine.containers.get(row.id)!;
  });
}
