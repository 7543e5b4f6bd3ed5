/** `berth run`: create, start, and in the foreground stream output and return the container's exit code. */
import type { Engine } from '../../engine/engine.ts';
import { NotSupported } from '../../errors.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { createFlags, toCreateOptions } from '../create-flags.ts';
import type { FlagDef } from '../flags.ts';
import type { Globals } from '../main.ts';
import { trace } from '../../sys/trace.ts';

const flags = [
  ...createFlags,
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy received signals to the process' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  flags,
  interspersed: false,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'run');
  if (typeof p === 'number') return p;
  return withEngine(g, 'run', async (engine) => {
    const opts = toCreateOptions(p.flags, p.changed, p.args);
    if (opts.openStdin && !p.flags.detach) {
      throw new NotSupported('interactive attach (-i without -d) is not available yet; use -d, or berth exec when it lands');
    }
    await engine.repair();
    const ctr = await engine.create(opts);
    if (p.flags.detach) {
      await startOrUnwind(engine, ctr.id, false, opts.autoRemove ?? false);
      process.stdout.write(`${ctr.id}\n`);
      return 0;
    }
    return await foreground(engine, ctr.id, p.flags['sig-proxy'], opts.autoRemove ?? false);
  });
}

/** Start; a failed start of an auto-remove container removes it, as docker does. */
async function startOrUnwind(engine: Engine, id: string, attached: boolean, autoRemove: boolean): Promise<void> {
  try {
    await engine.start(id, { attached });
  } catch (e) {
    if (autoRemove) await engine.remove(id, true).catch(() => {});
    throw e;
  }
}

async function foreground(engine: Engine, id: string, sigProxy: boolean, autoRemove: boolean): Promise<number> {
  const proxies: [NodeJS.Signals, () => void][] = [];
  if (sigProxy) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as NodeJS.Signals[]) {
      const h = () => void engine.kill(id, sig).catch(() => {});
      process.on(sig, h);
      proxies.push([sig, h]);
    }
  }
  try {
    await startOrUnwind(engine, id, true, autoRemove);
    trace('run: following');
    await engine.readLogs(id, (rec) => (rec.stream === 'stderr' ? process.stderr : process.stdout).write(rec.data), { follow: true });
    trace('run: exited');
    const code = await engine.wait(id);
    const after = await engine.cleanup(id).catch(() => undefined);
    return after?.exitCode ?? code;
  } finally {
    for (const [sig, h] of proxies) process.off(sig, h);
  }
}
