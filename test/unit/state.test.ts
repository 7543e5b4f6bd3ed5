/** The container state table: transitions, the guards writes take from it, predicates, docker's words. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DOCKER_STATUS_WORDS, TRANSITIONS, canExec, canKill, canPause, canRemove, canStart, canUnpause, dockerStatus, hasEnded, isLive, mayExit, move,
} from '../../src/engine/state.ts';
import type { ContainerState } from '../../src/types.ts';

const ALL: ContainerState[] = ['creating', 'created', 'running', 'paused', 'exited', 'removing', 'dead'];
const where = (p: (s: ContainerState) => boolean) => ALL.filter(p);

test('every transition goes between known states and never leaves its own target as a source', () => {
  for (const [name, t] of Object.entries(TRANSITIONS)) {
    assert.ok(ALL.includes(t.to), name);
    for (const f of t.from) assert.ok(ALL.includes(f), `${name} from ${f}`);
    assert.ok(!(t.from as readonly string[]).includes(t.to), `${name} would be a self-loop`);
  }
  // every state but the initial one can be entered, and every state can be left (removing: by deleting the row, or to dead)
  const entered = new Set<ContainerState>(Object.values(TRANSITIONS).map((t) => t.to));
  assert.deepEqual(ALL.filter((s) => !entered.has(s)), ['creating']);
  const left = new Set<ContainerState>(Object.values(TRANSITIONS).flatMap((t) => t.from));
  assert.deepEqual(ALL.filter((s) => !left.has(s)), []);
});

test('move gives the write its patch and guard', () => {
  assert.deepEqual(move('pause'), [{ state: 'paused' }, ['running']]);
  assert.deepEqual(move('unpause'), [{ state: 'running' }, ['paused']]);
  assert.deepEqual(move('start', { exitCode: 0 }), [{ exitCode: 0, state: 'running' }, ['created', 'exited']]);
  // an exit is recorded over any state the monitor may be watching, never over a removal in progress
  assert.deepEqual(move('exit', { exitCode: 3 })[1], ['created', 'running', 'paused']);
  assert.deepEqual(move('removeFailed')[1], ['removing']);
});

test('predicates', () => {
  assert.deepEqual(where(canStart), ['created', 'exited']);
  assert.deepEqual(where(isLive), ['running', 'paused']);
  assert.deepEqual(where(canKill), ['running', 'paused']);
  assert.deepEqual(where(canPause), ['running']);
  assert.deepEqual(where(canUnpause), ['paused']);
  assert.deepEqual(where(canExec), ['running']);
  assert.deepEqual(where(hasEnded), ['exited', 'dead']);
  assert.deepEqual(where(mayExit), ['created', 'running', 'paused']);
  // a dead container (its removal failed) can be removed again; a removal in progress cannot be started twice
  assert.deepEqual(where(canRemove), ['created', 'running', 'paused', 'exited', 'dead']);
});

test("docker's status words: every state has one of them", () => {
  for (const s of ALL) assert.ok((DOCKER_STATUS_WORDS as readonly string[]).includes(dockerStatus(s)), s);
  assert.equal(dockerStatus('creating'), 'created');
  assert.equal(dockerStatus('dead'), 'dead');
});
