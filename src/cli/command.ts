/**
 * A verb's arguments and exit, with no engine: parsing its flags (pflag's messages), printing a failure,
 * and docker's exit codes for an error. Apart from common.ts, which opens the engine, so that main.ts and a
 * verb that may not need the engine at all (`ps` over a settled root) load none of it.
 */
import { isBerthError } from '../errors.ts';
import { parseFlags, usageText, type FlagDef, type ParseResult } from './flags.ts';

export function fail(message: string, code: number): number {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  return code;
}

/**
 * Report an error as docker does and return the exit code: `run`/`create` (and podman's `pod` verbs) use
 * the error's own code (125/126/127); every other verb exits 1.
 */
export function report(e: unknown, verb: string): number {
  if (isBerthError(e)) {
    // docker exec also exits 126/127 when the command cannot be invoked or is not found; podman's pod verbs
    // exit with the error's own code too.
    const own = verb === 'run' || verb === 'create' || verb.startsWith('pod ') || verb.startsWith('kube ') || (verb === 'exec' && (e.exitCode === 126 || e.exitCode === 127));
    const code = own ? e.exitCode : 1;
    return fail(`Error: ${e.message}`, code);
  }
  throw e;
}

export interface Command<D extends readonly FlagDef[]> {
  usage: string;
  description: string;
  flags: D;
  interspersed?: boolean;
  /** Minimum and maximum positional arguments. */
  args?: [number, number];
}

/**
 * Parse argv for a command; on a flag error print pflag's message plus docker's hint and return the exit
 * code (125) instead of a result.
 */
export function parse<const D extends readonly FlagDef[]>(cmd: Command<D>, argv: string[], verb: string): ParseResult<D> | number {
  let res: ParseResult<D>;
  try {
    res = parseFlags(argv, cmd.flags, { interspersed: cmd.interspersed ?? true });
  } catch (e) {
    if (isBerthError(e)) return fail(`${e.message}\nSee 'berth ${verb} --help'.`, 125);
    throw e;
  }
  if (res.help) {
    process.stdout.write(usageText(verb, cmd.usage, cmd.flags, cmd.description));
    return 0;
  }
  const [min, max] = cmd.args ?? [0, Infinity];
  if (res.args.length < min || res.args.length > max) {
    const need = min === max ? `exactly ${min} argument${min === 1 ? '' : 's'}` : max === Infinity ? `at least ${min} argument${min === 1 ? '' : 's'}` : `between ${min} and ${max} arguments`;
    return fail(
      `"berth ${verb}" requires ${need}.\nSee 'berth ${verb} --help'.\n\nUsage:  berth ${verb} ${cmd.usage}\n\n${cmd.description}`,
      1,
    );
  }
  return res;
}
