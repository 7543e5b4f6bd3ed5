/**
 * `top`: the host's ps, narrowed to the container's processes (docker's daemon does the same). The header
 * and the rows are kept as ps printed them, for the CLI, and split into columns, for the API (the last
 * column, the command, keeps its spaces).
 */
import { Conflict, InvalidArgument, RuntimeFailure } from '../errors.ts';
import { run } from '../sys/run.ts';
import { isLive } from './state.ts';
import type { EngineCore } from './core.ts';

export interface TopResult {
  /** ps's header line and the container's rows, as printed. */
  header: string;
  lines: string[];
  /** The same, split into columns. */
  titles: string[];
  processes: string[][];
}

export async function topOf(engine: EngineCore, ref: string, psArgs: string[] = ['-ef']): Promise<TopResult> {
  const row = engine.inspect(ref);
  if (!isLive(row.state)) throw new Conflict(`Container ${row.id} is not running`);
  return psOf(new Set((await engine.driver(row.config.runtime).pids(row.id)).map(String)), psArgs);
}

/** The host's ps (with `psArgs`), narrowed to `pids`: a container's processes, or a pod's. */
export async function psOf(pids: ReadonlySet<string>, psArgs: string[]): Promise<TopResult> {
  const r = await run('ps', psArgs.length > 0 ? psArgs : ['-ef']);
  if (r.code !== 0) throw new RuntimeFailure(`ps ${psArgs.join(' ')}: ${r.stderr.trim()}`);
  const all = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const header = all[0] ?? '';
  const titles = header.trim().split(/\s+/);
  const col = titles.indexOf('PID');
  if (col < 0) throw new InvalidArgument(`Couldn't find PID field in ps output`);
  const lines: string[] = [];
  const processes: string[][] = [];
  for (const l of all.slice(1)) {
    const fields = l.trim().split(/\s+/);
    if (!pids.has(fields[col]!)) continue;
    lines.push(l);
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { header, lines, titles, processes };
}
