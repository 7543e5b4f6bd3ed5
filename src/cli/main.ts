/**
 * The berth CLI: docker's verbs over the Engine. Each verb lives in its own module, imported only when
 * called, so `berth run` loads what run needs and nothing else.
 */
import { fail } from './command.ts';
import type { Globals } from './globals.ts';
import { trace } from '../sys/trace.ts';
import { exitOnBrokenPipe } from './output.ts';
import { enableTrace } from '../sys/trace.ts';

trace('main: loaded');

type Loader = () => Promise<{ main(argv: string[], globals: Globals): Promise<number> }>;

const commands: Record<string, Loader> = {
  run: () => import('./commands/run.ts'),
  create: () => import('./commands/create.ts'),
  start: () => import('./commands/start.ts'),
  stop: () => import('./commands/stop.ts'),
  restart: () => import('./commands/restart.ts'),
  kill: () => import('./commands/kill.ts'),
  pause: () => import('./commands/pause.ts'),
  unpause: () => import('./commands/unpause.ts'),
  rm: () => import('./commands/rm.ts'),
  wait: () => import('./commands/wait.ts'),
  ps: () => import('./commands/ps.ts'),
  inspect: () => import('./commands/inspect.ts'),
  logs: () => import('./commands/logs.ts'),
  top: () => import('./commands/top.ts'),
  rename: () => import('./commands/rename.ts'),
  import: () => import('./commands/import.ts'),
  images: () => import('./commands/images.ts'),
  rmi: () => import('./commands/rmi.ts'),
  info: () => import('./commands/info.ts'),
  events: () => import('./commands/events.ts'),
  update: () => import('./commands/update.ts'),
  exec: () => import('./commands/exec.ts'),
  attach: () => import('./commands/attach.ts'),
  stats: () => import('./commands/stats.ts'),
  version: () => import('./commands/version.ts'),
  diff: () => import('./commands/diff.ts'),
  cp: () => import('./commands/cp.ts'),
  export: () => import('./commands/export.ts'),
  port: () => import('./commands/port.ts'),
  pull: () => import('./commands/pull.ts'),
  search: () => import('./commands/search.ts'),
  push: () => import('./commands/push.ts'),
  tag: () => import('./commands/tag.ts'),
  commit: () => import('./commands/commit.ts'),
  build: () => import('./commands/build.ts'),
  'builder prune': () => import('./commands/builder-prune.ts'),
  history: () => import('./commands/history.ts'),
  login: () => import('./commands/login.ts'),
  logout: () => import('./commands/logout.ts'),
  save: () => import('./commands/save.ts'),
  load: () => import('./commands/load.ts'),
  'image prune': () => import('./commands/image-prune.ts'),
  'system df': () => import('./commands/system-df.ts'),
  'system prune': () => import('./commands/system-prune.ts'),
  'system info': () => import('./commands/info.ts'),
  'system reset': () => import('./commands/system-reset.ts'),
  'system events': () => import('./commands/events.ts'),
  'container prune': () => import('./commands/prune.ts'),
  'container cleanup': () => import('./commands/cleanup.ts'),
  'system supervise': () => import('./commands/supervise.ts'),
  'image inspect': () => import('./commands/image-inspect.ts'),
  'container inspect': () => import('./commands/container-inspect.ts'),
  serve: () => import('./commands/serve.ts'),
  'system service': () => import('./commands/serve.ts'),
};
for (const v of ['create', 'ls', 'list', 'inspect', 'rm', 'remove', 'prune']) commands[`volume ${v}`] = () => import('./commands/volume.ts');
for (const v of ['create', 'ls', 'list', 'inspect', 'rm', 'remove', 'prune', 'connect', 'disconnect']) commands[`network ${v}`] = () => import('./commands/network.ts');
for (const v of ['create', 'ps', 'ls', 'list', 'inspect', 'start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'rm', 'remove', 'top', 'stats', 'logs', 'exists']) {
  commands[`pod ${v}`] = () => import('./commands/pod.ts');
}
for (const v of ['play', 'down']) commands[`kube ${v}`] = () => import('./commands/kube.ts');

/** The verbs an ordinary user may run outside a user namespace: they need no engine (info shows what the host offers). */
const USER_VERBS = new Set(['version', 'info', 'system info', 'login', 'logout', 'search']);

/** `container ls` and friends map onto the top-level verbs, as in docker. */
const aliases: Record<string, string> = {
  'container ls': 'ps',
  'container list': 'ps',
  'container ps': 'ps',
  'container rm': 'rm',
  'container remove': 'rm',
  'image ls': 'images',
  'image list': 'images',
  'image rm': 'rmi',
  'image remove': 'rmi',
  'image import': 'import',
  'image pull': 'pull',
  'image push': 'push',
  'image tag': 'tag',
  'image history': 'history',
  'image save': 'save',
  'image load': 'load',
  'container commit': 'commit',
  'image build': 'build',
  'buildx build': 'build',
  'buildx prune': 'builder prune',
};
for (const v of ['run', 'create', 'start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'wait', 'logs', 'top', 'rename', 'update', 'stats', 'exec', 'attach', 'diff', 'cp', 'export', 'port']) {
  aliases[`container ${v}`] = v;
}

const HELP = `Usage:  berth [OPTIONS] COMMAND

A daemonless container engine with docker's commands

Options:
      --config string      Location of client config files (docker's config.json: credentials)
  -c, --context string     Accepted as "default" only: berth is the engine itself
  -D, --debug              Print the time of each step to stderr
  -l, --log-level string   debug, info, warn (default), error or fatal (no warnings)
      --root string        Engine root directory (default "/var/lib/berth", or $BERTH_ROOT)
      --storage-driver string  overlay or fuse-overlayfs for new containers (default: daemon.json's, else the host's best)
  -v, --version            Print version information and quit

Commands:
  run         Create and run a new container from an image
  create      Create a new container
  start       Start one or more stopped containers
  stop        Stop one or more running containers
  restart     Restart one or more containers
  kill        Kill one or more running containers
  pause       Pause all processes within one or more containers
  unpause     Unpause all processes within one or more containers
  rm          Remove one or more containers
  wait        Block until one or more containers stop, then print their exit codes
  ps          List containers
  inspect     Return low-level information on containers and images
  logs        Fetch the logs of a container
  diff        Inspect changes to files or directories on a container's filesystem
  cp          Copy files/folders between a container and the local filesystem
  export      Export a container's filesystem as a tar archive
  port        List port mappings or a specific mapping for the container
  top         Display the running processes of a container
  rename      Rename a container
  exec        Execute a command in a running container
  attach      Attach local standard input, output, and error streams to a running container
  update      Update resource limits of one or more containers
  stats       Display a live stream of container(s) resource usage statistics
  commit      Create a new image from a container's changes
  build       Build an image from a Dockerfile
  pull        Download an image from a registry
  push        Upload an image to a registry
  search      Search a registry for images
  login       Log in to a registry
  logout      Log out from a registry
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  load        Load an image from a tar archive or STDIN
  import      Import the contents from a tarball to create a filesystem image
  history     Show the history of an image
  images      List images
  rmi         Remove one or more images
  events      Get real time events from the server
  info        Display system-wide information
  serve       Serve the Docker Engine API on a unix socket or TCP, with TLS (DOCKER_HOST=…)
  version     Show the version information
  container   Manage containers (prune, ls, rm, …)
  image       Manage images (inspect, ls, rm, import, pull, push, tag, history, save, load, prune)
  system      Manage Berth (df, events, info, prune, reset, service)
  volume      Manage volumes (create, ls, inspect, rm, prune)
  network     Manage networks (create, ls, inspect, rm, prune, connect, disconnect)
  pod         Manage pods (create, ps, inspect, start, stop, restart, kill, pause, unpause, rm, top, stats, logs)
  kube        Play and take down Kubernetes YAML: Pods, Deployments, ConfigMaps (play, down)
`;

/** docker's global client flags: berth's CLI is the engine itself, so the ones about reaching a daemon are refused. */
const CLIENT_FLAGS = new Set(['--config', '-D', '--debug', '-l', '--log-level', '-H', '--host', '-c', '--context', '--tls', '--tlsverify', '--tlscacert', '--tlscert', '--tlskey']);

/** Apply one of them; the reason it is refused, if it is. */
function clientFlag(name: string, value: string | undefined, g: Globals): string | undefined {
  if (name === '--config') process.env.DOCKER_CONFIG = value; // where config.json (credentials) is read
  else if (name === '-D' || name === '--debug') enableTrace();
  else if (name === '-l' || name === '--log-level') {
    if (!['debug', 'info', 'warn', 'error', 'fatal'].includes(value!)) return `invalid argument "${value}" for "-l, --log-level" flag: not a valid log level (debug, info, warn, error, fatal)`;
    if (value === 'debug') enableTrace();
    g.quiet = value === 'error' || value === 'fatal';
  } else if (name === '-c' || name === '--context') {
    if (value !== 'default') return `context "${value}": berth has only the default context (it is the engine itself); the docker CLI's contexts can point at \`berth serve\``;
  } else {
    return `${name}: berth runs the engine itself and connects to no daemon; point the docker CLI at \`berth serve\` instead (DOCKER_HOST=unix://…)`;
  }
  return undefined;
}

/** `--storage-driver`'s values (src/engine/storage-driver.ts parses them; listed here so main.ts loads no engine module). */
const STORAGE_DRIVERS = ['overlay', 'overlay2', 'fuse-overlayfs'];

/** The command groups: `berth container ls`, `berth image rm`… */
const GROUPS = ['container', 'image', 'volume', 'network', 'pod', 'kube', 'system', 'builder', 'buildx'];

/** A group's help (docker prints the group's commands for `docker container` alone): its verbs, sorted. */
function groupHelp(group: string): string {
  const names = [...Object.keys(commands), ...Object.keys(aliases)]
    .filter((k) => k.startsWith(`${group} `))
    .map((k) => k.slice(group.length + 1));
  return `\nUsage:  berth ${group} COMMAND\n\nCommands:\n${[...new Set(names)].sort().map((n) => `  ${n}`).join('\n')}\n\nRun 'berth ${group} COMMAND --help' for more information on a command.\n`;
}

export async function cli(argv: string[]): Promise<number> {
  const globals: Globals = { verb: '' };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--root') globals.root = argv[++i];
    else if (a.startsWith('--root=')) globals.root = a.slice(7);
    else if (a === '--storage-driver' || a.startsWith('--storage-driver=')) {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (value === undefined) return fail(`flag needs an argument: --storage-driver\nSee 'berth --help'.`, 125);
      if (!STORAGE_DRIVERS.includes(value)) return fail(`invalid argument "${value}" for "--storage-driver" flag: overlay (or overlay2) or fuse-overlayfs`, 125);
      globals.storageDriver = value;
    }
    else if (a === '-v' || a === '--version') return (await commands.version!()).main([], globals);
    else if (CLIENT_FLAGS.has(a.split('=')[0]!)) {
      const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const takesValue = name !== '-D' && name !== '--debug' && name !== '--tls' && name !== '--tlsverify';
      const value = takesValue ? (inline ?? argv[++i]) : inline;
      if (takesValue && value === undefined) return fail(`flag needs an argument: ${name}\nSee 'berth --help'.`, 125);
      const refused = clientFlag(name, value, globals);
      if (refused) return fail(refused, 125);
    }
    else if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      return 0;
    } else if (a.startsWith('-')) return fail(`unknown flag: ${a}\nSee 'berth --help'.`, 125);
    else break;
  }
  const rest = argv.slice(i);
  if (rest.length === 0) {
    process.stdout.write(HELP);
    return 0;
  }
  let verb = rest[0]!;
  let args = rest.slice(1);
  if (GROUPS.includes(verb) && (args.length === 0 || args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write(groupHelp(verb));
    return 0;
  }
  if (GROUPS.includes(verb) && args.length > 0) {
    verb = `${verb} ${args[0]}`;
    args = args.slice(1);
  }
  verb = aliases[verb] ?? verb;
  const load = commands[verb];
  if (!load) {
    return fail(`berth: '${rest.slice(0, 2).join(' ')}' is not a berth command.\nSee 'berth --help'`, 1);
  }
  globals.verb = verb;
  // An ordinary user outside its user namespace (bin/berth could not enter one): what needs no engine runs; the
  // rest is refused in one line naming what is missing, not left to fail on the first root-owned file.
  if (process.geteuid?.() !== 0 && !USER_VERBS.has(verb) && !args.includes('--help') && !args.includes('-h')) {
    const { rootlessRefusal } = await import('../engine/rootless.ts');
    return fail(`berth: ${rootlessRefusal(verb)}`, 125);
  }
  const mod = await load();
  trace(`main: ${verb} loaded`);
  return mod.main(args, globals);
}

// A reader that went away (`berth logs C | head -1`) ends the CLI quietly, as SIGPIPE ends docker's.
exitOnBrokenPipe(process.stdout);
exitOnBrokenPipe(process.stderr);

cli(process.argv.slice(2)).then(
  (code) => {
    trace('main: done');
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`berth: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 125;
  },
);
