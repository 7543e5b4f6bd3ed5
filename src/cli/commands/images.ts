/** `berth images [-q] [-a] [--no-trunc] [--format T] [REPOSITORY[:TAG]]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { formatRows, humanDuration, humanSize, renderTemplate } from '../format.ts';
import { parseReference } from '../../image/reference.ts';
import type { Globals } from '../main.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Show all images' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  { name: 'digests', type: 'bool', description: 'Show digests' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] [REPOSITORY[:TAG]]', description: 'List images', flags, args: [0, 1] };

const DEFAULT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const HEADERS = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Digest: 'DIGEST' };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'images');
  if (typeof p === 'number') return p;
  return withEngine(g, 'images', async (engine) => {
    const want = p.args[0];
    const items: Record<string, string>[] = [];
    for (const img of engine.images.repo.list()) {
      const id = p.flags['no-trunc'] ? `sha256:${img.id}` : img.id.slice(0, 12);
      const tags = img.tags.length > 0 ? img.tags : ['<none>:<none>'];
      for (const t of tags) {
        const i = t.lastIndexOf(':');
        const repo = t.slice(0, i);
        const tag = t.slice(i + 1);
        if (want) {
          const w = want.includes(':') ? parseReference(want) : { repository: want, tag: '' };
          if (w.repository !== repo || (w.tag && w.tag !== tag)) continue;
        }
        items.push({
          Repository: repo,
          Tag: tag,
          ID: id,
          Digest: '<none>',
          CreatedSince: `${humanDuration(Date.now() - Date.parse(img.config.created))} ago`,
          CreatedAt: img.config.created,
          Size: humanSize(img.size),
        });
      }
    }
    if (p.flags.quiet) {
      for (const id of new Set(items.map((i) => i.ID))) process.stdout.write(`${id}\n`);
      return 0;
    }
    if (p.flags.format === 'json') {
      for (const i of items) process.stdout.write(`${renderTemplate('{{json .}}', i)}\n`);
      return 0;
    }
    process.stdout.write(formatRows(p.flags.format || undefined, DEFAULT, HEADERS, items));
    return 0;
  });
}
