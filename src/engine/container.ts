/**
 * A handle on one container for library users: the Engine's verbs bound to an id. It holds no state of
 * its own; every call reads the store afresh.
 */
import type { LogReadOptions, LogRecord } from '../runtime/driver.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { EngineCore } from './core.ts';
import { inspectJson } from './inspect.ts';

/** What a handle needs of the Engine (src/engine/engine.ts): its core and the verbs it binds. */
export interface ContainerVerbs extends Pick<EngineCore, 'root' | 'images' | 'inspect' | 'logPath'> {
  start(ref: string): Promise<unknown>;
  stop(ref: string, timeout?: number): Promise<unknown>;
  kill(ref: string, signal?: string): Promise<unknown>;
  pause(ref: string): Promise<unknown>;
  unpause(ref: string): Promise<unknown>;
  wait(ref: string): Promise<number>;
  readLogs(ref: string, out: (rec: LogRecord) => void, opts?: LogReadOptions): Promise<void>;
  remove(ref: string, force?: boolean, volumes?: boolean): Promise<unknown>;
}

export class Container {
  readonly engine: ContainerVerbs;
  readonly id: string;

  constructor(engine: ContainerVerbs, id: string) {
    this.engine = engine;
    this.id = id;
  }

  /** The engine's current view (reconciled with what its monitor recorded). */
  state(): ContainerRow {
    return this.engine.inspect(this.id);
  }

  /** Docker's inspect JSON. */
  inspect(): Record<string, unknown> {
    const row = this.state();
    const img = this.engine.images.repo.get(row.imageId);
    return inspectJson(row, { root: this.engine.root, logPath: this.engine.logPath(row), lowerDirs: img ? this.engine.images.lowerDirs(img) : [] });
  }

  async start(): Promise<this> {
    await this.engine.start(this.id);
    return this;
  }

  async stop(timeoutSeconds?: number): Promise<this> {
    await this.engine.stop(this.id, timeoutSeconds);
    return this;
  }

  async kill(signal = 'SIGKILL'): Promise<this> {
    await this.engine.kill(this.id, signal);
    return this;
  }

  async pause(): Promise<this> {
    await this.engine.pause(this.id);
    return this;
  }

  async unpause(): Promise<this> {
    await this.engine.unpause(this.id);
    return this;
  }

  /** Resolves with the exit code once the container has stopped. */
  wait(): Promise<number> {
    return this.engine.wait(this.id);
  }

  async logs(opts: { follow?: boolean; tail?: number } = {}): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    await this.engine.readLogs(this.id, (r) => out.push(r), opts);
    return out;
  }

  async remove(opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await this.engine.remove(this.id, opts.force ?? false, opts.volumes ?? false);
  }
}
