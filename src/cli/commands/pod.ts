/**
 * `berth pod create|ps|inspect|start|stop|restart|kill|pause|unpause|rm|top|stats|logs|exists`: podman's pod
 * verbs over the engine's pods (src/engine/pods/). Errors exit with their own code (125 for the engine's), as
 * podman's do.
 */
import type { FlagDef } from '../flags.ts';
import { parse, withEngine, type Command } from '../common.ts';
import { fail } from '../command.ts';
import { formatRows } from '../format.ts';
import { printObjects } from './inspect.ts';
import { humanDuration } from '../../engine/time.ts';
import { parseTimeArg } from '../../engine/time.ts';
import { linePrefixes } from '../../engine/log-lines.ts';
import { SerialWriter } from '../output.ts';
import type { Engine, PodActionResult, PodSummary } from '../../engine/engine.ts';
import { InvalidArgument, NotFound, isBerthError } from '../../errors.ts';
import type { Globals } from '../globals.ts';

function labels(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])));
}

/** A command as podman takes it: a JSON array, or words split on spaces. */
function commandWords(v: string): string[] {
  if (v.trim().startsWith('[')) {
    const a: unknown = JSON.parse(v);
    if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) throw new InvalidArgument(`invalid --infra-command: ${v}`);
    return a;
  }
  return v.split(/\s+/).filter(Boolean);
}

const createFlags = [
  { name: 'name', short: 'n', type: 'string', description: 'Assign a name to the pod' },
  { name: 'label', short: 'l', type: 'list', description: 'Set metadata on a pod' },
  { name: 'share', type: 'string', default: 'net,ipc,uts', description: 'The namespaces its containers share: net, ipc, uts, pid (+ns adds to the default)' },
  { name: 'network', type: 'string', description: "The pod's network: bridge (default), none, host or a network's name" },
  { name: 'publish', short: 'p', type: 'list', description: "Publish a port of the pod's to the host" },
  { name: 'hostname', type: 'string', description: "The pod's hostname (default: its name)" },
  { name: 'ip', type: 'string', description: "The pod's IPv4 address on its network" },
  { name: 'mac-address', type: 'string', description: "The pod's MAC address on its network" },
  { name: 'network-alias', type: 'list', description: "Another name the pod has on a user network" },
  { name: 'dns', type: 'list', description: 'Set custom DNS servers' },
  { name: 'dns-search', type: 'list', description: 'Set custom DNS search domains' },
  { name: 'dns-option', type: 'list', description: 'Set DNS options' },
  { name: 'add-host', type: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'cgroup-parent', type: 'string', description: "The cgroup the pod's cgroup is made under (default /berth)" },
  { name: 'infra-image', type: 'string', description: 'The image of the infra container (default: catatonit -P)' },
  { name: 'infra-command', type: 'string', description: 'The command of the infra container' },
  { name: 'infra-name', type: 'string', description: 'The name of the infra container (default: <pod id>-infra)' },
] as const satisfies readonly FlagDef[];

async function create(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof createFlags> = { usage: '[OPTIONS]', description: 'Create a new empty pod', flags: createFlags, args: [0, 0] };
  const p = parse(cmd, argv, 'pod create');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pod create', async (engine) => {
    const f = p.flags;
    const has = (n: string) => p.changed.has(n);
    const pod = await engine.createPod({
      ...(has('name') ? { name: f.name } : {}),
      labels: labels(f.label),
      ...(has('share') ? { share: f.share } : {}),
      ...(has('network') ? { network: f.network } : {}),
      publish: f.publish,
      ...(has('hostname') ? { hostname: f.hostname } : {}),
      ...(has('ip') ? { ip: f.ip } : {}),
      ...(has('mac-address') ? { macAddress: f['mac-address'] } : {}),
      networkAliases: f['network-alias'],
      dns: f.dns,
      dnsSearch: f['dns-search'],
      dnsOptions: f['dns-option'],
      addHosts: f['add-host'],
      ...(has('cgroup-parent') ? { cgroupParent: f['cgroup-parent'] } : {}),
      ...(has('infra-image') ? { infraImage: f['infra-image'] } : {}),
      ...(has('infra-command') ? { infraCommand: commandWords(f['infra-command']) } : {}),
      ...(has('infra-name') ? { infraName: f['infra-name'] } : {}),
    });
    process.stdout.write(`${pod.id}\n`);
    return 0;
  });
}

const psFlags = [
  { name: 'quiet', short: 'q', type: 'bool', description: 'Print only the pod IDs' },
  { name: 'no-trunc', type: 'bool', description: 'Do not truncate pod and container IDs' },
  { name: 'format', type: 'string', description: 'Pretty-print pods with a Go template (or json)' },
  { name: 'filter', short: 'f', type: 'list', description: 'Filter output: id, name, label, status, ctr-names, ctr-ids, ctr-status, ctr-number' },
  { name: 'ctr-names', type: 'bool', description: 'Display the names of the containers' },
  { name: 'ctr-ids', type: 'bool', description: 'Display the IDs of the containers' },
  { name: 'ctr-status', type: 'bool', description: 'Display the statuses of the containers' },
] as const satisfies readonly FlagDef[];

const PS_HEADERS = {
  ID: 'POD ID', Name: 'NAME', Status: 'STATUS', Created: 'CREATED', InfraID: 'INFRA ID', NumberOfContainers: '# OF CONTAINERS',
  Labels: 'LABELS', Networks: 'NETWORKS', ContainerNames: 'NAMES', ContainerIds: 'IDS', ContainerStatuses: 'STATUS',
};

/** podman's `pod ps --filter`: every key given must match, any of its values. */
function podFilter(values: string[]): (s: PodSummary) => boolean {
  const tests: ((s: PodSummary) => boolean)[] = [];
  const byKey = new Map<string, string[]>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new InvalidArgument(`bad format of filter (expected name=value): ${v}`);
    byKey.set(v.slice(0, eq), [...(byKey.get(v.slice(0, eq)) ?? []), v.slice(eq + 1)]);
  }
  for (const [key, wanted] of byKey) {
    switch (key) {
      case 'id': tests.push((s) => wanted.some((w) => s.id.startsWith(w))); break;
      case 'name': tests.push((s) => wanted.some((w) => new RegExp(w).test(s.name))); break;
      case 'label': tests.push((s) => wanted.some((w) => { const [k, val] = w.split('=', 2) as [string, string?]; return k in s.labels && (val === undefined || s.labels[k] === val); })); break;
      case 'status': tests.push((s) => wanted.some((w) => w.toLowerCase() === s.status.toLowerCase())); break;
      case 'ctr-names': tests.push((s) => wanted.some((w) => s.containers.some((c) => c.name === w))); break;
      case 'ctr-ids': tests.push((s) => wanted.some((w) => s.containers.some((c) => c.id.startsWith(w)))); break;
      case 'ctr-status': tests.push((s) => wanted.some((w) => s.containers.some((c) => c.state === w))); break;
      case 'ctr-number': tests.push((s) => wanted.some((w) => Number(w) === s.containers.length)); break;
      default: throw new InvalidArgument(`invalid filter "${key}": the pod filters are id, name, label, status, ctr-names, ctr-ids, ctr-status and ctr-number`);
    }
  }
  return (s) => tests.every((t) => t(s));
}

async function ps(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof psFlags> = { usage: '[OPTIONS]', description: 'List pods', flags: psFlags, args: [0, 0] };
  const p = parse(cmd, argv, 'pod ps');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pod ps', async (engine) => {
    const keep = podFilter(p.flags.filter);
    const trunc = !p.flags['no-trunc'];
    const id = (x: string) => (trunc ? x.slice(0, 12) : x);
    const pods = engine.listPods().filter(keep);
    const items = pods.map((s) => ({
      ID: id(s.id),
      Name: s.name,
      Status: s.status,
      Created: `${humanDuration(Date.now() - Date.parse(s.created))} ago`,
      InfraID: id(s.infraId),
      NumberOfContainers: s.containers.length,
      Labels: s.labels,
      Networks: s.networks.join(','),
      ContainerNames: s.containers.map((c) => c.name).join(','),
      ContainerIds: s.containers.map((c) => id(c.id)).join(','),
      ContainerStatuses: s.containers.map((c) => c.state).join(','),
    }));
    if (p.flags.quiet && !p.flags.format) {
      process.stdout.write(items.map((i) => `${i.ID}\n`).join(''));
      return 0;
    }
    if (p.flags.format === 'json') {
      process.stdout.write(`${JSON.stringify(items, null, 4)}\n`);
      return 0;
    }
    let table = 'table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}';
    if (p.flags['ctr-ids']) table += '\t{{.ContainerIds}}';
    if (p.flags['ctr-names']) table += '\t{{.ContainerNames}}';
    if (p.flags['ctr-status']) table += '\t{{.ContainerStatuses}}';
    if (!p.flags['ctr-ids'] && !p.flags['ctr-names'] && !p.flags['ctr-status']) table += '\t{{.NumberOfContainers}}';
    process.stdout.write(formatRows(p.flags.format || undefined, table, PS_HEADERS, items));
    return 0;
  });
}

async function inspect(argv: string[], g: Globals): Promise<number> {
  const flags = [{ name: 'format', short: 'f', type: 'string', description: 'Format the output with a Go template (or json)' }] as const satisfies readonly FlagDef[];
  const p = parse({ usage: 'POD [POD...]', description: 'Display information about one or more pods', flags, args: [1, Infinity] }, argv, 'pod inspect');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pod inspect', async (engine) => {
    const docs = p.args.map((ref) => engine.inspectPod(ref)); // all found before any is printed
    printObjects(docs, p.flags.format);
    return 0;
  });
}

/**
 * A verb over pods: `op` on each named pod (or every pod with --all), its id printed when it did all it
 * should, each container it failed on reported with its error. The exit code is the last failure's.
 */
function podVerb(
  verb: string,
  description: string,
  extra: readonly FlagDef[],
  op: (engine: Engine, ref: string, flags: Record<string, unknown>) => Promise<PodActionResult | string>,
) {
  const flags = [{ name: 'all', short: 'a', type: 'bool', description: `${verb} all pods` }, ...extra] as const;
  return async (argv: string[], g: Globals): Promise<number> => {
    const p = parse({ usage: '[OPTIONS] POD [POD...]', description, flags, args: [0, Infinity] }, argv, `pod ${verb}`);
    if (typeof p === 'number') return p;
    const all = p.flags.all as boolean;
    if (all === p.args.length > 0) return fail(`Error: ${all ? '--all and pod names cannot be combined' : 'no pod given: name one or more, or use --all'}`, 125);
    return withEngine(g, `pod ${verb}`, async (engine) => {
      let code = 0;
      const refs = all ? engine.listPods().map((s) => s.id) : p.args;
      for (const ref of refs) {
        try {
          const r = await op(engine, ref, p.flags as Record<string, unknown>);
          if (typeof r === 'string') {
            process.stdout.write(`${r}\n`);
            continue;
          }
          for (const f of r.failures) code = fail(`Error: ${verb} of container ${f.name} in pod ${r.name}: ${f.error.message}`, f.error.exitCode);
          if (r.failures.length === 0) process.stdout.write(`${r.id}\n`);
        } catch (e) {
          if (!isBerthError(e)) throw e;
          code = fail(`Error: ${e.message}`, e.exitCode);
        }
      }
      return code;
    });
  };
}

const timeFlag = [{ name: 'time', short: 't', type: 'int', default: -1, description: 'Seconds to wait for each container to stop before killing it (default: its own)' }] as const satisfies readonly FlagDef[];
const timeOf = (f: Record<string, unknown>) => ((f.time as number) >= 0 ? (f.time as number) : undefined);

async function top(argv: string[], g: Globals): Promise<number> {
  if (argv.length < 1 || argv[0] === '--help') {
    process.stdout.write('Usage:  berth pod top POD [ps OPTIONS]\n\nDisplay the running processes of the containers in a pod\n');
    return argv.length < 1 ? 125 : 0;
  }
  return withEngine(g, 'pod top', async (engine) => {
    const t = await engine.topPod(argv[0]!, argv.slice(1));
    process.stdout.write([t.header, ...t.lines].map((l) => `${l}\n`).join(''));
    return 0;
  });
}

const logFlags = [
  { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
  { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
  { name: 'tail', type: 'string', default: 'all', description: 'Number of lines to show from the end of each log' },
  { name: 'since', type: 'string', description: 'Show logs since timestamp or relative (e.g. 42m)' },
  { name: 'until', type: 'string', description: 'Show logs before a timestamp or relative (e.g. 42m)' },
  { name: 'container', short: 'c', type: 'string', description: 'Only this container of the pod' },
  { name: 'names', type: 'bool', description: 'Prefix each line with its container name instead of its ID' },
] as const satisfies readonly FlagDef[];

async function logs(argv: string[], g: Globals): Promise<number> {
  const p = parse({ usage: '[OPTIONS] POD', description: "Fetch the logs of a pod's containers", flags: logFlags, args: [1, 1] }, argv, 'pod logs');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pod logs', async (engine) => {
    const tail = p.flags.tail === 'all' ? undefined : Number(p.flags.tail);
    if (tail !== undefined && !Number.isInteger(tail)) throw new InvalidArgument(`invalid value for "tail": ${p.flags.tail}`);
    const stamp = linePrefixes({ timestamps: p.flags.timestamps, details: false });
    const stdout = new SerialWriter(process.stdout);
    const stderr = new SerialWriter(process.stderr);
    // A line is prefixed with its container once, at its start (a long line comes in several records).
    const midLine = new Set<string>();
    await engine.podLogs(
      p.args[0]!,
      (c, rec) => {
        const out = rec.stream === 'stderr' ? stderr : stdout;
        const key = `${c.id}/${rec.stream}`;
        if (!midLine.has(key)) out.write(`${p.flags.names ? c.name : c.id.slice(0, 12)} ${stamp(rec) ?? ''}`);
        if (rec.data.at(-1) === 0x0a) midLine.delete(key);
        else midLine.add(key);
        out.write(rec.data);
      },
      {
        follow: p.flags.follow,
        tail,
        since: p.changed.has('since') ? parseTimeArg(p.flags.since, '--since') : undefined,
        until: p.changed.has('until') ? parseTimeArg(p.flags.until, '--until') : undefined,
        ...(p.changed.has('container') ? { only: p.flags.container } : {}),
      },
    );
    await Promise.all([stdout.flushed(), stderr.flushed()]);
    return 0;
  });
}

const statsFlags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Every pod' },
  { name: 'no-stream', type: 'bool', description: 'Print one sample and exit' },
  { name: 'no-trunc', type: 'bool', description: 'Do not truncate IDs' },
  { name: 'format', type: 'string', description: 'Format the output with a Go template (or json)' },
] as const satisfies readonly FlagDef[];

/** `pod stats`: `stats` over the running containers of the pods (every pod without names), with their pod. */
async function stats(argv: string[], g: Globals): Promise<number> {
  const p = parse({ usage: '[OPTIONS] [POD...]', description: "Display a live stream of the resource usage of pods' containers", flags: statsFlags, args: [0, Infinity] }, argv, 'pod stats');
  if (typeof p === 'number') return p;
  const { sampleOnce, streamStats } = await import('../../engine/stats.ts');
  const { statsRow, HEADERS } = await import('./stats.ts');
  return withEngine(g, 'pod stats', async (engine) => {
    for (const ref of p.args) engine.inspectPod(ref); // an unknown pod fails before any output
    const trunc = !p.flags['no-trunc'];
    const podOf = new Map<string, string>();
    const targets = () => {
      const pods = p.args.length > 0 ? p.args.map((ref) => engine.inspectPod(ref)) : engine.listPods().map((s) => engine.inspectPod(s.id));
      const ids = pods.flatMap((pod) => pod.Containers.filter((c) => c.State === 'running').map((c) => (podOf.set(c.Id, trunc ? pod.Id.slice(0, 12) : pod.Id), c.Id)));
      return ids.flatMap((id) => { try { return [engine.inspect(id)]; } catch { return []; } });
    };
    const render = (frame: Parameters<typeof statsRow>[0][]) =>
      formatRows(p.flags.format || undefined, 'table {{.Pod}}\t{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}', { ...HEADERS, Pod: 'POD' },
        frame.map((s) => ({ Pod: podOf.get(s.id) ?? '', ...statsRow(s, { trunc }) })));
    const info = engine.cgroups();
    if (p.flags['no-stream']) {
      process.stdout.write(render(await sampleOnce(targets(), info, 300)));
      return 0;
    }
    const ac = new AbortController();
    const stop = () => ac.abort();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, stop);
    const tty = process.stdout.isTTY === true;
    await streamStats(async () => targets(), 1000, (frame) => void process.stdout.write(tty ? `\x1b[2J\x1b[H${render(frame)}` : render(frame)), ac.signal, info);
    return 0;
  });
}

async function exists(argv: string[], g: Globals): Promise<number> {
  const p = parse({ usage: 'POD', description: 'Check if a pod exists (exit 0) or not (exit 1)', flags: [], args: [1, 1] }, argv, 'pod exists');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pod exists', async (engine) => {
    try {
      engine.inspectPod(p.args[0]!);
      return 0;
    } catch (e) {
      if (e instanceof NotFound) return 1;
      throw e;
    }
  });
}

const verbs: Record<string, (argv: string[], g: Globals) => Promise<number>> = {
  create,
  ps,
  ls: ps,
  list: ps,
  inspect,
  start: podVerb('start', 'Start one or more pods', [], (e, ref) => e.startPod(ref)),
  stop: podVerb('stop', 'Stop one or more pods', timeFlag, (e, ref, f) => e.stopPod(ref, timeOf(f))),
  restart: podVerb('restart', 'Restart one or more pods', timeFlag, (e, ref, f) => e.restartPod(ref, timeOf(f))),
  kill: podVerb('kill', 'Send a signal to the running containers of one or more pods',
    [{ name: 'signal', short: 's', type: 'string', default: 'KILL', description: 'Signal to send to the containers' }],
    (e, ref, f) => e.killPod(ref, f.signal as string)),
  pause: podVerb('pause', 'Pause one or more pods', [], (e, ref) => e.pausePod(ref)),
  unpause: podVerb('unpause', 'Unpause one or more pods', [], (e, ref) => e.unpausePod(ref)),
  rm: podVerb('rm', 'Remove one or more pods with their containers',
    [{ name: 'force', short: 'f', type: 'bool', description: 'Stop running containers and remove the pod' }],
    (e, ref, f) => e.removePod(ref, f.force as boolean)),
  top,
  stats,
  logs,
  exists,
};
verbs.remove = verbs.rm!;

export const POD_VERBS = Object.keys(verbs);

export async function main(argv: string[], g: Globals): Promise<number> {
  const sub = g.verb.split(' ')[1] ?? '';
  const fn = verbs[sub];
  if (!fn) return fail(`berth: 'pod ${sub}' is not a berth command.\nSee 'berth pod --help'`, 125);
  return fn(argv, g);
}

