/**
 * Repair: finishing what a process killed while holding a container's lock left undone (the lock's next
 * taker runs repairStale), and the sweep verbs that list or create run (stale locks, exited containers still
 * holding their mount, network leftovers no container owns).
 */
import { NoSuchContainer } from '../../errors.ts';
import type { ContainerRow } from '../../store/containers.ts';
import { isAlive, procStartTime, selfIdentity } from '../../sys/proc.ts';
import type { EngineCore } from '../core.ts';
import { settleWorkers, sweepNetworkOrphans } from '../network-attach.ts';
import { move } from '../state.ts';
import { wakeSupervisor } from '../supervisor-launch.ts';
import { cleanup } from './cleanup.ts';
import { teardownRuntime } from './teardown.ts';
import { removeFiles } from './teardown.ts';

/** Finish what a process killed while holding a container's lock left undone. */
export async function repairStale(engine: EngineCore, row: ContainerRow, deadPid: number): Promise<void> {
  // The dead holder's network plugins may still be at work (the monitor's exit command, run when the start
  // pipe closed, can be here within milliseconds of the kill): let them finish before undoing anything.
  const settled = row.net.netns ? settleWorkers([row.id]) : Promise.resolve();
  if (row.state === 'creating' || row.state === 'removing') {
    await settled;
    await teardownRuntime(engine, row);
    await removeFiles(engine, row.id);
    engine.containers.delete(row.id);
    engine.notice(`cleaned up container ${row.id.slice(0, 12)} left half-made by an interrupted process (pid ${deadPid})`);
    return;
  }
  // The start it made (if any) is no longer in progress: an exit it left is this container's to record.
  const cur = engine.sync({ ...row, lockPid: 0, lockStart: 0 });
  if (cur.state !== 'created') return;
  // Killed during a start: the monitor may have gone on (for conmon, the start pipe's EOF lets it run the runtime) before
  // its pid was recorded. Ask the runtime: a process that runs is adopted, anything less is undone.
  const st = await engine.driverFor(cur)?.state(cur.id).catch(() => null);
  if (st && (st.status === 'running' || st.status === 'paused') && st.pid > 0) {
    const monitorPid = engine.watcher(cur).monitorPid(engine.dir(cur.id));
    const adopted = {
      startedAt: new Date().toISOString(),
      pid: st.pid,
      pidStart: procStartTime(st.pid) ?? 0,
      monitorPid,
      monitorStart: procStartTime(monitorPid) ?? 0,
    };
    engine.containers.update(cur.id, ...move(st.status === 'running' ? 'adoptRunning' : 'adoptPaused', adopted));
    engine.notice(`adopted container ${row.id.slice(0, 12)}: it was started by an interrupted process (pid ${deadPid})`);
    return;
  }
  if (!st && !cur.mounted && cur.monitorPid === 0 && !cur.net.netns) return;
  await settled;
  await teardownRuntime(engine, cur, true);
  // The reset container never ran: the monitor of the interrupted start writes an exit file when the
  // runtime's delete kills its init, and a later sync must not take that for this container's exit.
  engine.containers.update(cur.id, { monitorPid: 0, monitorStart: 0 });
  engine.notice(`reset container ${row.id.slice(0, 12)}: its start was interrupted (pid ${deadPid})`);
}

/**
 * Repair every container whose lock holder died, and clean up exited containers still holding their
 * mount or runtime state (their exit command did not run). Verbs that list or create call engine.
 */
export async function repair(engine: EngineCore): Promise<void> {
  const me = selfIdentity();
  for (const row of engine.containers.locked()) {
    if (row.lockPid === me.pid || isAlive(row.lockPid, row.lockStart)) continue;
    try {
      await engine.withLock(row.id, async () => {}, 1000);
    } catch (e) {
      if (!(e instanceof NoSuchContainer)) throw e;
    }
  }
  // Only a mounted container can need this (listing just those keeps `ps` cheap with many containers).
  for (const row of engine.containers.mounted()) {
    const cur = engine.sync(row);
    if (cur.state === 'exited' && cur.mounted && cur.lockPid === 0 && engine.monitorGone(cur)) {
      await cleanup(engine, cur.id).catch((e: unknown) => {
        if (!(e instanceof NoSuchContainer)) throw e;
      });
    }
  }
  // A supervisor that died (or was never started: a host reboot) is started again by the next command.
  if (!engine.restartListener && engine.containers.supervisedCount() > 0) await wakeSupervisor(engine);
  // Network leftovers come only from processes killed midway: a long-lived engine (berth serve, a library
  // user) looks for them now and then, not on every list, which is its hottest read.
  const now = Date.now();
  if (now - (lastNetworkSweep.get(engine) ?? -Infinity) < NETWORK_SWEEP_EVERY_MS) return;
  lastNetworkSweep.set(engine, now);
  const swept = await sweepNetworkOrphans(engine, (r) => r.lockPid !== 0 && isAlive(r.lockPid, r.lockStart));
  if (swept.length > 0) engine.notice(`released network leftovers no container owns: ${swept.join(', ')}`);
}

const NETWORK_SWEEP_EVERY_MS = 10_000;
const lastNetworkSweep = new WeakMap<EngineCore, number>();
