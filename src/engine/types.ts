/**
 * The shapes the faces (CLI, API) read from engine verbs, re-exported so that a face imports the engine
 * alone, never the store or the runtime it is built on.
 */
export type { ContainerRow, ListedContainer } from '../store/containers.ts';
export type { ImageRow } from '../store/images.ts';
export type { NetworkRow } from '../store/networks.ts';
export type { ExecSessionRow } from '../store/exec-sessions.ts';
export type { AttachStream, LogRecord, LogReadOptions } from '../runtime/driver.ts';
export { keepsFile, LOG_DRIVERS, readsLog } from '../logs/drivers.ts';
