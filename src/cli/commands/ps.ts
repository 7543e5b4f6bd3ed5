/** `berth ps [-a] [-q] [--no-trunc] [--filter k=v] [--format T] [-n N] [-l]` */
import type { FlagDef, ParseResult } from '../flags.ts';
import { parse, report, type Command } from '../command.ts';
import { formatRows, humanSize, renderTemplate } from '../format.ts';
import { humanDuration } from '../../engine/time.ts';
import { psSummary } from '../../engine/ps-summary.ts';
import { listSettled } from '../../engine/ps-list.ts';
import { engineRoot, type Globals } from '../globals.ts';
import { parseFilterArgs } from '../../engine/container-filters.ts';
import type { ListedContainer } from '../../engine/types.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
  { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'last', short: 'n', type: 'int', default: -1, description: 'Show n last created containers (includes all states)' },
  { name: 'latest', short: 'l', type: 'bool', description: 'Show the latest created container (includes all states)' },
  { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'List containers', flags, args: [0, 0] };

const DEFAULT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
const HEADERS = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  State: 'STATE',
  Ports: 'PORTS',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  Size: 'SIZE',
};


export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'ps');
  if (typeof p === 'number') return p;
  const n = p.flags.latest ? 1 : p.flags.last;
  const all = p.flags.all || n > 0;
  // Sizes are measured through the engine; without them a settled root is listed from the store alone,
  // with no engine loaded (src/engine/ps-list.ts).
  if (!p.flags.size) {
    try {
      const rows = await listSettled(engineRoot(g), all, parseFilterArgs(p.flags.filter));
      if (rows) return print(p, rows, n);
    } catch (e) {
      return report(e, 'ps');
    }
  }
  const { withEngine } = await import('../common.ts');
  const { containerSizes } = await import('../../engine/diff.ts');
  return withEngine(g, 'ps', async (engine) => {
    const rows = await engine.list(all, parseFilterArgs(p.flags.filter));
    return print(p, rows, n, p.flags.size ? (id) => containerSizes(engine, id) : undefined);
  });
}

function print(p: ParseResult<typeof flags>, listed: ListedContainer[], n: number, sizeOf?: (id: string) => { rw: number; rootFs: number }): number {
  const rows = n > 0 ? listed.slice(0, n) : listed;
  const trunc = !p.flags['no-trunc'];
  const items = rows.map((r) => {
    const s = psSummary(r, humanDuration);
    const size = sizeOf?.(r.id);
    return {
      ...s,
      ...(size ? { Size: `${humanSize(size.rw)} (virtual ${humanSize(size.rootFs)})` } : {}),
      ID: trunc ? s.ID.slice(0, 12) : s.ID,
      Command: JSON.stringify(trunc && s.Command.length > 20 ? `${s.Command.slice(0, 19)}…` : s.Command),
    };
  });
  if (p.flags.quiet && !p.flags.format) {
    process.stdout.write(items.map((i) => `${i.ID}\n`).join(''));
    return 0;
  }
  const format = p.flags.format;
  if (format === 'json') {
    for (const i of items) process.stdout.write(`${renderTemplate('{{json .}}', i)}\n`);
    return 0;
  }
  process.stdout.write(formatRows(format || undefined, p.flags.size ? `${DEFAULT}\t{{.Size}}` : DEFAULT, HEADERS, items));
  return 0;
}
