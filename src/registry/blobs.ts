/**
 * Moving blobs: a resumable, verified download and a mount-or-upload push.
 *
 * Download: bytes go to `<dest>.partial`; a later attempt (a retry here, or a new pull after a crash)
 * hashes what is there and asks for the rest with `Range: bytes=<have>-`. A 206 whose Content-Range starts
 * at <have> is appended; a 200 means the server ignored the range, so the file starts over. Only content
 * of the right size and digest is fsynced and renamed onto `dest`, so `dest` is complete or absent.
 *
 * Upload (the API's protocol): `POST /v2/<name>/blobs/uploads/` opens a session (202 + Location); with
 * `?mount=<digest>&from=<repo>` the registry may instead link a blob it already holds in another
 * repository (201, nothing sent) or answer 202 with a session when it cannot. The data goes in one
 * streamed `PATCH`, and `PUT <location>?digest=<digest>` closes the session, the registry checking the
 * digest. Every response's Location is the URL of the next step (it may carry session state), so each is
 * used exactly as given. A failed PATCH cannot be resent into the same session (the registry kept what
 * arrived), so a transient failure restarts the whole upload in a new session.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, InvalidArgument, NotFound, RuntimeFailure } from '../errors.ts';
import { checkDigest, type Descriptor } from './manifest.ts';
import { backoff, errorLine, isTransient, reasonOf, type Endpoint, type RequestBody, type Transport } from './transport.ts';

export type Progress = (done: number, total: number) => void;

export const pullScope = (path: string) => `repository:${path}:pull`;
export const pushScope = (path: string) => `repository:${path}:pull,push`;

/** A failed attempt that another attempt may fix (a short body, a dropped connection). */
class Retryable extends Error {}

const retryable = (e: unknown) => e instanceof Retryable || (!(e instanceof BerthError) && isTransient(e));

/** Runs `attempt` until it succeeds, retrying what may pass; whatever escapes is a BerthError naming `what`. */
async function withRetries<T>(retries: number, what: string, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof BerthError) throw e;
      if (!retryable(e) || i >= retries) throw new RuntimeFailure(`${what}: ${reasonOf(e)}`, { cause: e });
      await sleep(backoff(i));
    }
  }
}

/** Status → error class for blob and manifest requests that did not succeed. */
export async function failure(res: Response, what: string): Promise<BerthError> {
  const line = await errorLine(res);
  if (res.status === 404) return new NotFound(`${what}: ${line}`);
  if (res.status === 400) return new InvalidArgument(`${what}: ${line}`);
  return new RuntimeFailure(`${what}: ${line}`);
}

/** Hashes the first bytes of a file (what a partial download already holds). */
async function hashFile(path: string, alg: string): Promise<ReturnType<typeof createHash>> {
  const h = createHash(alg);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** How many bytes of a blob's body are written to its file at once. */
const WRITE_BATCH = 512 << 10;

/** Downloads a blob to `dest` (see the file comment); up to `downloadAttempts`, each resuming the partial file. */
export async function downloadBlob(
  t: Transport, ep: Endpoint, path: string, desc: Descriptor, dest: string, onProgress?: Progress,
): Promise<void> {
  checkDigest(desc.digest);
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new InvalidArgument(`invalid blob size: ${desc.size}`);
  const what = `${ep.name}/${path}@${desc.digest}`;
  try {
    await withRetries(t.opts.downloadAttempts - 1, `fetching blob ${what}`, () => downloadOnce(t, ep, path, desc, dest, what, onProgress));
  } catch (e) {
    // Attempts within this call resume the partial file; a failed call leaves nothing behind.
    await rm(`${dest}.partial`, { force: true });
    throw e;
  }
}

async function downloadOnce(
  t: Transport, ep: Endpoint, path: string, desc: Descriptor, dest: string, what: string, onProgress?: Progress,
): Promise<void> {
  const partial = `${dest}.partial`;
  const alg = desc.digest.slice(0, desc.digest.indexOf(':'));
  let have = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (have > desc.size) have = 0;
  let hash = have > 0 ? await hashFile(partial, alg) : createHash(alg);
  if (have < desc.size) {
    const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
    const res = await t.request(ep, [pullScope(path)], 'GET', `/v2/${path}/blobs/${desc.digest}`, { headers });
    if (res.status === 416) {
      // Our partial is not a prefix the server can continue: start over.
      await res.body?.cancel();
      await rm(partial, { force: true });
      throw new Retryable('the server refused to resume (416)');
    }
    if (res.status !== 200 && res.status !== 206) throw await failure(res, `fetching blob ${what}`);
    const resumed = res.status === 206 && (res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`);
    if (!resumed) {
      have = 0;
      hash = createHash(alg);
    }
    onProgress?.(have, desc.size);
    const fh = await open(partial, resumed ? 'a' : 'w');
    // The body comes in chunks of ~16 KiB: they go to the file (and to the progress, which wakes an
    // unpack reading the growing file) in batches, one write per WRITE_BATCH bytes rather than per chunk.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const batch = pending;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      await fh.writev(batch);
      have += n;
      onProgress?.(have, desc.size);
    };
    try {
      for await (const b of res.body!) {
        if (have + pendingBytes + b.length > desc.size) {
          await rm(partial, { force: true });
          throw new RuntimeFailure(`fetching blob ${what}: the registry sent more than the ${desc.size} bytes expected`);
        }
        hash.update(b);
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= WRITE_BATCH) await flush();
      }
      await flush();
      await fh.sync();
    } catch (e) {
      if (e instanceof BerthError) throw e;
      // The connection dropped or stalled mid-body: what arrived stays in the partial file for the next attempt.
      await flush().catch(() => {});
      throw new Retryable(`the connection was cut after ${have} of ${desc.size} bytes: ${reasonOf(e)}`);
    } finally {
      await fh.close();
    }
    if (have < desc.size) throw new Retryable(`short read: ${have} of ${desc.size} bytes`);
  }
  const got = `${alg}:${hash.digest('hex')}`;
  if (got !== desc.digest) {
    await rm(partial, { force: true });
    throw new RuntimeFailure(`fetching blob ${what}: digest mismatch: the content hashes to ${got}`);
  }
  await rename(partial, dest);
  await fsyncDir(dirname(dest));
}

/** HEAD of a blob: true when the repository has it. */
export async function blobHead(t: Transport, ep: Endpoint, scopes: string[], path: string, digest: string): Promise<boolean> {
  const res = await t.request(ep, scopes, 'HEAD', `/v2/${path}/blobs/${digest}`);
  await res.body?.cancel();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await failure(res, `checking blob ${ep.name}/${path}@${digest}`);
}

/** A read stream of the file that reports progress as it is consumed. */
function countingBody(file: string, total: number, onProgress?: Progress): () => RequestBody {
  return () => {
    let done = 0;
    const src = createReadStream(file);
    if (onProgress) {
      src.on('data', (c) => {
        done += (c as Buffer).length;
        onProgress(done, total);
      });
    }
    return Readable.toWeb(src) as unknown as ReadableStream<Uint8Array>;
  };
}

/** Pushes a blob: 'exists' (nothing sent), 'mounted' (linked from another repository) or 'pushed'. */
export async function pushBlob(
  t: Transport, ep: Endpoint, path: string, desc: Descriptor, file: string, mountFrom: string[] = [],
  onProgress?: Progress,
): Promise<'exists' | 'mounted' | 'pushed'> {
  checkDigest(desc.digest);
  const size = (await stat(file)).size;
  if (size !== desc.size) throw new InvalidArgument(`push ${file}: size ${size} differs from the descriptor's ${desc.size}`);
  const from = mountFrom.filter((f) => f !== path);
  // A mount reads the source repository, so the token must grant pull on it too.
  const scopes = [`repository:${path}:pull,push`, ...from.map((f) => `repository:${f}:pull`)];
  const what = `${ep.name}/${path}@${desc.digest}`;
  if (await blobHead(t, ep, scopes, path, desc.digest)) return 'exists';
  let location: string | undefined;
  for (const [i, repo] of from.entries()) {
    const q = new URLSearchParams({ mount: desc.digest, from: repo });
    const res = await t.request(ep, scopes, 'POST', `/v2/${path}/blobs/uploads/?${q}`);
    await res.body?.cancel();
    if (res.status === 201) return 'mounted';
    if (res.status !== 202) throw await failure(res, `mounting blob ${what} from ${repo}`);
    location = res.headers.get('location') ?? undefined;
    if (i < from.length - 1 && location) {
      // Not mountable from this one: close the session it opened and try the next source.
      await (await t.request(ep, scopes, 'DELETE', location)).body?.cancel();
      location = undefined;
    }
  }
  await withRetries(t.opts.uploadAttempts - 1, `pushing blob ${what}`, async () => {
    const loc = location ?? (await openUpload(t, ep, scopes, path, what));
    location = undefined;
    await upload(t, ep, scopes, loc, desc, countingBody(file, size, onProgress), what);
  });
  return 'pushed';
}

async function openUpload(t: Transport, ep: Endpoint, scopes: string[], path: string, what: string): Promise<string> {
  const res = await t.request(ep, scopes, 'POST', `/v2/${path}/blobs/uploads/`);
  await res.body?.cancel();
  const loc = res.headers.get('location');
  if (res.status !== 202 || !loc) throw await failure(res, `starting upload of ${what}`);
  return loc;
}

async function upload(
  t: Transport, ep: Endpoint, scopes: string[], start: string, desc: Descriptor, body: () => RequestBody, what: string,
): Promise<void> {
  let patch: Response;
  try {
    patch = await t.request(ep, scopes, 'PATCH', start, {
      headers: { 'content-type': 'application/octet-stream' }, body, retries: 0,
    });
  } catch (e) {
    throw isTransient((e as Error).cause) ? new Retryable((e as Error).message) : e;
  }
  if (patch.status >= 500) throw new Retryable(`upload: ${await errorLine(patch)}`);
  const next = patch.headers.get('location');
  if (patch.status !== 202 || !next) throw await failure(patch, `uploading ${what}`);
  await patch.body?.cancel();
  const put = new URL(next, ep.base);
  put.searchParams.set('digest', desc.digest);
  const res = await t.request(ep, scopes, 'PUT', put.href);
  if (res.status >= 500) throw new Retryable(`upload: ${await errorLine(res)}`);
  if (res.status !== 201) throw await failure(res, `finishing upload of ${what}`);
  await res.body?.cancel();
}
