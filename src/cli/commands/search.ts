/** `berth search [--limit N] [--filter k=v] [--no-trunc] [--format T] TERM`: a registry's search results. */
import type { FlagDef } from '../flags.ts';
import { filterFlags, parse, withEngine, type Command } from '../common.ts';
import { formatRows, renderTemplate } from '../format.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided (stars=N, is-official=true)' },
  { name: 'format', type: 'string', description: 'Pretty-print search using a Go template' },
  { name: 'limit', type: 'int', default: 0, description: 'Max number of search results' },
  { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] TERM', description: 'Search a registry for images', flags, args: [1, 1] };

const DEFAULT = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
const HEADERS = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'search');
  if (typeof p === 'number') return p;
  return withEngine(g, 'search', async (engine) => {
    const results = await engine.search(p.args[0]!, p.flags.limit || 25, filterFlags(p.flags.filter));
    const items = results.map((r) => {
      const d = r.description.replace(/\n/g, ' ');
      return {
        Name: r.name,
        Description: p.flags['no-trunc'] || d.length <= 45 ? d : `${d.slice(0, 44)}…`,
        StarCount: String(r.star_count),
        IsOfficial: r.is_official ? '[OK]' : '',
        IsAutomated: r.is_automated ? '[OK]' : '',
      };
    });
    if (p.flags.format === 'json') {
      for (const i of items) process.stdout.write(`${renderTemplate('{{json .}}', i)}\n`);
      return 0;
    }
    process.stdout.write(formatRows(p.flags.format || undefined, DEFAULT, HEADERS, items));
    return 0;
  });
}
