/**
 * docker's `--pull missing|always|never` for run and create: a missing image is pulled first, its
 * progress on stderr so the container's own output stays alone on stdout.
 */
import type { Engine } from '../engine/engine.ts';
import { InvalidArgument } from '../errors.ts';
import { familiarName } from '../registry/reference.ts';
import { progressPrinter } from './progress.ts';

export async function ensureImage(engine: Engine, ref: string, policy: string, quiet: boolean, platform?: string): Promise<void> {
  if (!['missing', 'always', 'never'].includes(policy)) {
    throw new InvalidArgument(`invalid pull option: '${policy}': must be one of "always", "missing" or "never"`);
  }
  if (policy === 'never') return;
  if (policy === 'missing' && engine.images.lookup(ref)) return;
  if (policy === 'missing') process.stderr.write(`Unable to find image '${familiarName(ref)}' locally\n`);
  await engine.pull(ref, { platform, onProgress: quiet ? undefined : progressPrinter(process.stderr) });
}
