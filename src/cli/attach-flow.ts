/**
 * Attached containers for the CLI (run -i/-t, start -a, attach): connect to the container's stdio, pump
 * the streams, forward signals when there is no terminal, and return the container's exit code, or 0 when
 * the user detached (the container runs on).
 */
import type { Engine } from '../engine/engine.ts';
import type { AttachStream } from '../engine/types.ts';
import { pump } from './stream.ts';

export interface AttachFlowOptions {
  /** Start the container (connecting before its process runs); otherwise it is running already. */
  start: boolean;
  tty: boolean;
  stdin: boolean;
  detachKeys: Buffer;
  sigProxy: boolean;
  preserveFds?: number;
  /** The output streams to show (`run -a`); both when absent. */
  show?: { stdout: boolean; stderr: boolean };
}

export async function attachAndWait(engine: Engine, id: string, o: AttachFlowOptions): Promise<number> {
  let stream: AttachStream | undefined;
  if (o.start) {
    await engine.start(id, {
      preserveFds: o.preserveFds,
      beforeStart: async (_row, connect) => {
        stream = await connect();
      },
    });
  } else {
    stream = await engine.attach(id);
  }
  const proxies: [NodeJS.Signals, () => void][] = [];
  if (o.sigProxy && !o.tty) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as NodeJS.Signals[]) {
      const h = () => void engine.kill(id, sig).catch(() => {});
      process.on(sig, h);
      proxies.push([sig, h]);
    }
  }
  try {
    const how = await pump(stream!, { tty: o.tty, stdin: o.stdin, detachKeys: o.detachKeys, resize: (rows, cols) => engine.resize(id, rows, cols), show: o.show });
    if (how === 'detached') {
      if (o.tty) process.stderr.write('\r\nread escape sequence\r\n');
      return 0;
    }
    return await engine.wait(id);
  } finally {
    for (const [sig, h] of proxies) process.off(sig, h);
  }
}
