/**
 * Berth as a library: the same engine the CLI and the API server drive, with no daemon.
 *
 * ```ts
 * import { Engine } from 'berth';
 * const engine = new Engine();
 * const c = await engine.run({ image: 'busybox', cmd: ['echo', 'hi'] });
 * console.log(await c.wait());
 * ```
 */
export { Engine, type EngineOptions, type LifecycleHooks, type StartOptions } from './engine/engine.ts';
export { Container } from './engine/container.ts';
export type { CreateOptions } from './engine/config.ts';
export type { ResourceOptions } from './engine/resources.ts';
export type { UpdateOptions } from './engine/verbs/change.ts';
export type { LogReadOptions, LogRecord, StreamName } from './runtime/driver.ts';
export type { ExecHandle, ExecOptions, ExecStartOptions } from './engine/exec.ts';
export type { ExecConfig, ExecSessionRow } from './store/exec-sessions.ts';
export { encodeFrame, FrameDecoder } from './engine/frame.ts';
export type { ContainerRow } from './store/containers.ts';
export type { ContainerConfig, ContainerState, MountSpec, Rlimit, Resources, ThrottleDevice } from './types.ts';
export type { PullOptions, PullResult, ProgressMessage } from './image/pull.ts';
export type { PushOptions, PushResult } from './image/push.ts';
export type { CommitOptions } from './engine/commit.ts';
export type { Supervisor, SupervisorOptions } from './engine/supervisor.ts';
export type { RestartPolicy, RestartPolicyName } from './types.ts';
export * from './errors.ts';
