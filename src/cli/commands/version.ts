/** `berth version [--format T]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { renderTemplate } from '../format.ts';
import { versionInfo } from '../../engine/info.ts';
import type { Globals } from '../globals.ts';

const flags = [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }] as const satisfies readonly FlagDef[];
const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Show the version information', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'version');
  if (typeof p === 'number') return p;
  return withEngine(g, 'version', async (engine) => {
    const v = await versionInfo(engine);
    if (p.flags.format) {
      process.stdout.write(`${renderTemplate(p.flags.format === 'json' ? '{{json .}}' : p.flags.format, v)}\n`);
      return 0;
    }
    process.stdout.write(
      [
        'Berth:',
        ` Version:           ${v.Version}`,
        ` API version:       ${v.ApiVersion}`,
        ` Node version:      ${v.NodeVersion}`,
        ` OS/Arch:           ${v.Os}/${v.Arch}`,
        ...v.Components.map((c) => ` ${`${c.Name}:`.padEnd(19)}${c.Version}`),
      ].join('\n') + '\n',
    );
    return 0;
  });
}
