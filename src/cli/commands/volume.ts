/** `berth volume create|ls|inspect|rm|prune`, as docker's. */
import type { FlagDef } from '../flags.ts';
import { confirm, eachRef, engineFor, parse, report, withEngine, type Command } from '../common.ts';
import { formatRows, humanSize } from '../format.ts';
import { printObjects } from './inspect.ts';
import { matchVolume, pruneVolumes, removeVolume, type VolumeFilter } from '../../engine/verbs/volume.ts';
import { volumeJson } from '../../engine/volume-inspect.ts';
import { newId } from '../../engine/names.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Globals } from '../globals.ts';

function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i === 0) throw new InvalidArgument(`invalid ${what}: ${kv}`);
    if (i < 0) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** docker's `--filter key=value` for volumes: dangling, driver, label, name. */
function parseFilters(list: string[]): VolumeFilter {
  const f: VolumeFilter = {};
  for (const item of list) {
    const i = item.indexOf('=');
    const [k, v] = i < 0 ? [item, ''] : [item.slice(0, i), item.slice(i + 1)];
    if (k === 'dangling') {
      if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgument(`invalid filter 'dangling=${v}'`);
      f.dangling = v === 'true' || v === '1';
    } else if (k === 'label') (f.labels ??= []).push(v);
    else if (k === 'name') (f.name ??= []).push(v);
    else if (k === 'driver') (f.driver ??= []).push(v);
    else throw new InvalidArgument(`invalid filter '${k}'`);
  }
  return f;
}

const createFlags = [
  { name: 'driver', short: 'd', type: 'string', default: 'local', description: 'Specify volume driver name' },
  { name: 'opt', short: 'o', type: 'list', description: 'Set driver specific options' },
  { name: 'label', type: 'list', description: 'Set metadata for a volume' },
] as const satisfies readonly FlagDef[];

async function create(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof createFlags> = { usage: '[OPTIONS] [VOLUME]', description: 'Create a volume', flags: createFlags, args: [0, 1] };
  const p = parse(cmd, argv, 'volume create');
  if (typeof p === 'number') return p;
  return withEngine(g, 'volume create', async (engine) => {
    const { volume } = engine.volumes.create(
      { name: p.args[0], driver: p.flags.driver, options: keyValues(p.flags.opt, 'option'), labels: keyValues(p.flags.label, 'label') },
      newId,
    );
    process.stdout.write(`${volume.name}\n`);
    return 0;
  });
}

const lsFlags = [
  { name: 'quiet', short: 'q', type: 'bool', description: 'Only display volume names' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'filter', short: 'f', type: 'list', description: 'Provide filter values (e.g. "dangling=true")' },
] as const satisfies readonly FlagDef[];

async function ls(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof lsFlags> = { usage: '[OPTIONS]', description: 'List volumes', flags: lsFlags, args: [0, 0] };
  const p = parse(cmd, argv, 'volume ls');
  if (typeof p === 'number') return p;
  return withEngine(g, 'volume ls', async (engine) => {
    const f = parseFilters(p.flags.filter);
    const rows = engine.volumes.repo.list().filter((v) => matchVolume(engine, v, f));
    if (p.flags.quiet) {
      for (const v of rows) process.stdout.write(`${v.name}\n`);
      return 0;
    }
    const items = rows.map((v) => ({
      Driver: v.driver,
      Name: v.name,
      Mountpoint: engine.volumes.mountpoint(v.name),
      Labels: Object.entries(v.labels).map(([k, val]) => `${k}=${val}`).join(','),
      Scope: 'local',
    }));
    const headers = { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Scope: 'SCOPE' };
    process.stdout.write(formatRows(p.flags.format || undefined, 'table {{.Driver}}\t{{.Name}}', headers, items));
    return 0;
  });
}

const inspectFlags = [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }] as const satisfies readonly FlagDef[];

async function inspect(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof inspectFlags> = { usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes', flags: inspectFlags, args: [1, Infinity] };
  const p = parse(cmd, argv, 'volume inspect');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  const out: unknown[] = [];
  let code = 0;
  try {
    for (const name of p.args) {
      try {
        out.push(volumeJson(engine, name));
      } catch (e) {
        code = report(e, 'volume inspect');
      }
    }
    if (out.length > 0 || code === 0) printObjects(out, p.flags.format);
    return code;
  } finally {
    engine.close();
  }
}

const rmFlags = [{ name: 'force', short: 'f', type: 'bool', description: 'Force the removal of one or more volumes (removes the containers using them)' }] as const satisfies readonly FlagDef[];

async function rm(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof rmFlags> = { usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes', flags: rmFlags, args: [1, Infinity] };
  const p = parse(cmd, argv, 'volume rm');
  if (typeof p === 'number') return p;
  return withEngine(g, 'volume rm', async (engine) => {
    await engine.repair();
    return eachRef(p.args, 'volume rm', async (name) => (await removeVolume(engine, name, p.flags.force), name));
  });
}

const pruneFlags = [
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused volumes, not just anonymous ones' },
  { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "label=<label>")' },
] as const satisfies readonly FlagDef[];

async function prune(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof pruneFlags> = { usage: '[OPTIONS]', description: 'Remove unused local volumes', flags: pruneFlags, args: [0, 0] };
  const p = parse(cmd, argv, 'volume prune');
  if (typeof p === 'number') return p;
  const what = p.flags.all ? 'all local volumes' : 'anonymous local volumes';
  if (!p.flags.force && !(await confirm(`WARNING! This will remove ${what} not used by at least one container.`))) return 0;
  return withEngine(g, 'volume prune', async (engine) => {
    await engine.repair();
    const gone = await pruneVolumes(engine, p.flags.all, parseFilters(p.flags.filter));
    process.stdout.write(gone.length ? `Deleted Volumes:\n${gone.map((v) => v.name).join('\n')}\n\n` : '');
    process.stdout.write(`Total reclaimed space: ${humanSize(gone.reduce((n, v) => n + v.size, 0))}\n`);
    return 0;
  });
}

const verbs: Record<string, (argv: string[], g: Globals) => Promise<number>> = { create, ls, list: ls, inspect, rm, remove: rm, prune };

export async function main(argv: string[], g: Globals): Promise<number> {
  const sub = g.verb.split(' ')[1] ?? '';
  const fn = verbs[sub];
  if (!fn) {
    process.stderr.write(`berth: 'volume ${sub}' is not a berth command.\nSee 'berth volume --help'\n`);
    return 1;
  }
  return fn(argv, g);
}
