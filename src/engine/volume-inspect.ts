/** `volume inspect`'s JSON, in docker's shape (empty labels and options print as null, as docker's do). */
import type { EngineCore } from './core.ts';

export function volumeJson(engine: EngineCore, name: string): Record<string, unknown> {
  const v = engine.volumes.get(name);
  const orNull = (o: Record<string, string>) => (Object.keys(o).length > 0 ? o : null);
  return {
    CreatedAt: v.createdAt.replace(/\.\d+Z$/, 'Z'),
    Driver: v.driver,
    Labels: orNull(v.labels),
    Mountpoint: engine.volumes.mountpoint(v.name),
    Name: v.name,
    Options: orNull(v.options),
    Scope: 'local',
  };
}
