/**
 * The options every verb receives from main.ts (the flags before the verb, and the verb itself). A module
 * of its own because main.ts loads the verbs: a verb importing this from main.ts would close a cycle.
 */
export interface Globals {
  root?: string;
  /** `--log-level error|fatal`: the engine's warnings are not printed. */
  quiet?: boolean;
  /** The verb path as typed, for messages ("container ls"). */
  verb: string;
}
