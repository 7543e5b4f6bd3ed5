/** Where a pod's own files are: its directory under the root (a pinned pod's namespace files, /dev/shm, /etc files). */
import { join } from 'node:path';
import type { EngineCore } from '../core.ts';

export const podDir = (engine: EngineCore, id: string) => join(engine.root, 'pods', id);

/** The /etc files (hosts, resolv.conf, hostname) a pinned pod's containers bind in. */
export const podEtcDir = (engine: EngineCore, id: string) => join(podDir(engine, id), 'etc');
