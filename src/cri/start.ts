/** The CRI face started beside (or instead of) the Docker API: its streaming server, then its gRPC server. */
import { InvalidArgument } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import { CriNetwork } from './network.ts';
import { startCriServer } from './server.ts';
import { StreamingServer } from './streaming/server.ts';

export interface CriStartOptions {
  /** The unix socket's path. */
  path: string;
  network: string;
  subnet: string;
  /** HOST:PORT of the streaming server. */
  streaming: string;
}

export async function startCri(engine: Engine, o: CriStartOptions): Promise<{ streamingUrl: string; close: () => Promise<void> }> {
  const m = /^(.+):(\d+)$/.exec(o.streaming);
  if (!m) throw new InvalidArgument(`--streaming-address ${o.streaming}: HOST:PORT`);
  const streaming = await StreamingServer.start(engine, m[1]!.replace(/^\[(.*)\]$/, '$1'), Number(m[2]));
  try {
    const server = await startCriServer(engine, o.path, new CriNetwork(o.network, o.subnet), streaming);
    return {
      streamingUrl: streaming.baseUrl,
      close: async () => {
        await server.close();
        await streaming.close();
      },
    };
  } catch (e) {
    await streaming.close();
    throw e;
  }
}
