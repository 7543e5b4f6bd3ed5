/**
 * Events as docker reports them: filters with docker's semantics, the message shape its clients read, and
 * a reader that replays the log from a time and then follows it. The log is shared by every process
 * (src/store/events.ts), so following means polling it: cheap, one indexed query per tick.
 */
import { InvalidArgument } from '../errors.ts';
import type { EventRecord, EventRepo } from '../store/events.ts';
import type { ContainerRow } from '../store/containers.ts';

/** docker's filter keys for events; `type` values it accepts. */
const KEYS = ['container', 'event', 'image', 'label', 'network', 'type', 'volume', 'daemon', 'scope', 'plugin', 'node', 'service', 'secret', 'config'];
const TYPES = ['container', 'image', 'network', 'volume', 'daemon', 'plugin', 'node', 'service', 'secret', 'config'];
/** Keys matched by prefix against the actor's id or its name attribute, whatever the event's type. */
const BY_ACTOR = ['container', 'network', 'volume', 'daemon', 'plugin', 'node', 'service', 'secret', 'config'];

export type EventFilter = ReadonlyMap<string, readonly string[]>;

/** Check a docker filter map (`{"type":["container"],…}`, values as lists or `{value: true}` maps). */
export function eventFilter(raw: Record<string, unknown> = {}): EventFilter {
  const out = new Map<string, string[]>();
  for (const [key, v] of Object.entries(raw)) {
    if (!KEYS.includes(key)) throw new InvalidArgument(`invalid filter '${key}'`);
    const values = Array.isArray(v) ? v.map(String) : v && typeof v === 'object' ? Object.keys(v) : [String(v)];
    if (key === 'type') for (const t of values) if (!TYPES.includes(t)) throw new InvalidArgument(`invalid filter 'type=${t}'`);
    if (key === 'scope') for (const s of values) if (s !== 'local' && s !== 'swarm') throw new InvalidArgument(`invalid filter 'scope=${s}'`);
    if (values.length > 0) out.set(key, values);
  }
  return out;
}

/** Parse the CLI's repeated `--filter key=value` into a filter. */
export function eventFilterArgs(args: readonly string[]): EventFilter {
  const raw: Record<string, string[]> = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`bad format of filter (expected name=value): ${a}`);
    (raw[a.slice(0, i).toLowerCase()] ??= []).push(a.slice(i + 1));
  }
  return eventFilter(raw);
}

const stripTag = (ref: string) => ref.replace(/:[\w][\w.-]*$/, '');

/** Whether an event passes every filter given (each key: any of its values). */
export function eventMatches(f: EventFilter, ev: EventRecord): boolean {
  const has = (key: string, test: (v: string) => boolean) => {
    const vals = f.get(key);
    return !vals || vals.some(test);
  };
  const name = ev.attributes.name ?? '';
  if (!has('type', (t) => t === ev.type)) return false;
  if (!has('scope', (s) => s === 'local')) return false;
  if (!has('event', (e) => e === ev.action || e === ev.action.split(':')[0])) return false;
  for (const key of BY_ACTOR) {
    if (!has(key, (v) => ev.actor.startsWith(v) || (name !== '' && name.startsWith(v)))) return false;
  }
  const imageName = ev.type === 'image' ? name : (ev.attributes.image ?? '');
  const candidates = [ev.actor, imageName, stripTag(ev.actor), stripTag(imageName)].filter((x) => x !== '');
  if (!has('image', (v) => candidates.includes(v))) return false;
  return has('label', (l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in ev.attributes : ev.attributes[l.slice(0, i)] === l.slice(i + 1);
  });
}

/** The message docker's /events streams (the legacy status/id/from fields kept for containers and images). */
export function dockerEvent(ev: EventRecord): Record<string, unknown> {
  const legacy =
    ev.type === 'container'
      ? { status: ev.action, id: ev.actor, from: ev.attributes.image ?? '' }
      : ev.type === 'image'
        ? { status: ev.action, id: ev.actor }
        : {};
  return {
    ...legacy,
    Type: ev.type,
    Action: ev.action,
    Actor: { ID: ev.actor, Attributes: ev.attributes },
    scope: 'local',
    time: Math.floor(ev.timeUs / 1e6),
    timeNano: ev.timeUs * 1000,
  };
}

/**
 * An event as docker's CLI templates see it: its Go struct's field names (`{{.TimeNano}}`, `{{.Status}}`,
 * `{{.Scope}}`), while `{{json .}}` prints the message as the API sends it.
 */
export class TemplateEvent {
  readonly #msg: Record<string, unknown>;
  readonly #timeUs: number;
  constructor(ev: EventRecord) {
    this.#msg = dockerEvent(ev);
    this.#timeUs = ev.timeUs;
  }
  get Status(): unknown { return this.#msg.status ?? ''; }
  get ID(): unknown { return this.#msg.id ?? ''; }
  get From(): unknown { return this.#msg.from ?? ''; }
  get Type(): unknown { return this.#msg.Type; }
  get Action(): unknown { return this.#msg.Action; }
  get Actor(): unknown { return this.#msg.Actor; }
  get Scope(): unknown { return this.#msg.scope; }
  get Time(): unknown { return this.#msg.time; }
  // Exact: nanoseconds since 1970 are past a double's 53 bits.
  get TimeNano(): unknown { return BigInt(this.#timeUs) * 1000n; }
  toJSON(): Record<string, unknown> {
    return this.#msg;
  }
}

/** `docker events`' default line: `TIME TYPE ACTION ID (k=v, …)`, time in UTC with nanoseconds. */
export function eventLine(ev: EventRecord): string {
  const secs = Math.floor(ev.timeUs / 1e6);
  const nanos = String((ev.timeUs % 1e6) * 1000).padStart(9, '0');
  const time = `${new Date(secs * 1000).toISOString().slice(0, 19)}.${nanos}Z`;
  const attrs = Object.keys(ev.attributes)
    .sort()
    .map((k) => `${k}=${ev.attributes[k]}`);
  return `${time} ${ev.type} ${ev.action} ${ev.actor}${attrs.length > 0 ? ` (${attrs.join(', ')})` : ''}`;
}

/** A container event's attributes, as docker gives them: its labels, then image and name. */
export function containerAttributes(row: ContainerRow, extra: Record<string, string> = {}): Record<string, string> {
  return { ...row.config.labels, image: row.config.image, name: row.name, ...extra };
}

export interface WatchOptions {
  /** Replay from this time (ms since the epoch); without it, only events from now on. */
  since?: number;
  /** Stop at this time (ms); without it, follow until aborted. */
  until?: number;
  filter?: EventFilter;
  signal?: AbortSignal;
  /** How often to look for new events while following (ms). */
  pollMs?: number;
}

/** Events in log order: those since `since`, then new ones as they are appended, until `until` or abort. */
export async function* watchEvents(log: EventRepo, o: WatchOptions = {}): AsyncGenerator<EventRecord> {
  const sinceUs = o.since === undefined ? undefined : o.since * 1000;
  const untilUs = o.until === undefined ? undefined : o.until * 1000;
  if (sinceUs !== undefined && untilUs !== undefined && untilUs < sinceUs) return;
  let cursor = sinceUs === undefined ? log.last() : log.cursorAt(sinceUs);
  const filter = o.filter ?? new Map();
  while (!o.signal?.aborted) {
    const batch = log.after(cursor);
    for (const ev of batch) {
      cursor = ev.seq;
      if (untilUs !== undefined && ev.timeUs > untilUs) return;
      if (sinceUs !== undefined && ev.timeUs < sinceUs) continue;
      if (eventMatches(filter, ev)) yield ev;
    }
    if (batch.length > 0) continue;
    if (untilUs !== undefined && Date.now() * 1000 > untilUs) return;
    await pause(o.pollMs ?? 100, o.signal);
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
