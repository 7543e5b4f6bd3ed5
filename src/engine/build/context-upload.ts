/**
 * A build context sent as a stream (`build -`, the API's /build body): a tar (plain, gzip or zstd), unpacked
 * into the build's work dir as it arrives (never held in memory whole), or else a bare Dockerfile with an
 * empty context, as docker accepts on stdin.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractTar } from '../../archive/extract.ts';
import { InvalidArgument } from '../../errors.ts';
import { looksLikeArchive } from '../../image/archive-format.ts';

/** A Dockerfile is small; a larger non-archive is refused rather than read whole. */
const MAX_BARE_DOCKERFILE = 4 << 20;

/** Unpack the stream into `<workRoot>/context`; the context dir, and the Dockerfile text when it was one. */
export async function unpackContext(input: AsyncIterable<Buffer>, workRoot: string): Promise<{ dir: string; dockerfile?: string }> {
  const dir = join(workRoot, 'context');
  mkdirSync(dir, { mode: 0o755 });
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < 512 && !done) {
    const r = await it.next();
    if (r.done) done = true;
    else {
      head.push(r.value);
      size += r.value.length;
    }
  }
  const first = Buffer.concat(head);
  const rest = async function* () {
    yield first;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  };
  if (looksLikeArchive(first)) {
    await extractTar(rest(), dir, { onSymlinkInPath: 'scoped', whiteouts: 'keep', noSameOwner: true });
    return { dir };
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const b of rest()) {
    total += b.length;
    if (total > MAX_BARE_DOCKERFILE) throw new InvalidArgument('the build context on stdin is neither a tar archive nor a Dockerfile (over 4 MiB)');
    parts.push(b);
  }
  return { dir, dockerfile: Buffer.concat(parts).toString('utf8') };
}
