/** Docker's `image inspect` shape. */
import type { EngineCore } from './core.ts';

export function imageInspectJson(engine: EngineCore, ref: string): Record<string, unknown> {
  const img = engine.images.resolve(ref);
  const c = img.config;
  return {
    Id: `sha256:${img.id}`,
    RepoTags: img.tags,
    RepoDigests: img.repoDigests,
    Parent: img.parent ? `sha256:${img.parent}` : '',
    Comment: c.history?.[c.history.length - 1]?.comment ?? '',
    Created: c.created,
    DockerVersion: '',
    Author: c.author ?? '',
    Config: {
      Hostname: '',
      Domainname: '',
      User: c.config.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.config.Env ?? null,
      Cmd: c.config.Cmd ?? null,
      Image: '',
      Volumes: c.config.Volumes ?? null,
      WorkingDir: c.config.WorkingDir ?? '',
      Entrypoint: c.config.Entrypoint ?? null,
      OnBuild: (c.config.OnBuild as string[] | null | undefined) ?? null,
      Labels: c.config.Labels ?? null,
      ExposedPorts: c.config.ExposedPorts,
      StopSignal: c.config.StopSignal,
      // Set only when the image has one, as docker shows them.
      ...(c.config.Healthcheck ? { Healthcheck: c.config.Healthcheck } : {}),
      ...(c.config.Shell ? { Shell: c.config.Shell } : {}),
    },
    Architecture: c.architecture,
    Os: c.os,
    Size: img.size,
    GraphDriver: {
      Name: 'overlay',
      Data: { LowerDir: [...img.layers].reverse().map((l) => engine.images.layerDir(l)).join(':') },
    },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: img.createdAt },
  };
}
