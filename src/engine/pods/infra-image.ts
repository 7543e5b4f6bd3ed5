/**
 * The image a pod's infra container runs when no other is asked for: one layer holding Debian's static
 * catatonit, started as `catatonit -P` (its pause mode: it holds the pod's namespaces and does nothing else).
 * podman builds its pause image from the same binary. Made on first use and tagged by the binary's digest, so
 * a new catatonit gets a new image and pods made before keep theirs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NotSupported } from '../../errors.ts';
import { tarEntry, writeTar, type TarInput } from '../../archive/tar.ts';
import type { EngineCore } from '../core.ts';

export const CATATONIT = '/usr/bin/catatonit';
const REPOSITORY = 'localhost/berth-infra';

/** The infra image's reference, imported into the root's image store first if it is not there yet. */
export async function infraImage(engine: EngineCore): Promise<string> {
  let binary: Buffer;
  try {
    binary = readFileSync(CATATONIT);
  } catch {
    throw new NotSupported(`a pod's infra container needs ${CATATONIT} (apt-get install catatonit), or give the pod --infra-image`);
  }
  const ref = `${REPOSITORY}:${createHash('sha256').update(binary).digest('hex').slice(0, 12)}`;
  if (engine.images.lookup(ref)) return ref;
  const entries: TarInput[] = [
    ...['dev', 'etc', 'proc', 'sys'].map((name) => ({ entry: tarEntry({ name: `${name}/`, type: 'dir' }) })),
    { entry: tarEntry({ name: 'catatonit', type: 'file', mode: 0o755, size: binary.length }), body: binary },
  ];
  await engine.images.importTar(writeTar(entries), ref, ['ENTRYPOINT ["/catatonit", "-P"]'], 'the pod infra image: catatonit -P');
  return ref;
}
