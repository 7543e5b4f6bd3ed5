/** `berth stats [-a] [--no-stream] [--no-trunc] [--format T] [CONTAINER...]`: a live stream of resource usage. */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { formatG, formatRows, humanSize, truncateId } from '../format.ts';
import { sampleOnce, statsEntry, streamStats, type DockerStats, type StatsTarget } from '../../engine/stats.ts';
import type { Engine } from '../../engine/engine.ts';
import { isBerthError, NoSuchContainer } from '../../errors.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'no-stream', type: 'bool', description: 'Disable streaming stats and only pull the first result' },
  { name: 'no-trunc', type: 'bool', description: 'Do not truncate output' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  flags,
};

export const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
export const HEADERS = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

/** The docker CLI's row (its --format fields), keys in the order docker's json output has them. */
export interface StatsRow {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
/** go-units BytesSize: binary units, "%.4g" (docker's MEM USAGE / LIMIT). */
export function bytesSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < BINARY_UNITS.length - 1) (size /= 1024), i++;
  return formatG(size, 4) + BINARY_UNITS[i];
}

const percent = (x: number) => `${x.toFixed(2)}%`;

/**
 * The docker CLI's row for a sample: CPU % from the sample and its precpu, memory less cache, NET I/O and
 * BLOCK I/O in decimal units, MEM USAGE / LIMIT in binary ones. `container` is the Container column (the
 * reference as typed; default the short id).
 */
export function statsRow(s: DockerStats, opts: { trunc?: boolean; container?: string } = {}): StatsRow {
  const e = statsEntry(s);
  return {
    BlockIO: `${humanSize(e.blockRead)} / ${humanSize(e.blockWrite)}`,
    CPUPerc: percent(e.cpuPercentage),
    Container: opts.container ?? truncateId(s.id),
    ID: opts.trunc === false ? s.id : truncateId(s.id),
    MemPerc: percent(e.memoryPercentage),
    MemUsage: `${bytesSize(e.memory)} / ${bytesSize(e.memoryLimit)}`,
    Name: e.name || '--',
    NetIO: `${humanSize(e.networkRx)} / ${humanSize(e.networkTx)}`,
    PIDs: String(e.pidsCurrent),
  };
}

/** The containers to sample now: the named ones (those removed since drop out), else the running (or all). */
async function targets(engine: Engine, refs: readonly string[], all: boolean): Promise<{ row: StatsTarget; ref?: string }[]> {
  if (refs.length === 0) return (await engine.list(all)).map((row) => ({ row }));
  const out: { row: StatsTarget; ref?: string }[] = [];
  for (const ref of refs) {
    try {
      out.push({ row: engine.inspect(ref), ref });
    } catch (e) {
      if (!(isBerthError(e) && e instanceof NoSuchContainer)) throw e;
    }
  }
  return out;
}

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'stats');
  if (typeof p === 'number') return p;
  return withEngine(g, 'stats', async (engine) => {
    const refs = p.args;
    for (const ref of refs) engine.find(ref); // an unknown container fails before any output
    const info = engine.cgroups();
    const trunc = !p.flags['no-trunc'];
    const format = p.flags.format || undefined;
    const render = (frame: DockerStats[], refOf: Map<string, string>) =>
      formatRows(
        format,
        DEFAULT_FORMAT,
        HEADERS,
        frame.map((s) => statsRow(s, { trunc, container: refOf.get(s.id) })),
      );
    if (p.flags['no-stream']) {
      const ts = await targets(engine, refs, p.flags.all);
      const frame = await sampleOnce(
        ts.map((t) => t.row),
        info,
        300,
      );
      process.stdout.write(render(frame, refsOf(ts)));
      return 0;
    }
    const ac = new AbortController();
    const stop = () => ac.abort();
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.once(s, stop);
    let last: { row: StatsTarget; ref?: string }[] = [];
    const tty = process.stdout.isTTY === true;
    try {
      await streamStats(
        async () => (last = await targets(engine, refs, p.flags.all)).map((t) => t.row),
        1000,
        (frame) => {
          const text = render(frame, refsOf(last));
          process.stdout.write(tty ? `\x1b[2J\x1b[H${text}` : text);
        },
        ac.signal,
        info,
      );
    } finally {
      for (const s of signals) process.off(s, stop);
    }
    return 0;
  });
}

function refsOf(ts: readonly { row: StatsTarget; ref?: string }[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const t of ts) if (t.ref !== undefined) m.set(t.row.id, t.ref);
  return m;
}
