/**
 * The core of unpacking a layer: decompress, hash the uncompressed tar (its diff id), count it against the
 * limits (src/image/unpack-limits.ts) and extract it with the layer policy (src/archive/extract.ts). Shared
 * by the main thread and the unpack worker.
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { extractTar } from '../archive/extract.ts';
import { decompressStream } from '../archive/tar.ts';
import { LayerMeter, type UnpackLimits } from './unpack-limits.ts';

/**
 * Unpack a layer stream into an existing dir; returns the digest of the uncompressed tar and the bytes of
 * file data. Used in-process and by the unpack worker (src/image/unpack-worker.ts). Every byte of the tar,
 * the end blocks and anything after them included, is counted against `limits` before it is extracted:
 * past a cap, or with the disk below its reserve, InvalidArgument says which.
 */
export async function unpackInto(input: AsyncIterable<Buffer>, dir: string, limits: UnpackLimits): Promise<{ diffId: string; bytes: number }> {
  const h = nodeCrypto().createHash('sha256');
  const meter = new LayerMeter(limits);
  const src = metered(decompressStream(input), meter)[Symbol.asyncIterator]();
  let ended = false;
  async function* feed(): AsyncGenerator<Buffer> {
    for (;;) {
      const r = await src.next();
      if (r.done) {
        ended = true;
        return;
      }
      h.update(r.value);
      yield r.value;
    }
  }
  let bytes = 0;
  try {
    bytes = (await extractTar(feed(), dir, { onSymlinkInPath: 'reject', whiteouts: 'overlay', plain: true })).bytes;
    // The digest covers the whole stream: hash what the extractor left unread (end blocks, padding).
    while (!ended) {
      const r = await src.next();
      if (r.done) ended = true;
      else h.update(r.value);
    }
  } catch (e) {
    meter.refund();
    throw e;
  } finally {
    if (!ended) await src.return?.(undefined);
  }
  return { diffId: `sha256:${h.digest('hex')}`, bytes };
}


/**
 * Counts each piece before it goes on. A chunk is cut into pieces of at most the meter's grain: the disk is
 * read between pieces, after the extractor wrote what came before, and a 1 MiB chunk of empty files' headers
 * (2,048 inodes) must not pass between two reads whole.
 */
async function* metered(chunks: AsyncIterable<Buffer>, meter: LayerMeter): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; ) {
      const piece = chunk.subarray(at, at + meter.grain());
      at += piece.length;
      meter.add(piece.length);
      yield piece;
    }
  }
}
