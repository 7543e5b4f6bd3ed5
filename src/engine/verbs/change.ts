/** `rename` and `update`: a container's name and its resource limits (applied live where it runs). */
import { Conflict, InvalidArgument, NotSupported } from '../../errors.ts';
import { ociResources } from '../../runtime/spec/resources.ts';
import type { EngineCore } from '../core.ts';
import { validateName } from '../names.ts';
import { hostFacts, resolveResources, type ResourceOptions } from '../resources.ts';
import { validateRestartPolicy } from '../restart-policy.ts';
import { isLive } from '../state.ts';

export async function rename(engine: EngineCore, ref: string, newName: string): Promise<void> {
  const name = validateName(newName);
  await engine.withLock(ref, async (row) => {
    if (row.name === name) throw new InvalidArgument(`Renaming a container with the same name as its current name`);
    engine.containers.update(row.id, { name });
    engine.emitContainer({ ...row, name }, 'rename', { oldName: `/${row.name}` });
  });
}

/** What `update` changes: resource limits, and the restart policy. */
export interface UpdateOptions extends ResourceOptions {
  restartPolicy?: { name?: string; maximumRetryCount?: number };
}

/**
 * Change the resource limits of a container, as `docker update`: checked like create's, applied to a
 * live container through the runtime, and kept for its next start; and its restart policy, which applies
 * from its next exit. Returns docker's warnings.
 */
export async function update(engine: EngineCore, ref: string, opts: UpdateOptions): Promise<string[]> {
  const { restartPolicy, ...resourceOpts } = opts;
  const policy = restartPolicy === undefined ? undefined : validateRestartPolicy(restartPolicy);
  return engine.withLock(ref, async (row) => {
    if (policy && policy.name !== 'no' && row.config.autoRemove) {
      throw new InvalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    if (Object.values(resourceOpts).every((v) => v === undefined)) {
      if (policy) engine.containers.updateRestartPolicy(row.id, policy);
      return [];
    }
    if (row.config.cgroups === 'disabled') throw new Conflict(`container ${row.name} runs without cgroups: its resources cannot be updated`);
    if (engine.rootlessUser !== undefined) throw new NotSupported("an ordinary user's container's resources cannot be updated: it has no cgroup, as none is delegated to the user");
    const { resources, warnings } = resolveResources(resourceOpts, row.config.resources, hostFacts(engine.cgroups().version, () => engine.cgroupFeatures()), 'update');
    if (isLive(row.state)) {
      await engine.driver(row.config.runtime).update(row.id, ociResources(resources, { swapLimit: engine.cgroupFeatures().swapLimit, update: true }));
    }
    // Written once every check and the live change passed: a refused update changes nothing.
    engine.containers.updateResources(row.id, resources);
    if (policy) engine.containers.updateRestartPolicy(row.id, policy);
    return warnings;
  });
}
