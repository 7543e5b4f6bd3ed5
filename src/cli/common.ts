/** What every CLI verb shares: the engine for this invocation, error printing and exit codes. */
import { Engine } from '../engine/engine.ts';
import { InvalidArgument, isBerthError, NotSupported } from '../errors.ts';
import { parseFlags, usageText, type FlagDef, type ParseResult } from './flags.ts';
import type { Globals } from './globals.ts';

export function engineFor(g: Globals): Engine {
  const root = g.root ?? process.env.BERTH_ROOT ?? '/var/lib/berth';
  return new Engine({ root, ...(g.quiet ? { warn: () => {} } : {}) });
}

/** Open the engine for one verb, report its errors as docker does, and close it. */
export async function withEngine(g: Globals, verb: string, fn: (engine: Engine) => Promise<number>): Promise<number> {
  const engine = engineFor(g);
  try {
    return await fn(engine);
  } catch (e) {
    return report(e, verb);
  } finally {
    engine.close();
  }
}

/** A verb over one or more containers with no flags (pause, unpause, wait): `op` returns the line to print. */
export function containerVerb(verb: string, description: string, op: (engine: Engine, ref: string) => Promise<string>) {
  const cmd: Command<readonly []> = { usage: 'CONTAINER [CONTAINER...]', description, flags: [], args: [1, Infinity] };
  return async (argv: string[], g: Globals): Promise<number> => {
    const p = parse(cmd, argv, verb);
    if (typeof p === 'number') return p;
    return withEngine(g, verb, (engine) => eachRef(p.args, verb, (ref) => op(engine, ref)));
  };
}

export function fail(message: string, code: number): number {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  return code;
}

/**
 * Report an error as docker does and return the exit code: `run`/`create` use the error's own code
 * (125/126/127); every other verb exits 1.
 */
export function report(e: unknown, verb: string): number {
  if (isBerthError(e)) {
    // docker exec also exits 126/127 when the command cannot be invoked or is not found.
    const own = verb === 'run' || verb === 'create' || (verb === 'exec' && (e.exitCode === 126 || e.exitCode === 127));
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

/** Run an operation per reference (containers, volumes, networks), docker style: print each success line, report each failure, exit 1 if any failed. */
export async function eachRef(refs: string[], verb: string, op: (ref: string) => Promise<string | undefined>): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      const line = await op(ref);
      if (line !== undefined) process.stdout.write(`${line}\n`);
    } catch (e) {
      code = report(e, verb);
    }
  }
  return code;
}

/** `--filter key=value` flags as docker's filter map (a key given twice keeps both values). */
export function filterFlags(values: readonly string[]): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const f of values) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new InvalidArgument(`bad format of filter (expected name=value): ${f}`);
    (filters[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
  }
  return filters;
}

/**
 * A prune's question: the warning, then "Are you sure…? [y/N]" on a terminal; true for yes. Without a
 * terminal (a script) there is nobody to ask, and the answer is yes, as the caller passed `-f`.
 */
export async function confirm(warning: string): Promise<boolean> {
  if (!process.stdin.isTTY) return true;
  process.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((r) => process.stdin.once('data', (b) => r(String(b).trim())));
  process.stdin.pause();
  return /^y(es)?$/i.test(answer);
}

/**
 * `--disable-content-trust` (pull, push, build, run, create): true by default, as docker's. Berth checks
 * images by digest and has no Notary signatures, so asking for content trust is refused, not ignored.
 */
export function noContentTrust(disabled: boolean): void {
  if (!disabled) throw new NotSupported('content trust (signed images, --disable-content-trust=false) is not supported: images are checked by digest');
}
