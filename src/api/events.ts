/**
 * GET /events: the engine's event log, replayed from `since` and followed until `until` or until the
 * client goes away. One JSON object per line; headers go out at once so a client waiting for the first
 * event knows the server listens.
 */
import { dockerEvent, eventFilter, watchEvents } from '../engine/events.ts';
import { parseTimeArg } from '../engine/time.ts';
import { parseFilters } from './containers.ts';
import type { Ctx } from './http.ts';

export async function events(ctx: Ctx): Promise<void> {
  const time = (name: string) => {
    const v = ctx.q(name);
    return v === null || v === '' ? undefined : parseTimeArg(v, name);
  };
  const since = time('since');
  const until = time('until');
  const filter = eventFilter(parseFilters(ctx.q('filters')));
  const out = ctx.startStream('application/json');
  const stop = new AbortController();
  out.onClose(() => stop.abort());
  for await (const ev of watchEvents(ctx.engine.events, { since, until, filter, signal: stop.signal })) {
    out.write(`${JSON.stringify(dockerEvent(ev))}\n`);
  }
  out.end();
}
