/**
 * Exec and attach over WebSocket, as kubelet's streaming server serves them beside SPDY: one connection, the
 * streams as channels of it (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize), the same RemoteCommandStreams the
 * SPDY side gives (remotecommand.ts). As kubelet does, an empty message on the lowest channel this side writes
 * tells the client the session is open; the end is reported on the error channel (v4: a Status as JSON; the
 * older protocols: the failure's message, nothing on success) and the connection closes. Over WebSocket before
 * v5 a client cannot end its stdin: a command reading to its end waits for the connection to close.
 */
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { InvalidArgument } from '../../errors.ts';
import { statusReport, terminalSize, type RemoteCommandOptions, type RemoteCommandResult, type RemoteCommandStreams, type TerminalSize } from './remotecommand.ts';
import type { ChannelSocket } from './websocket.ts';

/** The WebSocket protocols offered for exec and attach (kubelet's up to v4), preferred first. */
export const REMOTECOMMAND_WS_PROTOCOLS: readonly string[] = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

export function remoteCommandOverWebSocket(ws: ChannelSocket, expect: RemoteCommandOptions): RemoteCommandStreams {
  if (!expect.stdin && !expect.stdout && !expect.stderr) throw new InvalidArgument('one of stdin, stdout, or stderr must be set');
  const version = ws.protocol.startsWith('v4.') ? 4 : 1;
  const stdin = expect.stdin ? new PassThrough() : undefined;
  const resize = expect.tty ? new EventEmitter() : undefined;
  let unheard: TerminalSize | null = null;
  resize?.on('newListener', (event: string) => {
    if (event !== 'resize' || unheard === null) return;
    const size = unheard;
    unheard = null;
    process.nextTick(() => resize.emit('resize', size));
  });
  ws.on('message', (channel: number, data: Buffer) => {
    if (channel === CHANNEL.stdin) stdin?.write(data);
    else if (channel === CHANNEL.resize && resize) {
      const size = terminalSize(data.toString('utf8'));
      if (!size) return;
      if (resize.listenerCount('resize') > 0) resize.emit('resize', size);
      else unheard = size;
    }
  });
  ws.on('close', () => stdin?.end());
  const writer = (channel: number) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        ws.send(channel, chunk);
        done();
      },
    });
  const stdout = expect.stdout ? writer(CHANNEL.stdout) : undefined;
  const stderr = expect.stderr && !expect.tty ? writer(CHANNEL.stderr) : undefined;
  ws.send(stdout ? CHANNEL.stdout : stderr ? CHANNEL.stderr : CHANNEL.error, Buffer.alloc(0));
  let finishing: Promise<void> | undefined;
  return {
    protocol: ws.protocol,
    ...(stdin ? { stdin } : {}),
    ...(stdout ? { stdout } : {}),
    ...(stderr ? { stderr } : {}),
    ...(resize ? { resize } : {}),
    finish(result: RemoteCommandResult) {
      finishing ??= (async () => {
        // What was written goes first: each write is sent as it is made, so only the report is left.
        const report = statusReport(version, result);
        if (report) ws.send(CHANNEL.error, Buffer.from(report));
        ws.close();
      })();
      return finishing;
    },
  };
}
