/** `berth pull [-q] [-a] [--platform P] NAME[:TAG|@DIGEST]` */
import type { FlagDef } from '../flags.ts';
import { InvalidArgument } from '../../errors.ts';
import { canonicalString, parseImageName } from '../../registry/reference.ts';
import { noContentTrust, withEngine, parse, type Command } from '../common.ts';
import { progressPrinter } from '../progress.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  { name: 'all-tags', short: 'a', type: 'bool', description: 'Download all tagged images in the repository' },
  { name: 'disable-content-trust', type: 'bool', default: true, description: 'Skip image verification' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] NAME[:TAG|@DIGEST]', description: 'Download an image from a registry', flags, args: [1, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'pull');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pull', async (engine) => {
    noContentTrust(p.flags['disable-content-trust']);
    const opts = { platform: p.flags.platform || undefined, onProgress: p.flags.quiet ? undefined : progressPrinter() };
    const name = p.args[0]!;
    if (!p.flags['all-tags']) {
      const r = await engine.pull(name, opts);
      process.stdout.write(`${r.canonical}\n`);
      return 0;
    }
    // -a: every tag the registry has for the repository, one pull after another, as docker's CLI does.
    const parsed = parseImageName(name);
    if (parsed.tag !== undefined || parsed.digest !== undefined) throw new InvalidArgument("tag can't be used with --all-tags/-a");
    for (const tag of await engine.remoteTags(name)) await engine.pull(`${name}:${tag}`, opts);
    process.stdout.write(`${canonicalString(parsed)}\n`);
    return 0;
  });
}
