/** `rename` and `update`: a container's name and its resource limits (applied live where it runs). */
import { Conflict, InvalidArgument } from '../../errors.ts';
import { ociResources } from '../../runtime/spec/resources.ts';
import type { EngineCore } from '../core.ts';
import { validateName } from '../names.ts';
import { hostFacts, resolveResources, type ResourceOptions } from '../resources.ts';
import { isLive } from '../state.ts';

export async function rename(engine: EngineCore, ref: string, newName: string): Promise<void> {
  const name = validateName(newName);
  await engine.withLock(ref, async (row) => {
    if (row.name === name) throw new InvalidArgument(`Renaming a container with the same name as its current name`);
    engine.containers.update(row.id, { name });
    engine.emitContainer({ ...row, name }, 'rename', { oldName: `/${row.name}` });
  });
}

/**
 * Change the resource limits of a container, as `docker update`: checked like create's, applied to a
 * live container through the runtime, and kept for its next start. Returns docker's warnings.
 */
export async function update(engine: EngineCore, ref: string, opts: ResourceOptions): Promise<string[]> {
  return engine.withLock(ref, async (row) => {
    if (row.config.cgroups === 'disabled') throw new Conflict(`container ${row.name} runs without cgroups: its resources cannot be updated`);
    const { resources, warnings } = resolveResources(opts, row.config.resources, hostFacts(engine.cgroups().version, () => engine.cgroupFeatures()), 'update');
    if (isLive(row.state)) {
      await engine.driver(row.config.runtime).update(row.id, ociResources(resources, { swapLimit: engine.cgroupFeatures().swapLimit }));
    }
    engine.containers.updateResources(row.id, resources);
    return warnings;
  });
}
