/**
 * `berth build [OPTIONS] PATH|-`: an image from a Dockerfile. PATH is the context directory; `-` reads a
 * tar (or a bare Dockerfile, with no context) from stdin. Progress goes to stderr; -q prints only the id.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BuildOptions, RunResources } from '../../engine/build/options.ts';
import { InvalidArgument, NotSupported, RuntimeFailure } from '../../errors.ts';
import { parseOutput } from '../../engine/build/output.ts';
import { buildPrinter } from '../build-progress.ts';
import { parseBytes } from '../resource-flags.ts';
import { noContentTrust, parse, withEngine, type Command } from '../common.ts';
import type { FlagDef } from '../flags.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'tag', short: 't', type: 'list', description: 'Name and optionally a tag (format: "name:tag")' },
  { name: 'file', short: 'f', type: 'string', description: 'Name of the Dockerfile (default: "PATH/Dockerfile")' },
  { name: 'build-arg', type: 'list', description: 'Set build-time variables' },
  { name: 'target', type: 'string', description: 'Set the target build stage to build' },
  { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
  { name: 'cache-from', type: 'list', description: 'Images to consider as cache sources' },
  { name: 'pull', type: 'bool', description: 'Always attempt to pull a newer version of the image' },
  { name: 'label', type: 'list', description: 'Set metadata for an image' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the build output and print image ID on success' },
  { name: 'iidfile', type: 'string', description: 'Write the image ID to the file' },
  { name: 'platform', type: 'string', description: 'Set target platform for build' },
  { name: 'network', type: 'string', description: 'Set the networking mode for the RUN instructions during build' },
  { name: 'add-host', type: 'list', description: 'Add a custom host-to-IP mapping ("host:ip")' },
  { name: 'secret', type: 'list', description: 'Secret to expose to the build (format: "id=mysecret,src=/local/secret")' },
  { name: 'progress', type: 'string', description: 'Set type of progress output (auto, plain, tty)' },
  { name: 'output', short: 'o', type: 'list', description: 'Output destination (format: "type=local,dest=path")' },
  { name: 'rm', type: 'bool', default: true, description: 'Remove intermediate containers after a successful build' },
  { name: 'force-rm', type: 'bool', description: 'Always remove intermediate containers' },
  { name: 'memory', short: 'm', type: 'string', description: 'Memory limit' },
  { name: 'memory-swap', type: 'string', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'shm-size', type: 'string', description: 'Size of "/dev/shm"' },
  { name: 'ulimit', type: 'list', description: 'Ulimit options' },
  { name: 'cpu-shares', short: 'c', type: 'int', description: 'CPU shares (relative weight)' },
  { name: 'cpu-period', type: 'int', description: 'Limit the CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', description: 'Limit the CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'cgroup-parent', type: 'string', description: 'Set the parent cgroup for the "RUN" instructions during build' },
  { name: 'security-opt', type: 'list', description: 'Security options' },
  { name: 'disable-content-trust', type: 'bool', default: true, description: 'Skip image verification' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] PATH | -',
  description: 'Build an image from a Dockerfile',
  flags,
  args: [1, 1],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'build');
  if (typeof p === 'number') return p;
  // Ctrl-C stops the step that runs and leaves nothing of it (its container, mounts and work dir go).
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new RuntimeFailure('the build was interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const code = await withEngine(g, 'build', async (engine) => {
    const opts = options(p.flags, p.args[0]!);
    const outputs = p.flags.output.map(parseOutput);
    const result = await engine.build({ ...opts, signal: interrupt.signal, ...(p.flags.quiet ? {} : { progress: buildPrinter(process.stderr, p.flags.progress || 'auto') }) });
    for (const o of outputs) await engine.writeBuildOutput(result.imageId, o, process.stdout);
    if (p.flags.iidfile) writeFileSync(p.flags.iidfile, `sha256:${result.imageId}`);
    if (p.flags.quiet) process.stdout.write(`sha256:${result.imageId}\n`);
    else {
      process.stderr.write(`writing image sha256:${result.imageId}\n`);
      for (const t of result.tags) process.stderr.write(`naming to ${t}\n`);
    }
    return 0;
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // An interrupted build exits as a shell reports an interrupted command.
  return interrupt.signal.aborted ? 130 : code;
}

type Flags = Exclude<ReturnType<typeof parse<typeof flags>>, number>['flags'];

function options(f: Flags, path: string): BuildOptions {
  const fromStdin = path === '-';
  // Berth's builder removes a step's container whatever happens (what --rm and --force-rm ask for).
  if (!f.rm) throw new NotSupported('--rm=false: Berth removes each step\'s container after the step; none is kept');
  noContentTrust(f['disable-content-trust']);
  if (!fromStdin && !(existsSync(path) && statSync(path).isDirectory())) throw new InvalidArgument(`unable to prepare context: path "${path}" not found`);
  if (f.platform && !/^linux(\/amd64)?$/.test(f.platform)) throw new InvalidArgument(`--platform ${f.platform}: only linux/amd64 is built here`);
  if (f.progress && !['auto', 'plain', 'tty'].includes(f.progress)) throw new InvalidArgument(`invalid progress mode: ${f.progress} (auto, plain or tty)`);
  if (fromStdin && f.file === '-') throw new InvalidArgument('invalid argument: can\'t use stdin for both build context and dockerfile');
  const dockerfile = f.file === '-' ? { text: readFileSync(0, 'utf8') } : f.file ? { path: resolve(f.file) } : undefined;
  return {
    ...(fromStdin ? { contextStream: process.stdin } : { contextDir: resolve(path) }),
    ...(dockerfile ? { dockerfile } : {}),
    tags: f.tag,
    buildArgs: keyValues(f['build-arg'], '--build-arg', true),
    ...(f.target ? { target: f.target } : {}),
    noCache: f['no-cache'],
    cacheFrom: f['cache-from'],
    pull: f.pull,
    labels: keyValues(f.label, '--label', false),
    ...(f.network ? { network: f.network } : {}),
    addHosts: f['add-host'],
    secrets: secrets(f.secret),
    resources: resources(f),
  };
}

/** The RUN containers' limits; 0 (or nothing) leaves one unset, as docker's builder reads them. */
function resources(f: Flags): RunResources {
  // docker's daemon refuses them for a Linux build (they only carry Windows' credential specs).
  if (f['security-opt'].length > 0) throw new InvalidArgument('security options are not supported on linux');
  const r: RunResources = {};
  if (f.memory) r.memory = parseBytes(f.memory, '-m, --memory');
  if (f['memory-swap']) r.memorySwap = f['memory-swap'] === '-1' ? -1 : parseBytes(f['memory-swap'], '--memory-swap');
  if (f['shm-size']) r.shmSize = parseBytes(f['shm-size'], '--shm-size');
  if (f.ulimit.length > 0) r.ulimits = f.ulimit;
  if (f['cpu-shares']) r.cpuShares = f['cpu-shares'];
  if (f['cpu-period']) r.cpuPeriod = f['cpu-period'];
  if (f['cpu-quota']) r.cpuQuota = f['cpu-quota'];
  if (f['cpuset-cpus']) r.cpusetCpus = f['cpuset-cpus'];
  if (f['cpuset-mems']) r.cpusetMems = f['cpuset-mems'];
  if (f['cgroup-parent']) r.cgroupParent = f['cgroup-parent'];
  return r;
}

/** `K=V` items; a bare `K` takes the value of this process's variable K (build-args only, as docker's). */
function keyValues(items: string[], flag: string, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new InvalidArgument(`invalid ${flag} "${item}": no name`);
    if (eq < 0) {
      const v = fromEnv ? process.env[item] : '';
      if (v !== undefined) out[item] = v;
    } else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function secrets(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const f = new Map(item.split(',').map((kv) => [kv.split('=', 1)[0]!, kv.slice(kv.indexOf('=') + 1)]));
    const id = f.get('id');
    const src = f.get('src') ?? f.get('source');
    if (!id || !src) throw new InvalidArgument(`invalid secret "${item}": id=ID,src=PATH`);
    if (!existsSync(src)) throw new InvalidArgument(`secret ${id}: ${src}: no such file`);
    out[id] = resolve(src);
  }
  return out;
}
