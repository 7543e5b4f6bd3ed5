/**
 * The HTTP/1.1 Upgrade to SPDY/3.1 that starts a CRI streaming session, as kubelet's streaming server answers
 * it: the client lists the sub-protocols it speaks in X-Stream-Protocol-Version headers (repeated or
 * comma-separated), the first of them the server also speaks is chosen, and the answer is 101 Switching
 * Protocols with `Connection: Upgrade`, `Upgrade: SPDY/3.1` and the chosen X-Stream-Protocol-Version. A client
 * offering none is refused with 400, one offering only protocols the server does not speak with 403 (listing
 * those it does in X-Accepted-Stream-Protocol-Versions), both with kubelet's messages.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidArgument } from '../../errors.ts';
import { SpdySession } from './spdy.ts';

/**
 * Answer the upgrade on `socket` (from the HTTP server's 'upgrade' event, with its `head`): 101 and a server
 * session choosing, in the client's order of preference, the first protocol of `supported` it offers; or
 * 400/403 with the reason, then null (the socket is ended).
 */
export function upgradeToSpdy(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  supported: readonly string[],
): { session: SpdySession; protocol: string } | null {
  if (supported.length === 0) throw new InvalidArgument('upgradeToSpdy: no protocols to offer');
  const offered = offeredProtocols(req);
  if (offered.length === 0) {
    refuse(socket, 400, 'Bad Request', 'unable to upgrade: X-Stream-Protocol-Version is required');
    return null;
  }
  // The client's preference wins, as in kubelet's negotiation (client-go lists the newest first).
  const protocol = offered.find((p) => supported.includes(p));
  if (protocol === undefined) {
    const accepted = supported.map((p): [string, string] => ['X-Accepted-Stream-Protocol-Versions', p]);
    const message = `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]`;
    refuse(socket, 403, 'Forbidden', message, accepted);
    return null;
  }
  const connection = String(req.headers.connection ?? '').toLowerCase();
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (!connection.includes('upgrade') || !upgrade.includes('spdy/3.1')) {
    refuse(socket, 400, 'Bad Request', 'unable to upgrade: missing upgrade headers in request');
    return null;
  }
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Connection: Upgrade',
      'Upgrade: SPDY/3.1',
      `X-Stream-Protocol-Version: ${protocol}`,
      `Date: ${new Date().toUTCString()}`,
      '',
      '',
    ].join('\r\n'),
  );
  // Frames the client sent right behind its request arrived with it: they are the session's first bytes.
  if (head.length > 0) socket.unshift(head);
  return { session: new SpdySession(socket, { server: true }), protocol };
}

/** The protocols in every X-Stream-Protocol-Version header, split at commas, in order. */
function offeredProtocols(req: IncomingMessage): string[] {
  const values = req.headersDistinct['x-stream-protocol-version'] ?? [];
  return values.flatMap((v) => v.split(',')).map((p) => p.trim()).filter((p) => p.length > 0);
}

/** An HTTP error as Go's http.Error writes it (plain text, a newline after the message), then the end. */
function refuse(socket: Duplex, status: number, reason: string, message: string, extra: Array<[string, string]> = []): void {
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: text/plain; charset=utf-8',
    'X-Content-Type-Options: nosniff',
    ...extra.map(([k, v]) => `${k}: ${v}`),
    `Date: ${new Date().toUTCString()}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ];
  if (!socket.destroyed && !socket.writableEnded) socket.end(lines.join('\r\n'));
}
