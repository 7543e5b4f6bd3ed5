/** Worker thread entry: unpack one layer blob into a dir and report its diff id (src/image/unpack-pool.ts). */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidArgument, NoSpace, NotFound } from '../errors.ts';
import { setThisThreadNice } from '../sys/thread-priority.ts';
import { unpackInto } from './unpack.ts';
import type { WorkerData, WorkerReply } from './unpack-pool.ts';

const { file, dir, limits, nice } = workerData as WorkerData;
// Made by a thread that may run above the process's priority (berth serve's): unpacking is bulk work.
setThisThreadNice(nice);
let reply: WorkerReply;
try {
  reply = { ok: true, ...(await unpackInto(createReadStream(file, { highWaterMark: 1 << 20 }), dir, limits)) };
} catch (e) {
  // Error classes do not cross threads: name the family, and the pool rebuilds it.
  const kind = e instanceof InvalidArgument ? 'InvalidArgument' : e instanceof NoSpace ? 'NoSpace' : e instanceof NotFound ? 'NotFound' : 'RuntimeFailure';
  reply = { ok: false, kind, message: (e as Error).message };
}
parentPort!.postMessage(reply);
