/**
 * `berth system prune [-a] [--volumes] [-f] [--filter until=…|label=…]`: stopped containers, unused
 * networks, (with --volumes) unused anonymous volumes, dangling images (with -a every unused one) and the
 * build cache, in that order, each reported as its own prune reports it.
 */
import { InvalidArgument } from '../../errors.ts';
import { pruneNetworks } from '../../engine/networks.ts';
import { pruneVolumes } from '../../engine/verbs/volume.ts';
import { confirm, filterFlags, parse, report, withEngine, type Command } from '../common.ts';
import type { FlagDef } from '../flags.ts';
import { humanSize } from '../format.ts';
import type { Globals } from '../globals.ts';
import { deletedImages } from './image-prune.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images not just dangling ones' },
  { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "label=<key>=<value>")' },
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'volumes', type: 'bool', description: 'Prune anonymous volumes' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove unused data', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'system prune');
  if (typeof p === 'number') return p;
  let filters: Record<string, string[]>;
  try {
    filters = filterFlags(p.flags.filter);
    for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    if (p.flags.volumes && filters.until) throw new InvalidArgument('The "until" filter is not supported with "--volumes"');
  } catch (e) {
    return report(e, 'system prune');
  }
  const warning = [
    'WARNING! This will remove:',
    '  - all stopped containers',
    '  - all networks not used by at least one container',
    ...(p.flags.volumes ? ['  - all anonymous volumes not used by at least one container'] : []),
    p.flags.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
    '  - unused build cache',
  ];
  if (!p.flags.force && !(await confirm(warning.join('\n')))) return 0;
  return withEngine(g, 'system prune', async (engine) => {
    let reclaimed = 0;
    const out = (title: string, items: string[]) => {
      if (items.length > 0) process.stdout.write(`${title}:\n${items.join('\n')}\n\n`);
    };
    const containers = await engine.prune(filters);
    reclaimed += containers.reclaimed;
    out('Deleted Containers', containers.ids);
    out('Deleted Networks', await pruneNetworks(engine, filters.label ?? []));
    if (p.flags.volumes) {
      const volumes = await pruneVolumes(engine, false, { labels: filters.label });
      reclaimed += volumes.reduce((n, v) => n + v.size, 0);
      out('Deleted Volumes', volumes.map((v) => v.name));
    }
    const images = engine.pruneImages({ ...filters, ...(p.flags.all ? { dangling: ['false'] } : {}) });
    reclaimed += images.reclaimed;
    process.stdout.write(deletedImages(images));
    const cache = await engine.pruneBuildCache();
    reclaimed += cache.reclaimed;
    out('Deleted build cache objects', cache.deleted);
    process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  });
}
