/** `berth system df [-v] [--format T]`: disk usage per kind; with -v per image, container and volume. */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { formatRows, humanSize, renderTemplate, tableWriter } from '../format.ts';
import { diskUsage, diskUsageDetail } from '../../engine/system-df.ts';
import { psSummary } from '../../engine/ps-summary.ts';
import { humanDuration } from '../../engine/time.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Show docker disk usage', flags, args: [0, 0] };

const DEFAULT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'system df');
  if (typeof p === 'number') return p;
  return withEngine(g, 'system df', async (engine) => {
    if (p.flags.verbose) {
      process.stdout.write(verbose(engine));
      return 0;
    }
    const items = diskUsage(engine).map((r) => ({
      Type: r.type,
      TotalCount: String(r.total),
      Active: String(r.active),
      Size: humanSize(r.size),
      Reclaimable: r.size > 0 ? `${humanSize(r.reclaimable)} (${Math.round((r.reclaimable / r.size) * 100)}%)` : humanSize(r.reclaimable),
    }));
    if (p.flags.format === 'json') {
      for (const i of items) process.stdout.write(`${renderTemplate('{{json .}}', i)}\n`);
      return 0;
    }
    process.stdout.write(formatRows(p.flags.format || undefined, DEFAULT, HEADERS, items));
    return 0;
  });
}

/**
 * docker's `system df -v`: each image with the size it shares with other images and its own, each
 * container's writable layer, each volume with how many containers use it, then the build cache.
 */
function verbose(engine: Engine): string {
  const d = diskUsageDetail(engine);
  const layerSize = new Map(engine.images.repo.layers().map((l) => [l.id, l.size]));
  const users = new Map<string, number>();
  for (const { image } of d.images) for (const l of new Set(image.layers)) users.set(l, (users.get(l) ?? 0) + 1);
  const ago = (iso: string) => `${humanDuration(Date.now() - Date.parse(iso))} ago`;
  const images: string[][] = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS']];
  for (const { image, containers } of d.images) {
    const shared = [...new Set(image.layers)].filter((l) => (users.get(l) ?? 0) > 1).reduce((n, l) => n + (layerSize.get(l) ?? 0), 0);
    const names = image.tags.length > 0 ? image.tags.map((t) => [t.slice(0, t.lastIndexOf(':')), t.slice(t.lastIndexOf(':') + 1)]) : [['<none>', '<none>']];
    for (const [repo, tag] of names) {
      images.push([repo!, tag!, image.id.slice(0, 12), ago(image.config.created || image.createdAt), humanSize(image.size), humanSize(shared), humanSize(image.size - shared), String(containers)]);
    }
  }
  const containers: string[][] = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES']];
  for (const { row, sizeRw } of d.containers) {
    const s = psSummary(row, humanDuration);
    const command = s.Command.length > 20 ? `${s.Command.slice(0, 19)}…` : s.Command;
    containers.push([s.ID.slice(0, 12), s.Image, JSON.stringify(command), s.LocalVolumes, humanSize(sizeRw), s.RunningFor, s.Status, s.Names]);
  }
  const volumes: string[][] = [['VOLUME NAME', 'LINKS', 'SIZE']];
  for (const v of d.volumes) volumes.push([v.name, String(v.refCount), humanSize(v.size)]);
  // The classic builder's cache is its intermediate images (counted above), as docker's classic builder has it.
  const cache = tableWriter([['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED']]);
  return `Images space usage:\n\n${tableWriter(images)}\nContainers space usage:\n\n${tableWriter(containers)}\nLocal Volumes space usage:\n\n${tableWriter(volumes)}\nBuild cache usage: 0B\n\n${cache}`;
}
