/**
 * `berth serve --cri`: the CRI v1 RuntimeService and ImageService on a unix socket, a third face over the same
 * engine as the CLI and the Docker API. Each RPC is a call into src/cri's translations of engine verbs; errors
 * become gRPC statuses (status.ts). Exec, Attach and PortForward answer with a URL of the streaming server.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgument, NotSupported } from '../errors.ts';
import { trace } from '../sys/trace.ts';
import type { Engine } from '../engine/engine.ts';
import { int64 } from './convert.ts';
import {
  containerStatus, containerSummary, createContainer, execSync, listContainers, removeContainer, reopenContainerLog, startContainer,
  stopContainer, updateContainerResources, criContainer,
} from './containers.ts';
import { streamContainerEvents } from './events.ts';
import { imageFsInfo, imageStatus, listImages, pullImage, removeImage } from './images.ts';
import type { CriNetwork } from './network.ts';
import { loadCriServices } from './proto.ts';
import { runtimeConfig, status, version } from './runtime-info.ts';
import { criPod, listPodSandbox, podSandboxStatus, removePodSandbox, runPodSandbox, stopPodSandbox } from './sandbox.ts';
import { containerStats, sandboxStats } from './stats.ts';
import { grpcStatus } from './status.ts';
import type { StreamingServer } from './streaming/server.ts';

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Handler = (req: Req) => unknown;

export interface CriServer {
  /** The socket path it listens on. */
  path: string;
  close(): Promise<void>;
}

export async function startCriServer(engine: Engine, path: string, network: CriNetwork, streaming: StreamingServer): Promise<CriServer> {
  const grpc = await import('@grpc/grpc-js');
  const services = await loadCriServices();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20, 'grpc.max_send_message_length': 16 << 20 });

  const unary = (fn: Handler) => (call: { request: Req; getPath(): string }, callback: (err: unknown, res?: unknown) => void) => {
    const t0 = performance.now();
    Promise.resolve()
      .then(() => fn(call.request))
      .then((res) => callback(null, res ?? {}), (e) => callback(grpcStatus(e)))
      .finally(() => trace(`cri: ${call.getPath()} ${(performance.now() - t0).toFixed(1)} ms`));
  };

  const listStats = async (filter: Req | null) => {
    const rows = await listContainers(engine, { id: filter?.id, pod_sandbox_id: filter?.pod_sandbox_id, label_selector: filter?.label_selector });
    return rows.map((r) => containerStats(engine, r));
  };
  const sandboxStatsOf = async (id: string) => {
    const pod = criPod(engine, id);
    return sandboxStats(engine, pod, await listContainers(engine, { pod_sandbox_id: pod.id }));
  };

  const runtime: Record<string, unknown> = {
    Version: unary(() => version()),
    Status: unary((r) => status(engine, r.verbose === true)),
    RuntimeConfig: unary(() => runtimeConfig()),
    UpdateRuntimeConfig: unary(() => ({})),
    RunPodSandbox: unary(async (r) => ({ pod_sandbox_id: await runPodSandbox(engine, network, r.config, r.runtime_handler ?? '') })),
    StopPodSandbox: unary(async (r) => void (await stopPodSandbox(engine, need(r.pod_sandbox_id, 'pod_sandbox_id')))),
    RemovePodSandbox: unary(async (r) => void (await removePodSandbox(engine, need(r.pod_sandbox_id, 'pod_sandbox_id')))),
    PodSandboxStatus: unary((r) => podSandboxStatus(engine, need(r.pod_sandbox_id, 'pod_sandbox_id'), r.verbose === true)),
    ListPodSandbox: unary((r) => ({ items: listPodSandbox(engine, r.filter) })),
    CreateContainer: unary(async (r) => ({ container_id: await createContainer(engine, need(r.pod_sandbox_id, 'pod_sandbox_id'), r.config) })),
    StartContainer: unary(async (r) => void (await startContainer(engine, need(r.container_id, 'container_id')))),
    StopContainer: unary(async (r) => void (await stopContainer(engine, need(r.container_id, 'container_id'), int64(r.timeout)))),
    RemoveContainer: unary(async (r) => void (await removeContainer(engine, need(r.container_id, 'container_id')))),
    ListContainers: unary(async (r) => ({ containers: (await listContainers(engine, r.filter)).map(containerSummary) })),
    ContainerStatus: unary((r) => containerStatus(engine, need(r.container_id, 'container_id'), r.verbose === true)),
    UpdateContainerResources: unary(async (r) => void (await updateContainerResources(engine, need(r.container_id, 'container_id'), r.linux))),
    ReopenContainerLog: unary(async (r) => void (await reopenContainerLog(engine, need(r.container_id, 'container_id')))),
    ExecSync: unary((r) => execSync(engine, need(r.container_id, 'container_id'), cmdOf(r.cmd), int64(r.timeout))),
    Exec: unary((r) => {
      const row = criContainer(engine, need(r.container_id, 'container_id'));
      if (!r.stdout && !r.stderr && !r.stdin) throw new InvalidArgument('one of stdin, stdout and stderr must be asked for');
      return { url: streaming.exec({ containerId: row.id, cmd: cmdOf(r.cmd), tty: r.tty === true, stdin: r.stdin === true, stdout: r.stdout === true, stderr: r.stderr === true && r.tty !== true }) };
    }),
    Attach: unary((r) => {
      const row = criContainer(engine, need(r.container_id, 'container_id'));
      return { url: streaming.attach({ containerId: row.id, tty: row.config.tty, stdin: r.stdin === true, stdout: r.stdout === true, stderr: r.stderr === true && !row.config.tty }) };
    }),
    PortForward: unary((r) => {
      const pod = criPod(engine, need(r.pod_sandbox_id, 'pod_sandbox_id'));
      return { url: streaming.portForward({ sandboxId: pod.id, ports: (r.port ?? []).map(Number) }) };
    }),
    ContainerStats: unary((r) => ({ stats: containerStats(engine, criContainer(engine, need(r.container_id, 'container_id'))) })),
    ListContainerStats: unary(async (r) => ({ stats: await listStats(r.filter) })),
    PodSandboxStats: unary(async (r) => ({ stats: await sandboxStatsOf(need(r.pod_sandbox_id, 'pod_sandbox_id')) })),
    ListPodSandboxStats: unary(async (r) => {
      const ids = listPodSandbox(engine, { id: r.filter?.id, label_selector: r.filter?.label_selector }).map((p) => p.id);
      return { stats: await Promise.all(ids.map(sandboxStatsOf)) };
    }),
    CheckpointContainer: unary((r) => {
      criContainer(engine, need(r.container_id, 'container_id'));
      throw new NotSupported('checkpointing a container needs CRIU, which cannot run on this host');
    }),
    GetContainerEvents: (call: { write(m: object): boolean; end(): void; on(e: string, f: () => void): void; destroy(e?: Error): void }) => {
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort());
      call.on('close', () => ac.abort());
      streamContainerEvents(engine, (m) => call.write(m), ac.signal).then(
        () => call.end(),
        (e) => call.destroy(Object.assign(new Error(grpcStatus(e).details), grpcStatus(e))),
      );
    },
    ListMetricDescriptors: unary(() => ({ descriptors: [] })),
    ListPodSandboxMetrics: unary(() => ({ pod_metrics: [] })),
  };
  const image: Record<string, unknown> = {
    ListImages: unary((r) => ({ images: listImages(engine, r.filter) })),
    ImageStatus: unary((r) => imageStatus(engine, r.image?.image, r.verbose === true)),
    PullImage: unary(async (r) => ({ image_ref: await pullImage(engine, r.image?.image, r.auth) })),
    RemoveImage: unary((r) => void removeImage(engine, r.image?.image)),
    ImageFsInfo: unary(() => imageFsInfo(engine)),
  };
  // An RPC of the API this server does not know answers UNIMPLEMENTED (grpc-js's default for a missing handler).
  server.addService(services.runtime, runtime as never);
  server.addService(services.image, image as never);

  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          rmSync(path, { force: true });
          resolve();
        });
        // Streams (container events) would hold a graceful shutdown open: cut them after a moment.
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}

function need(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new InvalidArgument(`${field} is required`);
  return v;
}

function cmdOf(cmd: unknown): string[] {
  if (!Array.isArray(cmd) || cmd.length === 0) throw new InvalidArgument('cmd is required');
  return cmd.map(String);
}
