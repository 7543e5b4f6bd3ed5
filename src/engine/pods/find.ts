/** Finding a pod by reference, as containers are found: full id, exact name, unique id prefix. */
import { InvalidArgument, NotFound } from '../../errors.ts';
import type { PodRow } from '../../store/pods.ts';
import type { EngineCore } from '../core.ts';

export function findPod(engine: EngineCore, ref: string): PodRow {
  if (!ref) throw new InvalidArgument('pod name or ID cannot be empty');
  const { row, ambiguous } = engine.pods.lookup(ref);
  if (ambiguous) throw new InvalidArgument(`more than one pod matches the ID prefix ${ref}`);
  if (!row) throw new NotFound(`no pod with name or ID ${ref} found: no such pod`);
  return row;
}
