/**
 * A Kubernetes pod spec in Berth's terms (pure): the pod's options (its ports, hostname, network, DNS), each
 * container's create options (command, env, limits, restart policy, liveness probe as a health check,
 * security context), Kubernetes' quantities as numbers. Volumes are named by play.ts, which makes them.
 */
import { InvalidArgument, NotSupported } from '../../errors.ts';
import type { CreateOptions } from '../config.ts';
import type { HealthInput } from '../healthcheck.ts';
import type { PodCreateOptions } from '../pods/options.ts';
import type { KubeContainer, KubePodPlan, KubeProbe } from './manifest.ts';

const SECOND_NS = 1_000_000_000;

/** A CPU quantity in CPUs: `500m` is 0.5, `2` is 2. */
export function cpuQuantity(q: string | number, where: string): number {
  const s = String(q).trim();
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(s);
  if (!m) throw new InvalidArgument(`${where}: ${JSON.stringify(s)} is not a CPU quantity (such as 500m or 2)`);
  const v = Number(m[1]) / (m[2] ? 1000 : 1);
  if (!(v > 0)) throw new InvalidArgument(`${where}: a CPU quantity must be above 0`);
  return v;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A memory quantity in bytes: `128Mi`, `1G`, `129e6`, `1000`. */
export function memoryQuantity(q: string | number, where: string): number {
  const s = String(q).trim();
  const m = /^(\d+(?:\.\d+)?)(?:e(\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?$/.exec(s);
  if (!m) throw new InvalidArgument(`${where}: ${JSON.stringify(s)} is not a memory quantity (such as 128Mi or 1G)`);
  const unit = m[3] ? (BINARY[m[3]] ?? DECIMAL[m[3]]!) : m[2] ? 10 ** Number(m[2]) : 1;
  return Math.ceil(Number(m[1]) * unit);
}

/** A probe as a health check: its command (exec as given; httpGet and tcpSocket through busybox's wget and nc). */
export function probeHealth(p: KubeProbe, where: string): HealthInput {
  let test: string[];
  if (p.exec) test = ['CMD', ...p.exec.command];
  else if (p.httpGet) {
    const url = `${(p.httpGet.scheme ?? 'HTTP').toLowerCase()}://${p.httpGet.host ?? 'localhost'}:${p.httpGet.port}${p.httpGet.path ?? '/'}`;
    test = ['CMD-SHELL', `wget -q -O /dev/null '${url.replace(/'/g, '')}' || exit 1`];
  } else if (p.tcpSocket) test = ['CMD-SHELL', `nc -z ${p.tcpSocket.host ?? 'localhost'} ${p.tcpSocket.port} || exit 1`];
  else throw new NotSupported(`${where}: a probe needs exec, httpGet or tcpSocket`);
  for (const [k, v] of Object.entries({ initialDelaySeconds: p.initialDelaySeconds, periodSeconds: p.periodSeconds, timeoutSeconds: p.timeoutSeconds, failureThreshold: p.failureThreshold })) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new InvalidArgument(`${where}.${k}: must be a whole number`);
  }
  // Kubernetes' defaults where the probe gives none: every 10 s, 1 s to answer, 3 failures.
  return {
    Test: test,
    Interval: (p.periodSeconds ?? 10) * SECOND_NS,
    Timeout: (p.timeoutSeconds ?? 1) * SECOND_NS,
    StartPeriod: (p.initialDelaySeconds ?? 0) * SECOND_NS,
    Retries: p.failureThreshold ?? 3,
  };
}

/** A container's variables, those from ConfigMaps (envFrom, then valueFrom) resolved. */
function environment(c: KubeContainer, configMaps: Map<string, Record<string, string>>, where: string): string[] {
  const out: string[] = [];
  const map = (name: string, optional: boolean | undefined, what: string) => {
    const m = configMaps.get(name);
    if (!m && !optional) throw new InvalidArgument(`${where}: ${what} names ConfigMap ${name}, which the file does not define`);
    return m;
  };
  for (const from of c.envFrom ?? []) {
    if (!from.configMapRef) throw new NotSupported(`${where}.envFrom: only configMapRef is supported`);
    for (const [k, v] of Object.entries(map(from.configMapRef.name, from.configMapRef.optional, 'envFrom') ?? {})) out.push(`${from.prefix ?? ''}${k}=${v}`);
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (!ref) {
      out.push(`${e.name}=${e.value ?? ''}`);
      continue;
    }
    const value = map(ref.name, ref.optional, `env ${e.name}`)?.[ref.key];
    if (value === undefined && !ref.optional) throw new InvalidArgument(`${where}: env ${e.name} reads key ${ref.key} of ConfigMap ${ref.name}, which has no such key`);
    if (value !== undefined) out.push(`${e.name}=${value}`);
  }
  return out;
}

const RESTART: Record<string, string> = { Always: 'always', OnFailure: 'on-failure', Never: 'no' };

/** A container's create options, but for its volumes (`mounts`: the `-v` values play.ts made for them). */
export function containerOptions(plan: KubePodPlan, c: KubeContainer, configMaps: Map<string, Record<string, string>>, mounts: string[]): CreateOptions {
  const where = `pod ${plan.name}: container ${c.name}`;
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  for (const k of [...Object.keys(limits), ...Object.keys(requests)]) {
    if (k !== 'cpu' && k !== 'memory') throw new NotSupported(`${where}: resource ${k} is not supported (cpu and memory are)`);
  }
  const sc = c.securityContext ?? {};
  const user = sc.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined;
  return {
    image: c.image,
    name: `${plan.name}-${c.name}`,
    ...(c.command ? { entrypoint: c.command.map(String) } : {}),
    ...(c.args ? { cmd: c.args.map(String) } : {}),
    ...(c.workingDir ? { workdir: c.workingDir } : {}),
    env: environment(c, configMaps, where),
    ...(limits.cpu !== undefined ? { cpus: cpuQuantity(limits.cpu, `${where}: limits.cpu`) } : {}),
    ...(limits.memory !== undefined ? { memory: memoryQuantity(limits.memory, `${where}: limits.memory`) } : {}),
    ...(requests.memory !== undefined && limits.memory === undefined ? { memoryReservation: memoryQuantity(requests.memory, `${where}: requests.memory`) } : {}),
    restartPolicy: { name: RESTART[plan.spec.restartPolicy ?? 'Always'] },
    ...(c.livenessProbe ? { healthcheck: probeHealth(c.livenessProbe, `${where}: livenessProbe`) } : {}),
    volumes: mounts,
    ...(c.tty ? { tty: true } : {}),
    ...(c.stdin ? { openStdin: true } : {}),
    ...(user ? { user } : {}),
    ...(sc.privileged ? { privileged: true } : {}),
    ...(sc.readOnlyRootFilesystem ? { readonlyRootfs: true } : {}),
    ...(sc.allowPrivilegeEscalation === false ? { securityOpt: ['no-new-privileges'] } : {}),
    capAdd: sc.capabilities?.add ?? [],
    capDrop: sc.capabilities?.drop ?? [],
    labels: { ...plan.labels },
  };
}

/** The pod's options: its containers' host ports published on it, its hostname, network and DNS. */
export function podOptions(plan: KubePodPlan): PodCreateOptions {
  const s = plan.spec;
  const publish = s.containers.flatMap((c) =>
    (c.ports ?? []).filter((p) => p.hostPort !== undefined).map((p) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`),
  );
  if (s.hostNetwork && publish.length > 0) throw new InvalidArgument(`pod ${plan.name}: hostPort with hostNetwork: the containers' ports are the host's already`);
  return {
    name: plan.name,
    labels: { ...plan.labels, 'io.berth.kube.kind': plan.kind, 'io.berth.kube.name': plan.owner },
    ...(s.shareProcessNamespace ? { share: '+pid' } : {}),
    ...(s.hostNetwork ? { network: 'host' } : {}),
    ...(s.hostNetwork ? {} : { hostname: s.hostname ?? plan.name }),
    publish,
    dns: s.dnsConfig?.nameservers ?? [],
    dnsSearch: s.dnsConfig?.searches ?? [],
    dnsOptions: (s.dnsConfig?.options ?? []).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name)),
    addHosts: (s.hostAliases ?? []).flatMap((a) => a.hostnames.map((h) => `${h}:${a.ip}`)),
  };
}
