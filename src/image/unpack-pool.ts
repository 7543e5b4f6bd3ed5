/**
 * Unpacking a layer blob on a worker thread. Extraction is synchronous file-system calls (see
 * src/archive/extract.ts); on the main thread they serialise a pull's layers behind each other and behind
 * the downloads. A worker per layer lets the layers of one pull unpack on every CPU. Where no worker
 * script is found (an unusual build) the unpack runs in-process.
 *
 * A worker takes ~40 ms to start, as long as a pull takes to resolve its manifest: a pull starts its
 * workers first (`UnpackWorkers.warmFor`) and each takes its next layer as a message, so no layer waits for
 * a thread to boot.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InvalidArgument, NoSpace, NotFound, RuntimeFailure } from '../errors.ts';
import { ownNice } from '../sys/thread-priority.ts';
import { fileHead, sniffCompression } from './archive-format.ts';
import { FileRestarted, readGrowingFile, type GrowingFileShare } from './growing-file.ts';
import { unpackInto } from './unpack.ts';
import type { UnpackLimits } from './unpack-limits.ts';

/**
 * The worker's bundle (dist/unpack-worker.mjs) seen from the CLI bundle's chunks (dist/cli-bundle/chunks/,
 * where this code runs in the CLI) or from dist/, tsc's output beside this file, or the source itself.
 * Missing the first, the CLI unpacked every layer on its main thread, one after another, for as long as
 * the chunks have lived two levels down.
 */
const CANDIDATES = ['../../unpack-worker.mjs', './unpack-worker.mjs', './unpack-worker.js', './unpack-worker.ts'];
let script: URL | null | undefined;

function workerScript(): URL | null {
  if (script !== undefined) return script;
  script = null;
  for (const c of CANDIDATES) {
    const u = new URL(c, import.meta.url);
    if (existsSync(fileURLToPath(u))) {
      script = u;
      break;
    }
  }
  return script;
}

/** A layer blob: a stored file, or one still downloading (`growing`), read as it is written. */
export interface BlobSource {
  file: string;
  growing?: GrowingFileShare;
}

/** One layer for a worker: `limits` as they are (an image budget's counter is shared with the worker). */
export interface UnpackJob {
  source: BlobSource;
  dir: string;
  limits: UnpackLimits;
}

export interface WorkerReply {
  ok: boolean;
  diffId?: string;
  bytes?: number;
  kind?: string;
  message?: string;
}

/** What a worker is started with. */
export interface WorkerData {
  /** The nice value to run at: the process's own (src/sys/thread-priority.ts). */
  nice: number;
}

const KINDS: Record<string, new (m: string) => Error> = { InvalidArgument, NoSpace, NotFound, RuntimeFailure, FileRestarted };

/** The blob's bytes, in order: read from the file, or as the download writes them. */
export function blobBytes(source: BlobSource): AsyncIterable<Buffer> {
  return source.growing ? readGrowingFile(source.growing) : readFile(source.file);
}

/** Opened when first read: a stream opened and never read (the unpack failed first) errors with no listener. */
async function* readFile(file: string): AsyncGenerator<Buffer> {
  yield* createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

/**
 * Below these sizes a blob unpacks in-process: starting a worker costs more than unpacking it does (a
 * 3-stage build went from 0.52 to 0.40 s). A compressed blob may expand many times over, and an unpack
 * blocks the thread it runs on (berth serve's requests): it gets the smaller bound. A blob still
 * downloading cannot be sniffed yet: it counts as compressed.
 */
const IN_PROCESS_MAX = { plain: 16 << 20, compressed: 1 << 20 };

function inProcess(source: BlobSource): boolean {
  if (source.growing) return source.growing.size < IN_PROCESS_MAX.compressed;
  const plain = sniffCompression(fileHead(source.file, 4)) === 'none';
  return statSync(source.file).size < IN_PROCESS_MAX[plain ? 'plain' : 'compressed'];
}

/**
 * Worker threads for one piece of work (a pull, a load): started ahead, reused, ended by `close`. A long-lived
 * process's shared set (unpackWorkers) outlives each pull: `close` then ends its idle workers only once none
 * was used for `keepMs`.
 */
export class UnpackWorkers {
  readonly #idle: Worker[] = [];
  readonly #all = new Set<Worker>();
  readonly #keepMs: number;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(opts: { keepMs?: number } = {}) {
    this.#keepMs = opts.keepMs ?? 0;
  }

  /** Start a worker for each blob of these sizes (still to download) that will unpack on one, `max` at most. */
  warmFor(blobSizes: number[], max: number): void {
    if (!workerScript()) return;
    const n = Math.min(max, blobSizes.filter((size) => size >= IN_PROCESS_MAX.compressed).length);
    while (this.#idle.length < n) this.#idle.push(this.#start());
  }

  /** Unpack a blob into an existing dir; returns the digest of its uncompressed tar and its file data bytes. */
  async unpack(source: BlobSource, dir: string, limits: UnpackLimits): Promise<{ diffId: string; bytes: number }> {
    if (!workerScript() || inProcess(source)) return unpackInto(blobBytes(source), dir, limits);
    const w = this.#idle.pop() ?? this.#start();
    // An idle worker does not keep the process alive; one at work must, or nothing would wait for its reply.
    w.ref();
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      const onError = (e: Error) => done(() => reject(e));
      const onExit = (code: number) => done(() => reject(new RuntimeFailure(`unpack worker exited with code ${code}`)));
      const onMessage = (m: WorkerReply) => done(() => resolve(m));
      const done = (settle: () => void) => {
        w.off('message', onMessage).off('error', onError).off('exit', onExit);
        settle();
      };
      w.on('message', onMessage).on('error', onError).on('exit', onExit);
      w.postMessage({ source, dir, limits } satisfies UnpackJob);
    }).catch((e: unknown) => {
      this.#all.delete(w);
      void w.terminate();
      throw e;
    });
    w.unref();
    this.#idle.push(w);
    if (reply.ok) return { diffId: reply.diffId!, bytes: reply.bytes! };
    const Kind = KINDS[reply.kind ?? ''] ?? RuntimeFailure;
    throw new Kind(reply.message ?? 'unpack failed');
  }

  /** End every worker (idle ones; this is called once no unpack is running), or for a shared set, later. */
  close(): void {
    if (this.#keepMs > 0) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => this.#endIdle(), this.#keepMs).unref();
      return;
    }
    for (const w of this.#all) void w.terminate();
    this.#all.clear();
    this.#idle.length = 0;
  }

  /** End the workers no unpack is using (a shared set's, after its quiet time). */
  #endIdle(): void {
    for (const w of this.#idle.splice(0)) {
      this.#all.delete(w);
      void w.terminate();
    }
  }

  #start(): Worker {
    const w = new Worker(workerScript()!, { workerData: { nice: ownNice() } satisfies WorkerData });
    w.unref();
    this.#all.add(w);
    // A worker that fails or ends while idle is dropped (an 'error' with no listener would end the process).
    const drop = () => {
      this.#all.delete(w);
      const at = this.#idle.indexOf(w);
      if (at >= 0) this.#idle.splice(at, 1);
    };
    w.on('error', drop).on('exit', drop);
    return w;
  }
}

let shared: UnpackWorkers | undefined;

/**
 * From now on, pulls in this process share one set of workers kept for 30 s after its last use: a server's
 * pulls then skip a worker's ~40 ms start (CPU that competed with the pull's own downloads). A CLI, which
 * pulls once, starts its own.
 */
export function keepUnpackWorkers(): void {
  shared ??= new UnpackWorkers({ keepMs: 30_000 });
}

/** The workers a pull uses: the process's shared set where it keeps one, else a set of its own. */
export function unpackWorkers(): UnpackWorkers {
  return shared ?? new UnpackWorkers();
}

/** Unpack one blob (a stored file's path, or a source) on a worker of its own: a load, an import. */
export async function unpackInWorker(source: string | BlobSource, dir: string, limits: UnpackLimits): Promise<{ diffId: string; bytes: number }> {
  const workers = new UnpackWorkers();
  try {
    return await workers.unpack(typeof source === 'string' ? { file: source } : source, dir, limits);
  } finally {
    workers.close();
  }
}
