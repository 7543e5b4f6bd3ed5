/**
 * What the API server keeps in memory between requests: clients attached to a container that has not
 * started yet (connected when it starts: a connection, which only this process can hold). Everything else,
 * exec instances included, is the engine's. Two requests that change one container take turns in the
 * engine's lock (reentrant only within one operation), as two processes would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AttachStream } from '../engine/types.ts';

/** A client waiting for a created container's start, to be connected to its stdio. */
export interface PendingAttach {
  connect(stream: AttachStream | null): void;
  /** Whether it still wants the connection (the client may have gone). */
  readonly wanted: boolean;
}

export class ApiState {
  readonly attachers = new Map<string, Set<PendingAttach>>();

  addAttacher(containerId: string, a: PendingAttach): void {
    let s = this.attachers.get(containerId);
    if (!s) this.attachers.set(containerId, (s = new Set()));
    s.add(a);
  }

  removeAttacher(containerId: string, a: PendingAttach): void {
    const s = this.attachers.get(containerId);
    s?.delete(a);
    if (s && s.size === 0) this.attachers.delete(containerId);
  }

  /** Take the clients waiting on a container (start connects them before its process runs). */
  takeAttachers(containerId: string): PendingAttach[] {
    const s = this.attachers.get(containerId);
    this.attachers.delete(containerId);
    return s ? [...s].filter((a) => a.wanted) : [];
  }
}

/**
 * Warnings the engine gives while serving one request (docker returns them in create's `Warnings`). The
 * serving engine's `warn` option hands them here; outside a request they go to stderr.
 */
export const requestWarnings = new AsyncLocalStorage<string[]>();

export function apiWarn(msg: string): void {
  const sink = requestWarnings.getStore();
  if (sink) sink.push(msg);
  else process.stderr.write(`WARNING: ${msg}\n`);
}
