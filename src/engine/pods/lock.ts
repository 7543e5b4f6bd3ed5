/**
 * A pod's lock, which a container being made in the pod and `pod rm` both take, so that no container slips into
 * a pod being removed. A pod with an infra container uses that container's lock; a pinned pod (no infra
 * container) a lock file of its own, `<root>/pods/<id>.lock` (flock: released when its holder dies).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Conflict } from '../../errors.ts';
import type { PodRow } from '../../store/pods.ts';
import { tryLockFile, unlockFile } from '../../sys/flock.ts';
import type { EngineCore } from '../core.ts';

const lockFile = (engine: EngineCore, id: string) => join(engine.root, 'pods', `${id}.lock`);

export async function withPodLock<T>(engine: EngineCore, pod: PodRow, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  if (!pod.config.pinned) return engine.withLock(pod.config.infraId, () => fn(), timeoutMs);
  const file = lockFile(engine, pod.id);
  mkdirSync(join(engine.root, 'pods'), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  let fd: number | null;
  while ((fd = await tryLockFile(file)) === null) {
    if (Date.now() > deadline) throw new Conflict(`pod ${pod.name} is busy`);
    await new Promise((r) => setTimeout(r, 15));
  }
  try {
    return await fn();
  } finally {
    // The pod gone, its lock file goes too (a waiter that then gets the removed file finds no pod).
    if (!engine.pods.get(pod.id)) rmSync(file, { force: true });
    unlockFile(fd);
  }
}

