/**
 * A Kubernetes YAML file as `kube play` reads it: its Pods, Deployments and ConfigMaps, checked field by field
 * into typed objects before anything is made. What Berth does not run (another kind, a field it would have to
 * ignore and so run differently from Kubernetes) is refused by name. Field names are Kubernetes'.
 */
import { parseAllDocuments } from 'yaml';
import { InvalidArgument, NotSupported } from '../../errors.ts';

export interface KubeEnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: { name: string; key: string; optional?: boolean } };
}

export interface KubeProbe {
  exec?: { command: string[] };
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string };
  tcpSocket?: { port: number | string; host?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

export interface KubeContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: KubeEnvVar[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; prefix?: string }[];
  ports?: { containerPort: number; hostPort?: number; hostIP?: string; protocol?: string; name?: string }[];
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  livenessProbe?: KubeProbe;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  stdin?: boolean;
  tty?: boolean;
  securityContext?: {
    privileged?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

export interface KubeVolume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: { medium?: string; sizeLimit?: string };
  configMap?: { name: string; items?: { key: string; path: string; mode?: number }[]; defaultMode?: number; optional?: boolean };
}

export interface KubePodSpec {
  containers: KubeContainer[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  hostNetwork?: boolean;
  hostname?: string;
  shareProcessNamespace?: boolean;
  volumes?: KubeVolume[];
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  hostAliases?: { ip: string; hostnames: string[] }[];
}

/** A pod to make: a Pod, or one replica of a Deployment. */
export interface KubePodPlan {
  /** The pod's name (a Deployment's replicas: `<name>-pod-<i>`). */
  name: string;
  kind: 'Pod' | 'Deployment';
  /** The Pod's or the Deployment's own name. */
  owner: string;
  labels: Record<string, string>;
  spec: KubePodSpec;
}

export interface KubeManifest {
  pods: KubePodPlan[];
  configMaps: Map<string, Record<string, string>>;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function need(cond: unknown, where: string, what: string): asserts cond {
  if (!cond) throw new InvalidArgument(`${where}: ${what}`);
}

/** The keys of `o` that Berth reads; any other is refused, so nothing asked for is silently dropped. */
function only(o: Obj, keys: readonly string[], where: string, ignored: readonly string[] = []): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k) && !ignored.includes(k)) throw new NotSupported(`${where}.${k} is not supported by berth kube play`);
  }
}

const strings = (v: unknown, where: string): string[] => {
  need(Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'), where, 'must be a list of strings');
  return (v as unknown[]).map(String);
};

const stringMap = (v: unknown, where: string): Record<string, string> => {
  if (v === undefined || v === null) return {};
  need(isObj(v), where, 'must be a map');
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function container(c: unknown, where: string): KubeContainer {
  need(isObj(c), where, 'must be a map');
  only(c, ['name', 'image', 'command', 'args', 'workingDir', 'env', 'envFrom', 'ports', 'resources', 'volumeMounts', 'livenessProbe', 'imagePullPolicy', 'stdin', 'tty', 'securityContext'], where,
    ['readinessProbe', 'startupProbe', 'terminationMessagePath', 'terminationMessagePolicy', 'stdinOnce']);
  need(typeof c.name === 'string' && DNS_LABEL.test(c.name), `${where}.name`, 'must be a DNS label (lower-case letters, digits and -)');
  need(typeof c.image === 'string' && c.image !== '', `${where}.image`, 'is required');
  if (c.command !== undefined) strings(c.command, `${where}.command`);
  if (c.args !== undefined) strings(c.args, `${where}.args`);
  for (const [i, p] of ((c.ports as unknown[]) ?? []).entries()) {
    need(isObj(p) && Number.isInteger(p.containerPort), `${where}.ports[${i}].containerPort`, 'must be a port number');
    need(p.protocol === undefined || ['TCP', 'UDP'].includes(p.protocol as string), `${where}.ports[${i}].protocol`, 'must be TCP or UDP');
  }
  for (const [i, m] of ((c.volumeMounts as unknown[]) ?? []).entries()) {
    need(isObj(m) && typeof m.name === 'string' && typeof m.mountPath === 'string' && m.mountPath.startsWith('/'), `${where}.volumeMounts[${i}]`, 'needs a name and an absolute mountPath');
    if (m.subPath !== undefined) throw new NotSupported(`${where}.volumeMounts[${i}].subPath is not supported by berth kube play`);
  }
  for (const [i, e] of ((c.env as unknown[]) ?? []).entries()) {
    need(isObj(e) && typeof e.name === 'string' && e.name !== '', `${where}.env[${i}].name`, 'is required');
    if (e.valueFrom !== undefined) {
      need(isObj(e.valueFrom) && isObj(e.valueFrom.configMapKeyRef), `${where}.env[${i}].valueFrom`, 'only configMapKeyRef is supported');
    }
  }
  if (c.imagePullPolicy !== undefined) need(['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy as string), `${where}.imagePullPolicy`, 'must be Always, IfNotPresent or Never');
  return c as unknown as KubeContainer;
}

function podSpec(s: unknown, where: string): KubePodSpec {
  need(isObj(s), where, 'is required');
  only(s, ['containers', 'restartPolicy', 'hostNetwork', 'hostname', 'shareProcessNamespace', 'volumes', 'dnsConfig', 'hostAliases'], where,
    ['terminationGracePeriodSeconds', 'dnsPolicy', 'enableServiceLinks', 'schedulerName', 'serviceAccountName', 'nodeSelector', 'tolerations', 'affinity', 'priority']);
  need(Array.isArray(s.containers) && s.containers.length > 0, `${where}.containers`, 'needs at least one container');
  const containers = s.containers.map((c, i) => container(c, `${where}.containers[${i}]`));
  const names = containers.map((c) => c.name);
  need(new Set(names).size === names.length, `${where}.containers`, 'container names must be unique');
  if (s.restartPolicy !== undefined) need(['Always', 'OnFailure', 'Never'].includes(s.restartPolicy as string), `${where}.restartPolicy`, 'must be Always, OnFailure or Never');
  const volumes = (s.volumes as unknown[] | undefined) ?? [];
  for (const [i, v] of volumes.entries()) {
    need(isObj(v) && typeof v.name === 'string', `${where}.volumes[${i}].name`, 'is required');
    const kinds = ['hostPath', 'emptyDir', 'configMap'].filter((k) => v[k] !== undefined);
    if (kinds.length !== 1) throw new NotSupported(`${where}.volumes[${i}] (${v.name}): berth kube play supports hostPath, emptyDir and configMap volumes, one per volume`);
    if (v.hostPath !== undefined) need(isObj(v.hostPath) && typeof v.hostPath.path === 'string' && v.hostPath.path.startsWith('/'), `${where}.volumes[${i}].hostPath.path`, 'must be an absolute path');
    if (v.configMap !== undefined) need(isObj(v.configMap) && typeof v.configMap.name === 'string', `${where}.volumes[${i}].configMap.name`, 'is required');
  }
  for (const c of containers) {
    for (const m of c.volumeMounts ?? []) {
      need(volumes.some((v) => (v as Obj).name === m.name), `${where}: container ${c.name}`, `mounts volume ${m.name}, which the pod does not define`);
    }
  }
  return { ...(s as unknown as KubePodSpec), containers };
}

/** Parse a file's documents: Pods and Deployments to make, and the ConfigMaps they may read. */
export function parseManifest(text: string): KubeManifest {
  const docs = parseAllDocuments(text);
  const pods: KubePodPlan[] = [];
  const configMaps = new Map<string, Record<string, string>>();
  const seen = new Set<string>();
  for (const [n, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) throw new InvalidArgument(`the YAML of document ${n + 1} cannot be read: ${doc.errors[0]!.message.split('\n')[0]}`);
    const o: unknown = doc.toJS();
    if (o === null || o === undefined) continue;
    const where = `document ${n + 1}`;
    need(isObj(o) && typeof o.kind === 'string', where, 'has no kind');
    const meta = o.metadata;
    need(isObj(meta) && typeof meta.name === 'string' && meta.name !== '', `${where} (${o.kind}).metadata.name`, 'is required');
    const name = meta.name;
    const labels = stringMap(meta.labels, `${where}.metadata.labels`);
    switch (o.kind) {
      case 'ConfigMap':
        configMaps.set(name, stringMap(o.data, `${where} (ConfigMap ${name}).data`));
        break;
      case 'Pod':
        pods.push({ name, kind: 'Pod', owner: name, labels, spec: podSpec(o.spec, `Pod ${name}.spec`) });
        break;
      case 'Deployment': {
        need(isObj(o.spec), `Deployment ${name}.spec`, 'is required');
        const replicas = o.spec.replicas ?? 1;
        need(Number.isInteger(replicas) && (replicas as number) >= 0 && (replicas as number) <= 100, `Deployment ${name}.spec.replicas`, 'must be a whole number from 0 to 100');
        const template = o.spec.template;
        need(isObj(template), `Deployment ${name}.spec.template`, 'is required');
        const tmeta = isObj(template.metadata) ? template.metadata : {};
        const spec = podSpec(template.spec, `Deployment ${name}.spec.template.spec`);
        if (spec.restartPolicy !== undefined && spec.restartPolicy !== 'Always') throw new InvalidArgument(`Deployment ${name}: a Deployment's pods restart Always, not ${spec.restartPolicy}`);
        for (let i = 0; i < (replicas as number); i++) {
          pods.push({ name: `${name}-pod-${i}`, kind: 'Deployment', owner: name, labels: { ...labels, ...stringMap(tmeta.labels, `Deployment ${name}.spec.template.metadata.labels`) }, spec });
        }
        break;
      }
      default:
        throw new NotSupported(`${where}: kind ${o.kind} is not supported by berth kube play (Pod, Deployment and ConfigMap are)`);
    }
  }
  for (const p of pods) {
    if (seen.has(p.name)) throw new InvalidArgument(`the file names the pod ${p.name} twice`);
    seen.add(p.name);
  }
  return { pods, configMaps };
}
