/**
 * The supervisor's health probes (src/engine/supervisor.ts; the rules are src/engine/healthcheck.ts): one timer
 * per running container with a check, no process of its own. A probe runs through the runtime driver (no
 * monitor: the supervisor waits for it), its result goes into the container's row, guarded by the run it
 * probed, and a change of status is an event (`health_status: healthy`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRow } from '../store/containers.ts';
import type { HealthResult } from '../types.ts';
import type { EngineCore } from './core.ts';
import { afterProbe, DEFAULT_TIMEOUT_NS, keptOutput, nextProbeDelayMs, probeArgv, probes, STARTING } from './healthcheck.ts';
import { goDuration } from '../durations.ts';

interface Watched {
  /** The run it probes: a restart is another run, with its own schedule. */
  startedAt: string;
  timer?: NodeJS.Timeout;
}

export class HealthMonitor {
  readonly #engine: EngineCore;
  readonly #watched = new Map<string, Watched>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(engine: EngineCore) {
    this.#engine = engine;
  }

  /** Match the timers to the running containers with a check: new runs get one, ended runs lose theirs. */
  sync(): void {
    if (this.#closed) return;
    const rows = this.#engine.containers.probed();
    const current = new Map(rows.map((r) => [r.id, r]));
    for (const [id, w] of this.#watched) {
      if (current.get(id)?.startedAt !== w.startedAt) {
        clearTimeout(w.timer);
        this.#watched.delete(id);
      }
    }
    for (const r of rows) {
      if (this.#watched.has(r.id) || !probes(r.config.healthcheck)) continue;
      const w: Watched = { startedAt: r.startedAt };
      this.#watched.set(r.id, w);
      const started = Date.parse(r.startedAt);
      this.#schedule(r.id, w, started + nextProbeDelayMs(r.config.healthcheck, started, Date.now(), r.health?.status ?? 'starting') - Date.now());
    }
  }

  get size(): number {
    return this.#watched.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watched.values()) clearTimeout(w.timer);
    this.#watched.clear();
    await Promise.all(this.#inFlight);
  }

  #schedule(id: string, w: Watched, delayMs: number): void {
    w.timer = setTimeout(() => {
      const p = this.#probe(id, w).finally(() => this.#inFlight.delete(p));
      this.#inFlight.add(p);
    }, Math.max(0, delayMs));
  }

  async #probe(id: string, w: Watched): Promise<void> {
    const engine = this.#engine;
    const row = engine.containers.get(id);
    const h = row?.config.healthcheck;
    if (!row || row.state !== 'running' || row.startedAt !== w.startedAt || !probes(h)) {
      this.#watched.delete(id);
      return;
    }
    const result = await this.#run(row);
    if (this.#closed || this.#watched.get(id) !== w) return;
    const now = engine.containers.get(id);
    if (!now || now.startedAt !== w.startedAt) return;
    const before = now.health ?? STARTING;
    const started = Date.parse(w.startedAt);
    const after = afterProbe(h, before, result, started);
    if (engine.containers.recordHealth(id, w.startedAt, after) && after.status !== before.status) {
      engine.emitContainer(now, `health_status: ${after.status}`);
    }
    this.#schedule(id, w, nextProbeDelayMs(h, started, Date.now(), after.status));
  }

  /** One probe: the container's own process (user, environment, directory) with the check's command. */
  async #run(row: ContainerRow): Promise<HealthResult> {
    const h = row.config.healthcheck!;
    const start = new Date().toISOString();
    const timeoutNs = h.timeout || DEFAULT_TIMEOUT_NS;
    try {
      const dir = this.#engine.dir(row.id);
      const proc = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { process: Record<string, unknown> }).process;
      const spec = { ...proc, terminal: false, args: probeArgv(h) };
      const r = await this.#engine.driver(row.config.runtime).probe(row.id, dir, spec, timeoutNs / 1e6);
      const output = r.timedOut ? `Health check exceeded timeout (${goDuration(timeoutNs)})` : keptOutput(r.output);
      return { start, end: new Date().toISOString(), exitCode: r.exitCode, output };
    } catch (e) {
      return { start, end: new Date().toISOString(), exitCode: -1, output: keptOutput(e instanceof Error ? e.message : String(e)) };
    }
  }
}
