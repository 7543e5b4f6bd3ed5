/** `berth info [--format T]`: the engine, the runtime chosen and why, cgroups, storage. */
import { release } from 'node:os';
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { renderTemplate } from '../format.ts';
import { systemInfo } from '../../engine/info.ts';
import { exactSize } from '../../units.ts';
import type { Globals } from '../globals.ts';

const flags = [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }] as const satisfies readonly FlagDef[];
const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Display system-wide information', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'info');
  if (typeof p === 'number') return p;
  if (process.geteuid?.() !== 0) return rootlessInfo(p.flags.format);
  return withEngine(g, 'info', async (engine) => {
    const i = await systemInfo(engine);
    if (p.flags.format) {
      process.stdout.write(`${renderTemplate(p.flags.format === 'json' ? '{{json .}}' : p.flags.format, i)}\n`);
      return 0;
    }
    const lines = [
      'Client:',
      ` Version:    ${i.ServerVersion}`,
      ' Context:    default (daemonless)',
      '',
      'Server:',
      ` Containers: ${i.Containers}`,
      `  Running: ${i.ContainersRunning}`,
      `  Paused: ${i.ContainersPaused}`,
      `  Stopped: ${i.ContainersStopped}`,
      ` Images: ${i.Images}`,
      ` Server Version: ${i.ServerVersion}`,
      ` Storage Driver: ${i.Driver}`,
      `  Why: ${i.BerthStorageReason}`,
      ...(i.BerthStorageProblem ? [`  Cannot mount: ${i.BerthStorageProblem}`] : []),
      `  Size Caps: ${exactSize(i.BerthMaxLayerSize)} a layer, ${exactSize(i.BerthMaxImageSize)} an image (max-layer-size, max-image-size)`,
      ` Logging Driver: ${i.LoggingDriver}`,
      ` Cgroup Driver: ${i.CgroupDriver}`,
      ` Cgroup Version: ${i.CgroupVersion} (${i.BerthCgroupMode})`,
      ` Runtimes: ${Object.keys(i.Runtimes).join(' ')}`,
      ` Default Runtime: ${i.DefaultRuntime}`,
      `  Why: ${i.BerthRuntimeReason}`,
      ...i.BerthRuntimeProbe.map((c) => `  ${c.name}: ${c.usable ? 'usable' : 'refused'} — ${c.reason}`),
      ` Kernel Version: ${release()}`,
      ` Operating System: ${i.OperatingSystem}`,
      ` OSType: ${i.OSType}`,
      ` Architecture: ${i.Architecture}`,
      ` CPUs: ${i.NCPU}`,
      ` Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`,
      ` Name: ${i.Name}`,
      ` Berth Root Dir: ${i.BerthRootDir}`,
      ...(i.BerthRootless
        ? [
            ` Rootless: yes, for uid ${i.BerthRootless.Uid} (no cgroup limits)`,
            `  Uids: ${i.BerthRootless.UidMap}`,
            `  Gids: ${i.BerthRootless.GidMap}`,
            `  Network: ${i.BerthRootless.Network} — ${i.BerthRootless.NetworkReason}`,
          ]
        : []),
      ` Checkpoint: ${i.BerthCheckpoint}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    // docker prints the server's warnings after the report, on stderr
    if (i.Warnings.length > 0) process.stderr.write(`${i.Warnings.join('\n')}\n`);
    return 0;
  });
}

/** `info` for an ordinary user outside its user namespace: no engine, what this host offers one (src/engine/rootless.ts). */
async function rootlessInfo(format: string | undefined): Promise<number> {
  const { rootlessFacts } = await import('../../engine/rootless.ts');
  const f = rootlessFacts();
  if (format) {
    // Field names as docker's templates have them: {{.Runtime.Value}}, {{json .Uids}}.
    process.stdout.write(`${renderTemplate(format === 'json' ? '{{json .}}' : format, goCase(f))}\n`);
    return 0;
  }
  const shown = (v: unknown) => (Array.isArray(v) ? (v.length > 0 ? 'yes' : 'no') : typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v));
  const fact = (name: string, x: { value: unknown; why: string }) => `  ${name}: ${shown(x.value)} — ${x.why}`;
  const lines = [
    'Client:',
    ' Context:    default (daemonless)',
    '',
    'Rootless:',
    ` Active: no — this command runs outside the user's namespace; what this host offers user ${f.user.name} (${f.user.uid}):`,
    `  Root Dir: ${f.paths.root}`,
    `  Run Dir: ${f.paths.run}`,
    fact('Subordinate UIDs', f.uids),
    fact('Subordinate GIDs', f.gids),
    fact('ID Mapping Tools', f.idMapTools),
    fact('Storage', f.storage),
    fact('Runtime', f.runtime),
    fact('Cgroup Limits', f.cgroupLimits),
    fact('Network Helper', f.network),
    fact('TUN Device', f.tun),
    ` Kernel Version: ${release()}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** An object's keys capitalized, all the way down (Go's exported field names, which templates use). */
function goCase(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(goCase);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k[0]!.toUpperCase() + k.slice(1), goCase(x)]));
}
