/**
 * Port forwarding over WebSocket, as kubelet's streaming server serves it beside SPDY: the ports are the CRI
 * request's, each with two channels of the connection, 2i for data and 2i+1 for errors. Each channel's first
 * message, from this side, is its port (two bytes, little endian); then the data channel is piped both ways to
 * a connection to that port in the pod, made at once, and a failure is written on the error channel as text.
 * One connection per port for the session's length: when it ends, the port's channels go quiet until the
 * client closes the session.
 */
import type { Duplex } from 'node:stream';
import type { ChannelSocket } from './websocket.ts';

/** The WebSocket protocols kubelet offers for port forwarding. */
export const PORTFORWARD_WS_PROTOCOLS: readonly string[] = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** Resolves when the client closes the session. */
export function servePortForwardOverWebSocket(ws: ChannelSocket, ports: readonly number[], connect: (port: number) => Promise<Duplex>): Promise<void> {
  const targets: (Duplex | undefined)[] = [];
  const early: Buffer[][] = ports.map(() => []);
  return new Promise((resolve) => {
    ws.on('message', (channel: number, data: Buffer) => {
      const i = channel / 2;
      if (!Number.isInteger(i) || i >= ports.length) return; // an error channel, or none of ours
      const t = targets[i];
      if (t) t.write(data);
      else early[i]!.push(data); // the connection is still being made
    });
    ws.once('close', () => {
      for (const t of targets) t?.destroy();
      resolve();
    });
    ports.forEach((port, i) => {
      const said = Buffer.alloc(2);
      said.writeUInt16LE(port);
      ws.send(2 * i, said);
      ws.send(2 * i + 1, said);
      const fail = (e: Error) => ws.send(2 * i + 1, Buffer.from(`error forwarding port ${port}: ${e.message}`));
      connect(port).then(
        (t) => {
          if (ws.isClosed) return void t.destroy();
          targets[i] = t;
          for (const b of early[i]!.splice(0)) t.write(b);
          t.on('data', (b: Buffer) => ws.send(2 * i, b));
          t.on('error', fail);
        },
        (e: unknown) => fail(e instanceof Error ? e : new Error(String(e))),
      );
    });
  });
}
