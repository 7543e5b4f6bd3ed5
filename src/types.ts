/**
 * Shared types: the leaf every layer may import. Imports nothing.
 */

/** A bind mount from the host, a named or anonymous volume, or a tmpfs. */
export interface MountSpec {
  type: 'bind' | 'tmpfs' | 'volume';
  /** Host path for binds (absolute, must exist); the volume's name for volumes; unused for tmpfs. */
  source: string;
  /** Absolute path inside the container. */
  destination: string;
  readonly: boolean;
  /** Extra mount options (tmpfs: size=…, mode=…, plus flags like noexec; binds and volumes: propagation). */
  options: string[];
  /** Volumes: do not fill a new volume with the image's content at the destination (`volume-nocopy`). */
  noCopy?: boolean;
  /** Volumes: made for this container alone (an image VOLUME or `-v /path`), removed by `rm -v` and `--rm`. */
  anonymous?: boolean;
}

export interface Rlimit {
  /** Upper-case OCI name, e.g. RLIMIT_NOFILE. */
  type: string;
  soft: number;
  hard: number;
}

/** A per-device block I/O throttle (`--device-read-bps /dev/sda:1mb`). */
export interface ThrottleDevice {
  /** Host device path as given. */
  path: string;
  major: number;
  minor: number;
  /** Bytes or operations per second. */
  rate: number;
}

/** A per-device block I/O weight (`--blkio-weight-device /dev/sda:200`). */
export interface WeightDevice {
  /** Host device path as given. */
  path: string;
  major: number;
  minor: number;
  /** 10–1000. */
  weight: number;
}

/**
 * cgroup resources, in docker's (cgroup v1) terms, as the OCI spec carries them; runtimes convert them to v2
 * files on v2 hosts (src/runtime/cgroups.ts documents the mapping). Undefined means unset.
 */
export interface Resources {
  /** Bytes. */
  memory?: number;
  /** Bytes of memory+swap; -1 unlimited; undefined means docker's default (twice memory). */
  memorySwap?: number;
  /** Soft limit, bytes. */
  memoryReservation?: number;
  /** Kernel memory limit, bytes (cgroup v1 only; deprecated by the kernel). */
  kernelMemory?: number;
  /** 0–100. */
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** Relative weight, 2–262144. */
  cpuShares?: number;
  /** CFS quota/period in microseconds. */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** `--cpus` in billionths of a CPU (docker's NanoCPUs); becomes quota over a 100 ms period. */
  nanoCpus?: number;
  /** `0-1,3` */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** 10–1000. */
  blkioWeight?: number;
  blkioWeightDevice?: WeightDevice[];
  blkioDeviceReadBps?: ThrottleDevice[];
  blkioDeviceWriteBps?: ThrottleDevice[];
  blkioDeviceReadIOps?: ThrottleDevice[];
  blkioDeviceWriteIOps?: ThrottleDevice[];
  /** Max processes; 0 or -1 unlimited. */
  pidsLimit?: number;
}

/** A published port: `-p [hostIP:][hostPort:]containerPort[/proto]`; hostPort 0 picks a free one at start. */
export interface PortMapping {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** A container's place on one network (`--network NAME`, `--ip`, `--ip6`, `--mac-address`, `--network-alias`). */
export interface NetworkAttachment {
  name: string;
  aliases: string[];
  ip?: string;
  ip6?: string;
  mac?: string;
  /** docker's endpoint Links on a user network, `NAME[:ALIAS]`: ALIAS names container NAME for this container. */
  links?: string[];
  /** docker's LinkLocalIPs: added to the interface beside its leases. */
  linkLocalIps?: string[];
}

/** A legacy link on the default bridge (`--link NAME:ALIAS`): the linked container, its name then, the alias. */
export interface LegacyLink {
  id: string;
  name: string;
  alias: string;
}

/** How a container is networked beyond its namespace: networks, published ports, name resolution. */
export interface Networking {
  /** In attach order (eth0 first); empty unless the network mode is `bridge`. */
  networks: NetworkAttachment[];
  ports: PortMapping[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** `--add-host host:ip` */
  extraHosts: { host: string; ip: string }[];
  /** `-P`: every exposed port was published (docker's PublishAllPorts). */
  publishAll?: boolean;
  /** `--link` on the default bridge (src/engine/links.ts). */
  legacyLinks?: LegacyLink[];
}

/** What a running container got from its networks (cleared when it stops). */
export interface NetworkState {
  netns?: string;
  networks?: Record<string, { ifName: string; ip: string; prefixLen: number; gateway: string; mac: string; ipv6?: string; ipv6PrefixLen?: number; ipv6Gateway?: string }>;
  /** Ports as bound (random host ports resolved). */
  ports?: PortMapping[];
}

/** How a container gets a namespace: its own, the host's, a running container's (`container:<id>`) or a file's (`ns:<path>`). */
export type NamespaceMode = 'private' | 'host' | `container:${string}` | `ns:${string}`;

/** IPC also has docker's `shareable`: a private namespace whose /dev/shm other containers may join. */
export type IpcMode = NamespaceMode | 'shareable';

/** A device node given to the container (OCI linux.devices), with its cgroup access. */
export interface DeviceGrant {
  path: string;
  hostPath: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  access: string;
}

/** Container ids [containerID, +size) are host ids [hostID, +size) (OCI uidMappings/gidMappings). */
export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/** One device cgroup rule; absent major/minor mean "*". */
export interface DeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access: string;
}

/**
 * Everything that confines a container, decided at create from docker's defaults and the user's
 * isolation options (--privileged, --cap-add/--cap-drop, --security-opt, --device, --pid, …).
 */
export interface Isolation {
  privileged: boolean;
  /** `--device-cgroup-rule` as asked (for inspect); `deviceRules` is what the runtime gets. */
  deviceCgroupRules?: string[];
  /** As asked (for inspect); `capabilities` is what the process gets. */
  capAdd: string[];
  capDrop: string[];
  capabilities: string[];
  noNewPrivileges: boolean;
  /** docker's default profile (made for `capabilities` at start), none, or a profile file's content in OCI form. */
  seccomp: 'default' | 'unconfined' | { profile: unknown; path: string };
  processLabel?: string;
  mountLabel?: string;
  apparmorProfile?: string;
  maskedPaths: string[];
  readonlyPaths: string[];
  /** Writable /sys (privileged). */
  sysfsWritable: boolean;
  devices: DeviceGrant[];
  /** Extra device cgroup rules after the defaults (privileged: allow all). */
  deviceRules: DeviceRule[];
  sysctls: Record<string, string>;
  pid: NamespaceMode;
  ipc: IpcMode;
  uts: NamespaceMode;
  /**
   * `bridge` (its own namespace wired to Networking.networks, the default), `none`, host, a container's,
   * or `ns:<path>`: a network namespace someone else made and wires (the seeds' NamespacePath).
   */
  network: NamespaceMode | 'none' | 'bridge' | `ns:${string}`;
  cgroupns: 'private' | 'host';
  /** /dev/shm size in bytes. */
  shmSize: number;
  /** `--security-opt` as given (for inspect). */
  securityOpt?: string[];
  /** `--group-add` as given (names resolved into ContainerConfig.additionalGids). */
  groupAdd: string[];
  /**
   * A user namespace (`--userns auto|remap|keep-id`): the mode as given and the ids it maps; absent = the host's.
   * keep-id (an ordinary user's) also names the user kept, for the /etc/passwd and /etc/group lines it gets.
   */
  userns?: {
    mode: string;
    uidMappings: IdMap[];
    gidMappings: IdMap[];
    keepId?: { uid: number; gid: number; name: string; group: string; home: string };
  };
}

/**
 * What a container is made from: everything `create` decides, immutable afterwards.
 * The engine fills it from CLI/API/library input merged with the image's config.
 */
export interface ContainerConfig {
  /** Image reference as the user typed it, and the resolved image id. */
  image: string;
  imageId: string;
  /** The storage driver its root filesystem is mounted with; absent: the kernel's overlay. */
  storageDriver?: 'fuse-overlayfs';
  /** Process argv after entrypoint+cmd resolution; never empty. */
  args: string[];
  /** Image entrypoint and cmd as stored (for inspect's Config). */
  entrypoint: string[] | null;
  cmd: string[] | null;
  /**
   * docker's Config.Env: the image's entries under the user's, as given (a name without `=` kept). The
   * process's environment is made from it (src/runtime/spec/process-env.ts).
   */
  env: string[];
  /** The user's home, for HOME when Env sets none (absent in configs made before it was kept: HOME was in env). */
  home?: string;
  /** Absolute working directory inside the container. */
  cwd: string;
  /** The user as given ("" = image default), and its resolution. */
  user: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  /** Close the container's stdin when the attached client goes (docker's StdinOnce: a foreground `run -i`). */
  stdinOnce?: boolean;
  readonlyRootfs: boolean;
  mounts: MountSpec[];
  rlimits: Rlimit[];
  /** `--ulimit` as asked (inspect's Ulimits); `rlimits` is what the process gets, defaults included. */
  ulimits?: Rlimit[];
  /** docker's Config.ExposedPorts (`PORT/PROTO`): the image's, `--expose`'s and the published ones. */
  exposedPorts?: string[];
  /** `--volumes-from` as asked (inspect's VolumesFrom). */
  volumesFrom?: string[];
  /** Changed only by `update` (the one mutable part of a container's config). */
  resources: Resources;
  /** -1000–1000; the OOM killer's preference for this container's processes. */
  oomScoreAdj?: number;
  /** Parent cgroup path (default /berth). */
  cgroupParent?: string;
  /** `--cgroups disabled`: no cgroup at all (crun only). */
  cgroups?: 'enabled' | 'disabled';
  /**
   * Where the container's output goes (src/logs/drivers.ts): json-file, local, k8s-file, journald or none.
   * Containers made before Berth had json-file may have none stored: theirs is k8s-file.
   */
  logDriver?: 'json-file' | 'local' | 'k8s-file' | 'journald' | 'none';
  /** The driver's options as asked (`--log-opt`, LogConfig.Config), the engine's defaults merged in. */
  logOptions?: Record<string, string>;
  /** k8s-file of containers made before logOptions: start the log over at this many bytes. */
  logSizeMax?: number;
  labels: Record<string, string>;
  /** Annotations for the OCI spec (also matched by hooks). */
  annotations: Record<string, string>;
  /** The UTS namespace's NIS domain name (`--domainname`, Config.Domainname). */
  domainname?: string;
  /** The API's HostConfig.ConsoleSize: the terminal's [rows, columns] at start (tty only). */
  consoleSize?: [number, number];
  /** The streams a client attached at create (docker's Config.AttachStdin/Stdout/Stderr). */
  attach?: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** Signal name for stop, e.g. SIGTERM. */
  stopSignal: string;
  /** Seconds between the stop signal and SIGKILL. */
  stopTimeout: number;
  /** Run an init (catatonit/tini) as pid 1 that reaps and forwards signals. */
  init: boolean;
  autoRemove: boolean;
  /** Absent when neither the container nor its image has a check. */
  healthcheck?: HealthConfig;
  /** Absent in containers made before restart policies existed: `no`. Changed by `update --restart`. */
  restartPolicy?: RestartPolicy;
  /** OCI runtime name: crun | runc. */
  runtime: string;
  /** Absent in containers made before isolation options existed: docker's defaults. */
  isolation?: Isolation;
  /** Absent in containers made before networks existed: no networks, no ports. */
  networking?: Networking;
  /** The id of the pod it belongs to (src/engine/pods/); absent for a container of no pod. */
  pod?: string;
  /** What a CRI client (kubelet) said of the container, kept to answer it (src/cri/); absent for the user's own. */
  cri?: CriContainerMeta;
}

/** A CRI container's metadata as its client gave it (the labels exactly: the config's have the image's too). */
export interface CriContainerMeta {
  name: string;
  attempt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The image as the client named it. */
  image: string;
  /** Where its log is written in the CRI's format (the sandbox's log directory joined with its log path). */
  logPath: string;
}

/** A CRI pod sandbox's metadata as its client gave it. */
export interface CriSandboxMeta {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
  annotations: Record<string, string>;
  runtimeHandler: string;
  logDirectory: string;
  /** The namespace modes asked (NODE, POD, CONTAINER), for the status. */
  network: string;
  pid: string;
  ipc: string;
}

/** A pinned pod's namespaces while it is up (src/engine/pods/pinned.ts): the files, its /dev/shm, its network. */
export interface PodState {
  /** All of it is made (what else is here without it was left by an interrupted bring-up, for its undo). */
  up?: boolean;
  net?: string;
  ipc?: string;
  uts?: string;
  shm?: string;
  networks?: NetworkState['networks'];
}

/** The namespaces a pod's containers share through its infra container (podman's `--share`). */
export type PodNamespace = 'net' | 'ipc' | 'uts' | 'pid';

/** What a pod is; written once at create. */
export interface PodConfig {
  /** The container whose namespaces the others join: made with the pod, removed with it ('' for a pinned pod). */
  infraId: string;
  /**
   * Its shared namespaces are files the engine binds them to (PodState), joined by path, and no infra process
   * holds them (src/engine/pods/pinned.ts). Its network is one network with no published ports, or the host's.
   */
  pinned?: { network: { name: string; dns: string[]; dnsSearch: string[]; dnsOptions: string[] } | 'host'; shmSize: number; hostIpc: boolean };
  share: PodNamespace[];
  /** The pod's own cgroup, the parent of its containers' (relative to each hierarchy's root). */
  cgroupParent: string;
  /** The engine made that cgroup and removes it with the pod (not one a caller named, such as kubelet's). */
  ownsCgroup: boolean;
  /** The hostname its containers see when they share its UTS namespace. */
  hostname: string;
  labels: Record<string, string>;
  /** A CRI sandbox's metadata (src/cri/); absent for the user's own pods. */
  cri?: CriSandboxMeta;
}

/**
 * A container's health check, merged from its own and its image's (src/engine/healthcheck.ts). Durations in
 * nanoseconds, 0 meaning docker's default; a test of ['NONE'] turns the image's check off.
 */
export interface HealthConfig {
  /** ['CMD', argv…], ['CMD-SHELL', command] or ['NONE']. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

/** One probe's result, as docker's State.Health.Log shows it. */
export interface HealthResult {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  /** The last 5 results, oldest first. */
  log: HealthResult[];
}

/** docker's restart policy names (src/engine/restart-policy.ts has their rules). */
export type RestartPolicyName = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure only: the most restarts, 0 for no limit. */
  maximumRetryCount: number;
}

/** The engine's container states; their transitions, predicates and docker's words are in src/engine/state.ts. */
export type ContainerState =
  | 'creating' // row exists, create still in progress (a dead owner means a crashed create)
  | 'created'
  | 'running'
  | 'paused'
  | 'exited'
  | 'removing'
  | 'dead';

/** An OCI hook, as in the runtime spec. */
export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export type HookStage = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export type OciHooks = Partial<Record<HookStage, OciHook[]>>;
