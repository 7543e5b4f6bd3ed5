/** `berth run`: create, start, and in the foreground stream output and return the container's exit code. */
import type { Engine } from '../../engine/engine.ts';
import { InvalidArgument } from '../../errors.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { createFlags, toCreateOptions } from '../create-flags.ts';
import type { FlagDef } from '../flags.ts';
import type { Globals } from '../globals.ts';
import { ensureImage } from '../pull-flow.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../engine/detach-keys.ts';
import { trace } from '../../sys/trace.ts';
import { keepsFile } from '../../engine/types.ts';
import { withCidFile } from '../cidfile.ts';
import { SerialWriter } from '../output.ts';

const flags = [
  ...createFlags,
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy received signals to the process' },
  { name: 'detach-keys', type: 'string', default: DEFAULT_DETACH_KEYS, description: 'Override the key sequence for detaching a container' },
  { name: 'preserve-fds', type: 'int', description: 'Pass N additional file descriptors (3 and up) to the container' },
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
    const detachKeys = parseDetachKeys(p.flags['detach-keys']);
    const preserveFds = p.flags['preserve-fds'];
    if (preserveFds < 0) throw new InvalidArgument(`invalid --preserve-fds: ${preserveFds}`);
    // docker: a detached run -i keeps stdin open for whoever attaches later (no StdinOnce), and attaches nothing.
    if (p.flags.detach) {
      if (p.changed.has('attach')) throw new InvalidArgument('Conflicting options: -a and -d');
      opts.stdinOnce = false;
      opts.attach = { stdin: false, stdout: false, stderr: false };
    }
    const show = { stdout: opts.attach?.stdout ?? true, stderr: opts.attach?.stderr ?? true };
    await engine.repair();
    const ctr = await withCidFile(p.flags.cidfile, async () => {
      await ensureImage(engine, opts.image, p.flags.pull, p.flags.quiet, p.flags.platform || undefined);
      return engine.create(opts);
    });
    if (p.flags.detach) {
      await engine.start(ctr.id, { preserveFds });
      process.stdout.write(`${ctr.id}\n`);
      return 0;
    }
    // Plain output of a logged container: follow its log (no FFI to load, the fastest path). Anything
    // interactive, or a container without a readable log, goes through its attached stdio.
    if (!opts.tty && !opts.openStdin && keepsFile(ctr.config.logDriver ?? 'k8s-file')) {
      return await foreground(engine, ctr.id, p.flags['sig-proxy'], preserveFds, show);
    }
    const { attachAndWait } = await import('../attach-flow.ts');
    return attachAndWait(engine, ctr.id, {
      start: true,
      tty: opts.tty ?? false,
      stdin: opts.openStdin ?? false,
      detachKeys,
      sigProxy: p.flags['sig-proxy'],
      preserveFds,
      show,
    });
  });
}

async function foreground(engine: Engine, id: string, sigProxy: boolean, preserveFds: number, show: { stdout: boolean; stderr: boolean }): Promise<number> {
  const proxies: [NodeJS.Signals, () => void][] = [];
  if (sigProxy) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as NodeJS.Signals[]) {
      const h = () => void engine.kill(id, sig).catch(() => {});
      process.on(sig, h);
      proxies.push([sig, h]);
    }
  }
  try {
    await engine.start(id, { attached: true, preserveFds });
    trace('run: following');
    const out = { stdout: new SerialWriter(process.stdout), stderr: new SerialWriter(process.stderr) };
    await engine.readLogs(id, (rec) => show[rec.stream] && out[rec.stream].write(rec.data), { follow: true });
    await Promise.all([out.stdout.flushed(), out.stderr.flushed()]);
    trace('run: exited');
    const code = await engine.wait(id);
    const after = await engine.cleanup(id).catch(() => undefined);
    return after?.exitCode ?? code;
  } finally {
    for (const [sig, h] of proxies) process.off(sig, h);
  }
}
