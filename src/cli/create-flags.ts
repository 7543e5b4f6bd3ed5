/** The flags `run` and `create` share, and their translation into the engine's CreateOptions. */
import { readFileSync } from 'node:fs';
import type { CreateOptions } from '../engine/config.ts';
import type { EndpointOptions } from '../engine/net-config.ts';
import { parseRestartFlag, validateRestartPolicy } from '../engine/restart-policy.ts';
import { validateHealth, type HealthInput } from '../engine/healthcheck.ts';
import { parseGoDuration } from '../durations.ts';
import { InvalidArgument } from '../errors.ts';
import type { FlagDef, FlagValues } from './flags.ts';
import { createOnlyResourceFlags, parseBytes, toResourceOptions, updatableFlags } from './resource-flags.ts';
import { noContentTrust } from './common.ts';

export { parseBytes } from './resource-flags.ts';

export const createFlags = [
  { name: 'pull', type: 'string', default: 'missing', description: 'Pull image before running ("always", "missing", "never")' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the pull output' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'read-only', type: 'bool', description: "Mount the container's root filesystem as read only" },
  { name: 'volume', short: 'v', type: 'list', description: 'Bind mount a volume (/host:/container[:ro], name:/container, /container)' },
  { name: 'mount', type: 'list', description: 'Attach a filesystem mount to the container (type=bind|volume|tmpfs,…)' },
  { name: 'volumes-from', type: 'list', description: 'Mount volumes from the specified container(s)' },
  { name: 'tmpfs', type: 'list', description: 'Mount a tmpfs directory' },
  { name: 'ulimit', type: 'list', description: 'Ulimit options' },
  { name: 'init', type: 'bool', description: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'stop-signal', type: 'string', description: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', description: 'Timeout (in seconds) to stop a container' },
  { name: 'label', short: 'l', type: 'list', description: 'Set meta data on a container' },
  { name: 'label-file', type: 'list', description: 'Read in a line delimited file of labels' },
  { name: 'annotation', type: 'list', description: 'Add an annotation to the container (passed through to the OCI runtime)' },
  { name: 'domainname', type: 'string', description: 'Container NIS domain name' },
  { name: 'attach', short: 'a', type: 'list', description: 'Attach to STDIN, STDOUT or STDERR' },
  { name: 'cidfile', type: 'string', description: 'Write the container ID to the file' },
  { name: 'gpus', type: 'string', description: 'GPU devices to add to the container ("all" to pass all GPUs)' },
  { name: 'storage-opt', type: 'list', description: 'Storage driver options for the container' },
  { name: 'disable-content-trust', type: 'bool', default: true, description: 'Skip image verification' },
  { name: 'runtime', type: 'string', description: 'Runtime to use for this container (crun or runc)' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container when it exits' },
  { name: 'health-cmd', type: 'string', description: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', default: '0s', description: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { name: 'health-timeout', type: 'string', default: '0s', description: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { name: 'health-start-period', type: 'string', default: '0s', description: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { name: 'health-start-interval', type: 'string', default: '0s', description: 'Time between running the check during the start period (ms|s|m|h) (default 0s)' },
  { name: 'health-retries', type: 'int', description: 'Consecutive failures needed to report unhealthy' },
  { name: 'no-healthcheck', type: 'bool', description: 'Disable any container-specified HEALTHCHECK' },
  { name: 'restart', type: 'string', default: 'no', description: 'Restart policy to apply when a container exits (no, always, on-failure[:N], unless-stopped)' },
  { name: 'log-driver', type: 'string', default: '', description: 'Logging driver for the container (json-file, local, k8s-file, journald, none; default: the engine\'s log-driver)' },
  { name: 'log-opt', type: 'list', description: 'Log driver options (max-size=10m)' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to this container' },
  { name: 'cap-add', type: 'list', description: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', description: 'Drop Linux capabilities' },
  { name: 'security-opt', type: 'list', description: 'Security Options' },
  { name: 'device', type: 'list', description: 'Add a host device to the container' },
  { name: 'device-cgroup-rule', type: 'list', description: 'Add a rule to the cgroup allowed devices list' },
  { name: 'sysctl', type: 'list', description: 'Sysctl options' },
  { name: 'pid', type: 'string', description: 'PID namespace to use' },
  { name: 'ipc', type: 'string', description: 'IPC mode to use' },
  { name: 'uts', type: 'string', description: 'UTS namespace to use' },
  { name: 'pod', type: 'string', description: "Run the container in a pod (NAME or ID): it joins the pod's shared namespaces and cgroup" },
  { name: 'network', type: 'list', description: 'Connect a container to a network (bridge, NAME, none, host, container:<name|id>; again for more; name=NAME,alias=A,ip=IP,ip6=IP6,mac-address=MAC,link-local-ip=IP)' },
  { name: 'publish', short: 'p', type: 'list', description: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', description: 'Publish all exposed ports to random ports' },
  { name: 'expose', type: 'list', description: 'Expose a port or a range of ports' },
  { name: 'ip', type: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'link', type: 'list', description: 'Add link to another container (NAME[:ALIAS])' },
  { name: 'link-local-ip', type: 'list', description: 'Container IPv4/IPv6 link-local addresses' },
  { name: 'mac-address', type: 'string', description: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { name: 'network-alias', type: 'list', description: 'Add network-scoped alias for the container' },
  { name: 'net-alias', type: 'list', hidden: true, description: 'Add network-scoped alias for the container' },
  { name: 'dns', type: 'list', description: 'Set custom DNS servers' },
  { name: 'dns-search', type: 'list', description: 'Set custom DNS search domains' },
  { name: 'dns-option', type: 'list', description: 'Set DNS options' },
  { name: 'add-host', type: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'net', type: 'list', hidden: true, description: 'Connect a container to a network' },
  { name: 'cgroupns', type: 'string', description: 'Cgroup namespace to use (host|private)' },
  { name: 'shm-size', type: 'string', description: 'Size of /dev/shm' },
  { name: 'group-add', type: 'list', description: 'Add additional groups to join' },
  { name: 'userns', type: 'string', description: 'User namespace to use (host, auto[:size=N], remap[:USER]; keep-id for an ordinary user)' },
  ...updatableFlags,
  ...createOnlyResourceFlags,
] as const satisfies readonly FlagDef[];

type CreateFlagValues = FlagValues<typeof createFlags>;

/**
 * `-e NAME` (and an env-file line without `=`) takes this shell's value of NAME, as docker's CLI does; when
 * the shell has none it is sent as `NAME`, which the container keeps in its Config.Env without a variable.
 */
export function clientEnv(entry: string): string {
  if (entry.includes('=')) return entry;
  const v = process.env[entry];
  return v === undefined ? entry : `${entry}=${v}`;
}

/** docker's --env-file: KEY=VALUE lines; blank lines and # comments skipped. */
export function readEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidArgument(`open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/^\s+/, ''))
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** `key=value` flags (`--annotation`, `--storage-opt`) as a map; a value is required. */
function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`invalid argument "${kv}" for "${flag}" flag: expected key=value`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    if (i === 0) throw new InvalidArgument(`invalid label: ${l}`);
    if (i < 0) out[l] = '';
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

export function toCreateOptions(f: CreateFlagValues, changed: Set<string>, args: string[]): CreateOptions {
  noContentTrust(f['disable-content-trust']);
  const [image, ...cmd] = args;
  const opts: CreateOptions = {
    image: image!,
    cmd: cmd.length > 0 ? cmd : undefined,
    env: [...f['env-file'].flatMap(readEnvFile), ...f.env].map(clientEnv),
    labels: parseLabels([...f['label-file'].flatMap(readEnvFile), ...f.label]),
    volumes: f.volume,
    mounts: f.mount,
    volumesFrom: f['volumes-from'],
    tmpfs: f.tmpfs,
    ulimits: f.ulimit,
    readonlyRootfs: f['read-only'],
    init: f.init,
    tty: f.tty,
    openStdin: f.interactive,
    // docker: -i attaches stdin, and attached stdin closes when its client goes (StdinOnce); run -d clears it.
    stdinOnce: f.interactive,
    autoRemove: f.rm,
  };
  if (changed.has('restart')) {
    // Checked here, before any pull: docker's CLI refuses the pair, and its daemon the policy, before an image is fetched.
    if (f.rm && f.restart !== '' && f.restart !== 'no') throw new InvalidArgument('conflicting options: cannot specify both --restart and --rm');
    opts.restartPolicy = validateRestartPolicy(parseRestartFlag(f.restart));
  }
  const health = healthFlags(f, changed);
  if (health) opts.healthcheck = health;
  if (changed.has('name')) opts.name = f.name;
  if (changed.has('workdir')) opts.workdir = f.workdir;
  if (changed.has('user')) opts.user = f.user;
  if (changed.has('hostname')) opts.hostname = f.hostname;
  if (changed.has('pod')) opts.pod = f.pod;
  if (changed.has('domainname')) opts.domainname = f.domainname;
  if (f.annotation.length > 0) opts.annotations = keyValues(f.annotation, '--annotation');
  if (f['storage-opt'].length > 0) opts.storageOpt = keyValues(f['storage-opt'], '--storage-opt');
  if (changed.has('gpus')) {
    if (!f.gpus) throw new InvalidArgument('invalid argument "" for "--gpus" flag: empty GPU request');
    opts.deviceRequests = [{ Driver: '', Count: f.gpus === 'all' ? -1 : 0, Capabilities: [['gpu']] }];
  }
  // docker's: -a names the streams; without it stdout and stderr; -i attaches stdin too. (`run -d` clears them.)
  const bad = f.attach.find((a) => !['stdin', 'stdout', 'stderr'].includes(a.toLowerCase()));
  if (bad) throw new InvalidArgument(`invalid argument "${bad}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  const want = new Set(f.attach.map((a) => a.toLowerCase()));
  const named = want.size > 0;
  opts.attach = { stdin: want.has('stdin') || f.interactive, stdout: !named || want.has('stdout'), stderr: !named || want.has('stderr') };
  if (changed.has('entrypoint')) opts.entrypoint = f.entrypoint === '' ? [] : [f.entrypoint];
  if (changed.has('stop-signal')) opts.stopSignal = f['stop-signal'];
  if (changed.has('stop-timeout')) opts.stopTimeout = f['stop-timeout'];
  if (changed.has('runtime')) opts.runtime = f.runtime;
  if (changed.has('oom-score-adj')) opts.oomScoreAdj = f['oom-score-adj'];
  if (changed.has('cgroup-parent')) opts.cgroupParent = f['cgroup-parent'];
  if (f.cgroups !== 'enabled' && f.cgroups !== 'disabled') {
    throw new InvalidArgument(`invalid argument "${f.cgroups}" for "--cgroups" flag: must be enabled or disabled`);
  }
  opts.cgroups = f.cgroups;
  if (f['log-driver']) opts.logDriver = f['log-driver'];
  opts.logOpts = Object.fromEntries(
    f['log-opt'].map((o) => {
      const i = o.indexOf('=');
      if (i <= 0) throw new InvalidArgument(`invalid log opt: ${o} (expected key=value)`);
      return [o.slice(0, i), o.slice(i + 1)];
    }),
  );
  opts.privileged = f.privileged;
  opts.capAdd = f['cap-add'];
  opts.capDrop = f['cap-drop'];
  opts.securityOpt = f['security-opt'];
  opts.devices = f.device;
  opts.deviceCgroupRules = f['device-cgroup-rule'];
  opts.groupAdd = f['group-add'];
  opts.sysctls = Object.fromEntries(
    f.sysctl.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new InvalidArgument(`invalid argument "${kv}" for "--sysctl" flag: sysctl '${kv}' is not in the format key=value`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
  for (const ns of ['pid', 'ipc', 'uts', 'cgroupns', 'userns'] as const) if (changed.has(ns)) opts[ns] = f[ns];
  Object.assign(opts, networkFlags([...f.network, ...f.net]));
  opts.publish = f.publish;
  opts.publishAll = f['publish-all'];
  if (f.expose.length > 0) opts.expose = f.expose;
  opts.networkAliases = [...f['network-alias'], ...f['net-alias']];
  opts.dns = f.dns;
  opts.dnsSearch = f['dns-search'];
  opts.dnsOptions = f['dns-option'];
  opts.addHosts = f['add-host'];
  if (changed.has('ip')) opts.ip = f.ip;
  if (changed.has('ip6')) opts.ip6 = f.ip6;
  if (f.link.length > 0) opts.links = f.link;
  if (f['link-local-ip'].length > 0) opts.linkLocalIps = f['link-local-ip'];
  if (changed.has('mac-address')) opts.macAddress = f['mac-address'];
  if (changed.has('shm-size')) opts.shmSize = parseBytes(f['shm-size'], '--shm-size');
  return { ...opts, ...toResourceOptions(f, changed) };
}

/**
 * `--network` given once or more, as docker's CLI reads it: a name, or the long form
 * `name=NET,alias=A,ip=IP,ip6=IP6,mac-address=MAC,link-local-ip=IP,driver-opt=K=V,gw-priority=N`. The
 * first is the network mode (the flat flags --ip, --network-alias… apply to it); each one is an endpoint.
 */
function networkFlags(values: string[]): Pick<CreateOptions, 'network' | 'endpoints'> {
  if (values.length === 0) return {};
  const eps = values.map((v) => {
    if (!/\w+=\w+(,\w+=\w+)*/.test(v)) return { network: v, settings: {} as EndpointOptions };
    const e: EndpointOptions = {};
    let network = '';
    for (const field of v.split(',')) {
      const i = field.indexOf('=');
      if (i <= 0) throw new InvalidArgument(`invalid argument "${v}" for "--network" flag: invalid field ${field}`);
      const [k, val] = [field.slice(0, i).trim().toLowerCase(), field.slice(i + 1).trim()];
      if (k === 'name') network = val;
      else if (k === 'alias') (e.aliases ??= []).push(val);
      else if (k === 'ip') e.ip = val;
      else if (k === 'ip6') e.ip6 = val;
      else if (k === 'mac-address') e.mac = val;
      else if (k === 'link-local-ip') (e.linkLocalIps ??= []).push(val);
      else if (k === 'driver-opt') {
        const j = val.indexOf('=');
        (e.driverOpts ??= {})[j < 0 ? val : val.slice(0, j)] = j < 0 ? '' : val.slice(j + 1);
      } else if (k === 'gw-priority') e.gwPriority = Number(val);
      else throw new InvalidArgument(`invalid argument "${v}" for "--network" flag: invalid field key ${k}`);
    }
    if (!network) throw new InvalidArgument(`invalid argument "${v}" for "--network" flag: network name/id is not specified`);
    return { network, settings: e };
  });
  const user = (n: string) => !['default', 'bridge', 'host', 'none'].includes(n) && !n.startsWith('container:') && !n.startsWith('ns:');
  if (eps.length > 1 && eps.some((e) => user(e.network)) && eps.some((e) => !user(e.network))) {
    throw new InvalidArgument('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  }
  return { network: eps[0]!.network, endpoints: eps };
}

const HEALTH_DURATIONS = [
  ['health-interval', 'Interval'],
  ['health-timeout', 'Timeout'],
  ['health-start-period', 'StartPeriod'],
  ['health-start-interval', 'StartInterval'],
] as const;

/** The `--health-*` flags as docker's CLI turns them into Config.Healthcheck (its checks and messages). */
function healthFlags(f: FlagValues<typeof createFlags>, changed: ReadonlySet<string>): HealthInput | undefined {
  const given = ['health-cmd', 'health-retries', ...HEALTH_DURATIONS.map(([flag]) => flag)].some((n) => changed.has(n));
  if (f['no-healthcheck']) {
    if (given) throw new InvalidArgument('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given) return undefined;
  const h: HealthInput = {};
  if (f['health-cmd']) h.Test = ['CMD-SHELL', f['health-cmd']];
  for (const [flag, key] of HEALTH_DURATIONS) {
    const ns = parseGoDuration(f[flag]);
    if (ns === null) throw new InvalidArgument(`invalid argument "${f[flag]}" for "--${flag}" flag: time: invalid duration "${f[flag]}"`);
    if (ns < 0) throw new InvalidArgument(`--${flag} cannot be negative`);
    h[key] = ns;
  }
  const retries = changed.has('health-retries') ? f['health-retries'] : 0;
  if (retries < 0) throw new InvalidArgument('--health-retries cannot be negative');
  h.Retries = retries;
  validateHealth(h);
  return h;
}

