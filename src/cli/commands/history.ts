/** `berth history [-H] [-q] [--no-trunc] [--format T] IMAGE`: the image's history entries, newest first. */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { formatRows, humanSize, renderTemplate } from '../format.ts';
import { humanDuration } from '../../engine/time.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'human', short: 'H', type: 'bool', default: true, description: 'Print sizes and dates in human readable format' },
  { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] IMAGE', description: 'Show the history of an image', flags, args: [1, 1] };

const DEFAULT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'history');
  if (typeof p === 'number') return p;
  return withEngine(g, 'history', async (engine) => {
    const img = engine.images.resolve(p.args[0]!);
    const items = engine.images.history(img).map((h) => {
      const by = h.createdBy;
      return {
        ID: h.id ? (p.flags['no-trunc'] ? h.id : h.id.slice(7, 19)) : '<missing>',
        CreatedSince: p.flags.human ? `${humanDuration(Date.now() - Date.parse(h.created))} ago` : h.created,
        CreatedAt: h.created,
        CreatedBy: p.flags['no-trunc'] || by.length <= 45 ? by : `${by.slice(0, 44)}…`,
        Size: p.flags.human ? humanSize(h.size) : String(h.size),
        Comment: h.comment,
      };
    });
    if (p.flags.quiet) {
      for (const i of items) process.stdout.write(`${i.ID}\n`);
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
