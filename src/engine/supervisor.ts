/**
 * The supervisor: one per engine root, the part of the engine that acts when no command is running. It takes
 * the root's exits (src/engine/exit-watch.ts: conmon's exit command hands each over while it holds the lock)
 * and cleans them up, it runs the restarts their policies schedule when they are due, and it probes the
 * health of running containers that have a check (src/engine/health-monitor.ts).
 *
 * Daemonless: `berth system supervise` runs it as a process of its own, started on demand
 * (src/engine/supervisor-launch.ts) by a start or an exit that needs it, and ending once nothing needs it: no
 * restart is due, no live container has a restart policy and none that runs has a health check. `berth serve` runs the same code in its own
 * process for as long as it serves (it holds the same lock, so no second supervisor starts meanwhile).
 *
 * Nothing is lost when it dies: an exit then runs the CLI's cleanup, which schedules the restart and starts
 * a supervisor again; a restart already scheduled is in the store (restart_at) and read by the next one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NoSuchContainer } from '../errors.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { EngineCore } from './core.ts';
import { watchExits } from './exit-watch.ts';
import { HealthMonitor } from './health-monitor.ts';
import { restartNow } from './verbs/auto-restart.ts';

export interface SupervisorOptions {
  /** End once nothing needs a supervisor (the standalone process); `berth serve` stays as long as it runs. */
  exitWhenIdle: boolean;
}

export interface Supervisor {
  /** Resolves when it ended by itself (idle, its lock held by another, its root gone). */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

/** How often the store is read for restarts scheduled elsewhere and for idleness. */
const TICK_MS = 1000;
/** Ticks with nothing to watch over before a standalone supervisor ends. */
const IDLE_TICKS = 3;

export async function supervise(engine: EngineCore, opts: SupervisorOptions): Promise<Supervisor> {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let closed = false;
  let idleTicks = 0;
  let tick: NodeJS.Timeout | undefined;
  let end!: () => void;
  const ended = new Promise<void>((r) => (end = r));

  const runRestart = (id: string) => {
    timers.delete(id);
    const p = restartNow(engine, id)
      .catch((e: unknown) => {
        if (!(e instanceof NoSuchContainer) && !closed) engine.warn(`restarting container ${id.slice(0, 12)}: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => running.delete(p));
    running.add(p);
  };
  const due = (id: string, at: string) => {
    if (closed) return;
    clearTimeout(timers.get(id));
    timers.set(id, setTimeout(() => runRestart(id), Math.max(0, Date.parse(at) - Date.now())));
  };
  const seen = (row: ContainerRow) => {
    if (row.restartAt !== '' && !timers.has(row.id)) due(row.id, row.restartAt);
  };

  engine.restartListener = { restartDue: due };
  const health = new HealthMonitor(engine);
  const watch = await watchExits(engine, seen);
  if (opts.exitWhenIdle && !watch.held()) {
    // Another supervisor has the root: this one is not needed.
    await stop();
    return { ended: Promise.resolve(), close: async () => {} };
  }

  async function stop(): Promise<void> {
    if (closed) return;
    closed = true;
    clearInterval(tick);
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    if (engine.restartListener?.restartDue === due) engine.restartListener = undefined;
    await health.close();
    await watch.close();
    await Promise.all(running);
  }

  const rootGone = () => !existsSync(join(engine.root, 'berth.db'));
  tick = setInterval(() => {
    if (closed) return;
    if (rootGone()) return void stop().then(end);
    try {
      // Restarts another process scheduled while this one held the lock (a `wait` or `stop` elsewhere).
      for (const row of engine.containers.restartsDue()) seen(row);
      health.sync();
      if (!opts.exitWhenIdle) return;
      const busy = timers.size > 0 || running.size > 0 || engine.containers.supervisedCount() > 0;
      idleTicks = busy ? 0 : idleTicks + 1;
      if (idleTicks >= IDLE_TICKS) void stop().then(end);
    } catch (e) {
      engine.warn(`supervisor: ${e instanceof Error ? e.message : String(e)}`);
    }
  }, TICK_MS);
  if (!opts.exitWhenIdle) tick.unref();
  for (const row of engine.containers.restartsDue()) seen(row);
  health.sync();

  return { ended, close: stop };
}
