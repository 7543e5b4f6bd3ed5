/** `berth system df [--format T]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { formatRows, humanSize, renderTemplate } from '../format.ts';
import { diskUsage } from '../../engine/system-df.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage (not supported)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Show docker disk usage', flags, args: [0, 0] };

const DEFAULT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'system df');
  if (typeof p === 'number') return p;
  return withEngine(g, 'system df', async (engine) => {
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
