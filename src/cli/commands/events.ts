/**
 * `berth events [--since T] [--until T] [-f key=value] [--format F]`: what happened to containers, images,
 * networks and volumes, whichever process did it. Without --until it follows until interrupted.
 */
import type { FlagDef } from '../flags.ts';
import { parse, withEngine, type Command } from '../common.ts';
import { eventFilterArgs, eventLine, TemplateEvent, watchEvents } from '../../engine/events.ts';
import { parseTimeArg } from '../../engine/time.ts';
import { renderTemplate } from '../format.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
  { name: 'format', type: 'string', description: 'Format output using a custom template ("json" prints one JSON object per line)' },
  { name: 'since', type: 'string', description: 'Show all events created since timestamp' },
  { name: 'until', type: 'string', description: 'Stream events until this timestamp' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Get real time events from the server', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'events');
  if (typeof p === 'number') return p;
  return withEngine(g, 'events', async (engine) => {
    const filter = eventFilterArgs(p.flags.filter);
    const since = p.changed.has('since') ? parseTimeArg(p.flags.since, '--since') : undefined;
    const until = p.changed.has('until') ? parseTimeArg(p.flags.until, '--until') : undefined;
    const tpl = p.flags.format === 'json' ? '{{json .}}' : p.flags.format || undefined;
    if (tpl) renderTemplate(tpl, {}); // a bad template fails before anything is printed
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    // A closed pipe (`berth events | head`) ends the stream instead of failing the next write.
    process.stdout.on('error', interrupt);
    try {
      for await (const ev of watchEvents(engine.events, { since, until, filter, signal: stop.signal })) {
        process.stdout.write(`${tpl ? renderTemplate(tpl, new TemplateEvent(ev)) : eventLine(ev)}\n`);
      }
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    }
    return 0;
  });
}
