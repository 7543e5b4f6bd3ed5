/**
 * The event log and docker's event filters, without containers: a SQLite file in a scratch dir, records
 * appended by hand, and the reader that replays and follows them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { InvalidArgument } from '../../src/errors.ts';
import { dockerEvent, eventFilter, eventFilterArgs, eventLine, eventMatches, watchEvents } from '../../src/engine/events.ts';
import { openDb } from '../../src/store/db.ts';
import { EventRepo, type EventRecord } from '../../src/store/events.ts';
import { scratchDir } from './util.ts';


function ev(over: Partial<EventRecord>): EventRecord {
  return { seq: 1, timeUs: 1_700_000_000_123_456, type: 'container', action: 'start', actor: 'abc123def456', attributes: { image: 'busybox:latest', name: 'web', tier: 'front' }, ...over };
}

test('filters: container by id prefix or name, event with an exec suffix, type, image with and without tag, labels', () => {
  const m = (f: Record<string, string[]>, e = ev({})) => eventMatches(eventFilter(f), e);
  assert.ok(m({}));
  assert.ok(m({ container: ['abc1'] }));
  assert.ok(m({ container: ['web'] }));
  assert.ok(!m({ container: ['bcd'] }));
  assert.ok(m({ container: ['nope', 'web'] }), 'any value of a key matches');
  assert.ok(m({ event: ['exec_start'] }, ev({ action: 'exec_start: sh -c true' })));
  assert.ok(!m({ event: ['die'] }));
  assert.ok(m({ type: ['container'] }));
  assert.ok(!m({ type: ['image'] }));
  assert.ok(m({ image: ['busybox'] }));
  assert.ok(m({ image: ['busybox:latest'] }));
  assert.ok(!m({ image: ['alpine'] }));
  assert.ok(m({ image: ['foo:1'] }, ev({ type: 'image', action: 'tag', actor: 'sha256:1', attributes: { name: 'foo:1' } })));
  assert.ok(m({ label: ['tier'] }));
  assert.ok(m({ label: ['tier=front'] }));
  assert.ok(!m({ label: ['tier=back'] }));
  assert.ok(!m({ network: ['net1'] }), 'a network filter leaves out events of other objects, as docker');
  assert.ok(m({ scope: ['local'] }));
  assert.ok(!m({ scope: ['swarm'] }));
  assert.ok(m({ type: ['container'], event: ['start'], container: ['web'] }), 'keys combine with AND');
  assert.ok(!m({ type: ['container'], event: ['stop'], container: ['web'] }));
});

test('filters: unknown keys and types are refused; the CLI form key=value parses', () => {
  assert.throws(() => eventFilter({ bogus: ['1'] }), (e: unknown) => e instanceof InvalidArgument && /invalid filter 'bogus'/.test(e.message));
  assert.throws(() => eventFilter({ type: ['box'] }), InvalidArgument);
  assert.throws(() => eventFilterArgs(['novalue']), /bad format of filter/);
  const f = eventFilterArgs(['type=container', 'event=die', 'event=start', 'label=a=b']);
  assert.deepEqual(f.get('event'), ['die', 'start']);
  assert.deepEqual(f.get('label'), ['a=b']);
  assert.deepEqual(eventFilter({ event: { die: true } as unknown as string[] }).get('event'), ['die'], "Go's map form");
});

test("docker's message shape and the CLI's line", () => {
  const e = ev({});
  const d = dockerEvent(e) as Record<string, unknown>;
  assert.equal(d.status, 'start');
  assert.equal(d.id, 'abc123def456');
  assert.equal(d.from, 'busybox:latest');
  assert.equal(d.Type, 'container');
  assert.equal(d.Action, 'start');
  assert.deepEqual(d.Actor, { ID: 'abc123def456', Attributes: e.attributes });
  assert.equal(d.scope, 'local');
  assert.equal(d.time, 1_700_000_000);
  assert.equal(d.timeNano, 1_700_000_000_123_456_000);
  const n = dockerEvent(ev({ type: 'network', action: 'create', attributes: { name: 'n', type: 'bridge' } }));
  assert.ok(!('status' in n) && !('from' in n), 'legacy fields only for containers and images');
  assert.equal(eventLine(e), '2023-11-14T22:13:20.123456000Z container start abc123def456 (image=busybox:latest, name=web, tier=front)');
});

test('the log keeps order across handles, replays from a time, follows, stops at until, and trims to about the newest 10,000', async (t) => {
  const dir = scratchDir(t, 'berth-events-');
  const db = openDb(join(dir, 'a.db'));
  const other = openDb(join(dir, 'a.db'));
  try {
    const log = new EventRepo(db);
    const writer = new EventRepo(other);
    log.append('container', 'create', 'c1', { name: 'one' });
    await new Promise((r) => setTimeout(r, 5));
    const mid = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    writer.append('container', 'start', 'c1', { name: 'one' });
    writer.append('image', 'tag', 'sha256:x', { name: 'x:1' });
    // Replay from before everything, bounded by until (now): all three, in order, then the reader ends.
    const all: string[] = [];
    for await (const e of watchEvents(log, { since: 0, until: Date.now() })) all.push(e.action);
    assert.deepEqual(all, ['create', 'start', 'tag']);
    const later: string[] = [];
    for await (const e of watchEvents(log, { since: mid, until: Date.now() })) later.push(e.action);
    assert.deepEqual(later, ['start', 'tag']);
    // Follow: only new events, from another handle, with a filter; abort ends the reader.
    const stop = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of watchEvents(log, { filter: eventFilter({ type: ['container'] }), signal: stop.signal, pollMs: 10 })) {
        seen.push(e.action);
        if (seen.length === 2) stop.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    writer.append('image', 'untag', 'sha256:x', { name: 'x:1' });
    writer.append('container', 'die', 'c1', { name: 'one', exitCode: '0' });
    writer.append('container', 'destroy', 'c1', { name: 'one' });
    await reading;
    assert.deepEqual(seen, ['die', 'destroy']);
    // An until already past ends at once, even with nothing to show.
    const none: unknown[] = [];
    for await (const e of watchEvents(log, { until: Date.now() - 1000 })) none.push(e);
    assert.equal(none.length, 0);
    for (let i = 0; i < 11_000; i++) writer.append('volume', 'create', `v${i}`);
    const count = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    // Trimmed at every thousandth event to the newest 10,000: the first thousand are gone, the rest stay.
    assert.equal(count, 11_006 - 1000, `kept ${count}`);
    assert.equal(log.after(0, 1)[0]?.seq, 1001);
    assert.equal(log.after(log.last() - 1)[0]?.actor, 'v10999');
  } finally {
    db.close();
    other.close();
  }
});
