/**
 * `berth inspect [-f T] [--type container|image|network|volume] NAME...`: docker-shaped JSON. Without a
 * type, a name is looked for as docker's CLI looks: a container, an image, a network, then a volume.
 */
import type { FlagDef } from '../flags.ts';
import { engineFor, parse, report, type Command } from '../common.ts';
import { renderTemplate } from '../format.ts';
import { inspectJson } from '../../engine/inspect.ts';
import { imageInspectJson } from '../../engine/image-inspect.ts';
import { containerSizes } from '../../engine/diff.ts';
import { InvalidArgument, NOT_A_SWARM_MANAGER, NotFound, Unavailable } from '../../errors.ts';
import { inspectNetwork } from '../../engine/network-inspect.ts';
import { volumeJson } from '../../engine/volume-inspect.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' },
  { name: 'type', type: 'string', description: 'Return JSON for specified type' },
  { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes if the type is container' },
] as const satisfies readonly FlagDef[];

/** What --type takes: Berth's objects, the plugin (none is installed) and swarm's (no swarm here). */
const SWARM_KINDS = ['config', 'node', 'secret', 'service', 'task'];
const KINDS = ['container', 'image', 'network', 'volume', 'plugin', ...SWARM_KINDS];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on Docker objects',
  flags,
  args: [1, Infinity],
};

export function containerJson(engine: Engine, ref: string): Record<string, unknown> {
  const row = engine.inspect(ref);
  const img = engine.images.repo.get(row.imageId);
  return inspectJson(row, { root: engine.root, logPath: engine.logPath(row), lowerDirs: img ? engine.images.lowerDirs(img) : [] });
}

/** Print objects as docker does: a JSON array, or the template once per object. */
export function printObjects(objs: unknown[], format: string): void {
  if (!format) {
    process.stdout.write(`${JSON.stringify(objs, null, 4)}\n`);
    return;
  }
  for (const o of objs) process.stdout.write(`${renderTemplate(format === 'json' ? '{{json .}}' : format, o)}\n`);
}

export async function main(argv: string[], g: Globals, kind = ''): Promise<number> {
  const p = parse(cmd, argv, 'inspect');
  if (typeof p === 'number') return p;
  const type = kind || p.flags.type;
  if (type && !KINDS.includes(type)) return report(new InvalidArgument(`"${type}" is not a valid value for --type`), 'inspect');
  if (SWARM_KINDS.includes(type)) return report(new Unavailable(NOT_A_SWARM_MANAGER), 'inspect');
  const engine = engineFor(g);
  const out: unknown[] = [];
  let code = 0;
  try {
    for (const ref of p.args) {
      try {
        const container = (r: string) => {
          const j = containerJson(engine, r);
          if (!p.flags.size) return j;
          const s = containerSizes(engine, r);
          return { ...j, SizeRw: s.rw, SizeRootFs: s.rootFs };
        };
        const finders: Record<string, (r: string) => unknown> = {
          container,
          image: (r) => imageInspectJson(engine, r),
          network: (r) => {
            const n = inspectNetwork(engine, r);
            if (!n) throw new NotFound(`network ${r} not found`);
            return n;
          },
          volume: (r) => volumeJson(engine, r),
          plugin: (r) => {
            throw new NotFound(`plugin "${r}" not found`);
          },
        };
        const order = type ? [type] : ['container', 'image', 'network', 'volume'];
        let found: unknown;
        for (const [i, kindName] of order.entries()) {
          try {
            found = finders[kindName]!(ref);
            break;
          } catch (e) {
            if (!(e instanceof NotFound) || i === order.length - 1) throw e;
          }
        }
        out.push(found);
      } catch (e) {
        if (e instanceof NotFound) {
          process.stderr.write(`Error: No such ${type || 'object'}: ${ref}\n`);
          code = 1;
        } else code = report(e, 'inspect');
      }
    }
    printObjects(out, p.flags.format);
    return code;
  } catch (e) {
    return report(e, 'inspect');
  } finally {
    engine.close();
  }
}
