/**
 * The options every verb receives from main.ts (the flags before the verb, and the verb itself). A module
 * of its own because main.ts loads the verbs: a verb importing this from main.ts would close a cycle.
 */
import { defaultRoot } from '../engine/user-paths.ts';

export interface Globals {
  root?: string;
  /** `--storage-driver` (podman's): overlay or fuse-overlayfs for the containers this command creates. */
  storageDriver?: string;
  /** `--log-level error|fatal`: the engine's warnings are not printed. */
  quiet?: boolean;
  /** The verb path as typed, for messages ("container ls"). */
  verb: string;
}

/** The engine root a verb works on: --root, else $BERTH_ROOT, else /var/lib/berth (an ordinary user's: its own store). */
export function engineRoot(g: Globals): string {
  return g.root ?? process.env.BERTH_ROOT ?? defaultRoot();
}
