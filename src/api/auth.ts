/**
 * Registry credentials sent by clients: `X-Registry-Auth` (base64url JSON `{username, password, auth,
 * serveraddress}`) on pull and push, and `POST /auth` (docker login). A request's credentials go to the
 * registry client in memory, for that request alone; nothing is written. No credentials: the root's usual
 * registry settings, unchanged.
 */
import { InvalidArgument } from '../errors.ts';
import type { Credentials } from '../registry/authfile.ts';
import { type Ctx } from './http.ts';

export interface AuthConfig {
  username: string;
  password: string;
  serveraddress: string;
}

/** The credentials of an `X-Registry-Auth` header; null when it carries none (docker's CLI sends `{}`). */
export function decodeRegistryAuth(header: string | string[] | undefined): AuthConfig | null {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v || v.trim() === '') return null;
  let doc: Record<string, unknown>;
  try {
    // base64url as docker sends it; standard base64 decodes the same way here.
    doc = JSON.parse(Buffer.from(v.trim(), 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    // As the daemon: an unreadable header counts as no credentials.
    return null;
  }
  if (!doc || typeof doc !== 'object') return null;
  let username = typeof doc.username === 'string' ? doc.username : '';
  let password = typeof doc.password === 'string' ? doc.password : '';
  if (!username && typeof doc.auth === 'string' && doc.auth) {
    const pair = Buffer.from(doc.auth, 'base64').toString('utf8');
    const i = pair.indexOf(':');
    if (i > 0) {
      username = pair.slice(0, i);
      password = pair.slice(i + 1);
    }
  }
  if (!username) return null;
  return { username, password, serveraddress: typeof doc.serveraddress === 'string' ? doc.serveraddress : '' };
}

/** The request's `X-Registry-Auth` credentials for the engine's pull or push, or undefined when it sent none. */
export function requestCredentials(ctx: Ctx): Credentials | undefined {
  const auth = decodeRegistryAuth(ctx.req.headers['x-registry-auth']);
  return auth ? { username: auth.username, password: auth.password } : undefined;
}

/**
 * `POST /auth` `{username, password, serveraddress}`: check the credentials against the registry (docker
 * login). They are not kept: the client stores them and sends them with each pull and push.
 */
export async function login(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const username = typeof body.username === 'string' ? body.username : '';
  const password = typeof body.password === 'string' ? body.password : '';
  let server = typeof body.serveraddress === 'string' && body.serveraddress ? body.serveraddress : 'docker.io';
  server = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (server === 'index.docker.io') server = 'docker.io';
  if (!username || !password) throw new InvalidArgument('username and password are required');
  // Refused credentials are Unauthorized: 401, as docker answers.
  await ctx.engine.login(server, username, password, false);
  ctx.send(200, { Status: 'Login Succeeded', IdentityToken: '' });
}
