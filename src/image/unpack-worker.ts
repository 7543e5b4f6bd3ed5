/** Worker thread entry: unpack the layer blobs it is sent, one at a time, replying with each diff id (src/image/unpack-pool.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidArgument, NoSpace, NotFound } from '../errors.ts';
import { setThisThreadNice } from '../sys/thread-priority.ts';
import { FileRestarted } from './growing-file.ts';
import { unpackInto } from './unpack.ts';
import { blobBytes, type UnpackJob, type WorkerData, type WorkerReply } from './unpack-pool.ts';

// Made by a thread that may run above the process's priority (berth serve's): unpacking is bulk work.
setThisThreadNice((workerData as WorkerData).nice);

parentPort!.on('message', async ({ source, dir, limits }: UnpackJob) => {
  let reply: WorkerReply;
  try {
    reply = { ok: true, ...(await unpackInto(blobBytes(source), dir, limits)) };
  } catch (e) {
    // Error classes do not cross threads: name the family, and the pool rebuilds it.
    const kind = e instanceof InvalidArgument ? 'InvalidArgument' : e instanceof NoSpace ? 'NoSpace'
      : e instanceof NotFound ? 'NotFound' : e instanceof FileRestarted ? 'FileRestarted' : 'RuntimeFailure';
    reply = { ok: false, kind, message: (e as Error).message };
  }
  parentPort!.postMessage(reply);
});
