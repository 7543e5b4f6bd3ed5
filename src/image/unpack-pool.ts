/**
 * Unpacking a stored layer blob on a worker thread. Extraction is synchronous file-system calls (see
 * src/archive/extract.ts); on the main thread they serialise a pull's layers behind each other and behind
 * the downloads. A worker per layer lets the layers of one pull unpack on every CPU. Where no worker
 * script is found (an unusual build) the unpack runs in-process.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InvalidArgument, NoSpace, NotFound, RuntimeFailure } from '../errors.ts';
import { ownNice } from '../sys/thread-priority.ts';
import { fileHead, sniffCompression } from './archive-format.ts';
import { unpackInto } from './unpack.ts';
import type { UnpackLimits } from './unpack-limits.ts';

/** The bundle's worker (dist/unpack-worker.mjs), tsc's output beside this file, or the source itself. */
const CANDIDATES = ['./unpack-worker.mjs', './unpack-worker.js', './unpack-worker.ts'];
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

export interface WorkerReply {
  ok: boolean;
  diffId?: string;
  bytes?: number;
  kind?: string;
  message?: string;
}

const KINDS: Record<string, new (m: string) => Error> = { InvalidArgument, NoSpace, NotFound, RuntimeFailure };

/** What the worker is given: `limits` as they are (an image budget's counter is shared with the worker). */
export interface WorkerData {
  file: string;
  dir: string;
  limits: UnpackLimits;
  /** The nice value to run at: the process's own (src/sys/thread-priority.ts). */
  nice: number;
}

/**
 * Below these sizes a blob unpacks in-process: starting a worker costs more than unpacking it does (a
 * 3-stage build went from 0.52 to 0.40 s). A compressed blob may expand many times over, and an unpack
 * blocks the thread it runs on (berth serve's requests): it gets the smaller bound.
 */
const IN_PROCESS_MAX = { plain: 16 << 20, compressed: 1 << 20 };

export async function unpackInWorker(file: string, dir: string, limits: UnpackLimits): Promise<{ diffId: string; bytes: number }> {
  const s = workerScript();
  const size = statSync(file).size;
  if (!s || size < IN_PROCESS_MAX[sniffCompression(fileHead(file, 4)) === 'none' ? 'plain' : 'compressed']) {
    return unpackInto(createReadStream(file, { highWaterMark: 1 << 20 }), dir, limits);
  }
  const reply = await new Promise<WorkerReply>((resolve, reject) => {
    const w = new Worker(s, { workerData: { file, dir, limits, nice: ownNice() } satisfies WorkerData });
    let got: WorkerReply | undefined;
    w.once('message', (m: WorkerReply) => (got = m));
    w.once('error', reject);
    w.once('exit', (code) => (got ? resolve(got) : reject(new RuntimeFailure(`unpack worker exited with code ${code}`))));
  });
  if (reply.ok) return { diffId: reply.diffId!, bytes: reply.bytes! };
  const Kind = KINDS[reply.kind ?? ''] ?? RuntimeFailure;
  throw new Kind(reply.message ?? 'unpack failed');
}

