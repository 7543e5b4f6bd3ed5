/**
 * `kube play` and `kube down` (podman's verbs): a file's Pods and Deployments (a pod per replica) made into
 * Berth pods with their containers, volumes and ConfigMaps, and started; and taken down again. Atomic per
 * file: a failure removes every pod and volume the play made before it.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { AlreadyExists, InvalidArgument, NotFound, RuntimeFailure } from '../../errors.ts';
import type { EngineCore } from '../core.ts';
import { createPod } from '../pods/create.ts';
import { startPod } from '../pods/lifecycle.ts';
import { removePod } from '../pods/remove.ts';
import { create } from '../verbs/create.ts';
import { parseManifest, type KubeManifest, type KubePodPlan, type KubeVolume } from './manifest.ts';
import { containerOptions, podOptions } from './translate.ts';

/** The label on the volumes a play makes for a pod (emptyDir, configMap), so that `kube down` finds them. */
export const KUBE_POD_LABEL = 'io.berth.kube.pod';

export interface KubePlayOptions {
  /** Remove the file's pods (and their volumes) first, if they exist. */
  replace?: boolean;
  /** Start the pods (default true). */
  start?: boolean;
}

export interface KubePlayReport {
  pods: { id: string; name: string; containers: string[] }[];
}

export interface KubeDownReport {
  pods: { id: string; name: string }[];
  volumes: string[];
}

/** The pods a file makes, and the pods of this root it made before (by its pods' labels). */
function existingPods(engine: EngineCore, m: KubeManifest): { id: string; name: string }[] {
  const owners = new Set(m.pods.map((p) => `${p.kind}/${p.owner}`));
  const names = new Set(m.pods.map((p) => p.name));
  return engine.pods.list().filter((p) => names.has(p.name) || owners.has(`${p.config.labels['io.berth.kube.kind']}/${p.config.labels['io.berth.kube.name']}`));
}

async function pullIfNeeded(engine: EngineCore, image: string, policy: string | undefined): Promise<void> {
  const present = engine.images.lookup(image) !== undefined;
  if (policy === 'Never' ? !present : policy !== 'Always' && present) {
    if (!present) throw new NotFound(`image ${image} is not present and its imagePullPolicy is Never`);
    return;
  }
  const { pull } = await import('../verbs/registry.ts');
  await pull(engine, image);
}

/**
 * A pod's volumes as `-v` sources by volume name: hostPath as the host path (made when its type asks), emptyDir
 * and configMap as volumes of this root named `<pod>-<volume>` (a ConfigMap's keys written into it as files).
 */
function makeVolumes(engine: EngineCore, m: KubeManifest, plan: KubePodPlan, made: string[]): Map<string, string> {
  const sources = new Map<string, string>();
  for (const v of plan.spec.volumes ?? []) sources.set(v.name, volumeSource(engine, m, plan, v, made));
  return sources;
}

function volumeSource(engine: EngineCore, m: KubeManifest, plan: KubePodPlan, v: KubeVolume, made: string[]): string {
  const where = `pod ${plan.name}: volume ${v.name}`;
  if (v.hostPath) {
    const path = v.hostPath.path;
    const type = v.hostPath.type ?? '';
    const st = statSync(path, { throwIfNoEntry: false });
    if (type === 'DirectoryOrCreate' && !st) mkdirSync(path, { recursive: true, mode: 0o755 });
    else if (type === 'FileOrCreate' && !st) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      writeFileSync(path, '', { mode: 0o644 });
    } else if (type === 'Directory' && !st?.isDirectory()) throw new InvalidArgument(`${where}: hostPath ${path} is not a directory`);
    else if (type === 'File' && !st?.isFile()) throw new InvalidArgument(`${where}: hostPath ${path} is not a file`);
    else if (type === 'Socket' && !st?.isSocket()) throw new InvalidArgument(`${where}: hostPath ${path} is not a socket`);
    else if (!['', 'DirectoryOrCreate', 'FileOrCreate', 'Directory', 'File', 'Socket'].includes(type)) throw new InvalidArgument(`${where}: hostPath type ${type} is not supported`);
    return path;
  }
  const name = `${plan.name}-${v.name}`;
  if (engine.volumes.repo.get(name)) throw new AlreadyExists(`${where}: a volume named ${name} exists already (kube down the file, or remove it)`);
  const labels = { [KUBE_POD_LABEL]: plan.name };
  if (v.emptyDir) {
    const memory = v.emptyDir.medium === 'Memory';
    if (v.emptyDir.medium !== undefined && v.emptyDir.medium !== '' && !memory) throw new InvalidArgument(`${where}: emptyDir medium ${v.emptyDir.medium} is not supported ("" or Memory)`);
    engine.volumes.create({ name, labels, ...(memory ? { options: { type: 'tmpfs', device: 'tmpfs', o: 'mode=1777' } } : {}) }, () => name);
    made.push(name);
    return name;
  }
  const cm = v.configMap!;
  const data = m.configMaps.get(cm.name);
  if (!data && !cm.optional) throw new InvalidArgument(`${where}: ConfigMap ${cm.name} is not defined in the file`);
  engine.volumes.create({ name, labels }, () => name);
  made.push(name);
  const dir = engine.volumes.mountpoint(name);
  const items = cm.items ?? Object.keys(data ?? {}).map((key) => ({ key, path: key, mode: undefined }));
  for (const item of items) {
    const value = data?.[item.key];
    if (value === undefined) throw new InvalidArgument(`${where}: ConfigMap ${cm.name} has no key ${item.key}`);
    const rel = normalize(item.path);
    if (rel.startsWith('..') || rel.startsWith('/')) throw new InvalidArgument(`${where}: item path ${item.path} must stay inside the volume`);
    const file = join(dir, rel);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, value);
    chmodSync(file, item.mode ?? cm.defaultMode ?? 0o644);
  }
  return name;
}

/** Make one pod of the file: its volumes, the pod, its containers (not started). */
async function playPod(engine: EngineCore, m: KubeManifest, plan: KubePodPlan, made: { pods: string[]; volumes: string[] }): Promise<KubePlayReport['pods'][number]> {
  for (const c of plan.spec.containers) await pullIfNeeded(engine, c.image, c.imagePullPolicy);
  const sources = makeVolumes(engine, m, plan, made.volumes);
  const pod = await createPod(engine, podOptions(plan));
  made.pods.push(pod.id);
  const containers: string[] = [];
  for (const c of plan.spec.containers) {
    const mounts = (c.volumeMounts ?? []).map((vm) => `${sources.get(vm.name)!}:${vm.mountPath}${vm.readOnly ? ':ro' : ''}`);
    const row = await create(engine, { ...containerOptions(plan, c, m.configMaps, mounts), pod: pod.id });
    containers.push(row.id);
  }
  return { id: pod.id, name: pod.name, containers };
}

export async function kubePlay(engine: EngineCore, yaml: string, opts: KubePlayOptions = {}): Promise<KubePlayReport> {
  const m = parseManifest(yaml);
  if (m.pods.length === 0) throw new InvalidArgument('the file has no Pod or Deployment to play');
  const existing = existingPods(engine, m);
  if (existing.length > 0) {
    if (!opts.replace) throw new AlreadyExists(`pod ${existing[0]!.name} exists already: kube down the file first, or play it with --replace`);
    await kubeDownManifest(engine, m);
  }
  const made = { pods: [] as string[], volumes: [] as string[] };
  const report: KubePlayReport = { pods: [] };
  try {
    for (const plan of m.pods) report.pods.push(await playPod(engine, m, plan, made));
    if (opts.start !== false) {
      for (const p of report.pods) {
        const r = await startPod(engine, p.id);
        const f = r.failures[0];
        if (f) throw new RuntimeFailure(`pod ${p.name}: container ${f.name} did not start: ${f.error.message}`, { cause: f.error });
      }
    }
  } catch (e) {
    for (const id of made.pods.reverse()) await removePod(engine, id, true).catch(() => {});
    for (const v of made.volumes) await engine.volumes.remove(v).catch(() => {});
    throw e;
  }
  return report;
}

async function kubeDownManifest(engine: EngineCore, m: KubeManifest): Promise<KubeDownReport> {
  const report: KubeDownReport = { pods: [], volumes: [] };
  for (const p of existingPods(engine, m)) {
    await removePod(engine, p.id, true);
    report.pods.push({ id: p.id, name: p.name });
  }
  const names = new Set(report.pods.map((p) => p.name));
  for (const v of engine.volumes.repo.list()) {
    if (names.has(v.labels[KUBE_POD_LABEL] ?? '')) {
      await engine.volumes.remove(v.name);
      report.volumes.push(v.name);
    }
  }
  return report;
}

/** Remove the file's pods (those this root made from it), their containers and the volumes the play made. */
export async function kubeDown(engine: EngineCore, yaml: string): Promise<KubeDownReport> {
  const m = parseManifest(yaml);
  const report = await kubeDownManifest(engine, m);
  if (report.pods.length === 0) throw new NotFound('none of the pods of the file exist');
  return report;
}

