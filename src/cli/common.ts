/**
 * What every CLI verb shares: the engine for this invocation, and (from command.ts, which loads no engine)
 * flag parsing, error printing and exit codes.
 */
import { Engine } from '../engine/engine.ts';
import { InvalidArgument, NotSupported } from '../errors.ts';
import { parse, report, type Command } from './command.ts';
import { engineRoot, type Globals } from './globals.ts';

export { fail, parse, report, type Command } from './command.ts';

export function engineFor(g: Globals): Engine {
  return new Engine({ root: engineRoot(g), ...(g.quiet ? { warn: () => {} } : {}), ...(g.storageDriver ? { storageDriver: g.storageDriver } : {}) });
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
