import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPF_ANNOTATION, SeccompCache } from '../../src/runtime/seccomp-cache.ts';
import { OciDriver } from '../../src/runtime/oci.ts';
import type { OciSpec } from '../../src/runtime/spec/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-seccomp-cache-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A stand-in runtime binary (its identity is part of every entry) and a compiled program of `n` instructions. */
const runtime = join(tmp, 'crun');
writeFileSync(runtime, 'v1');
function compiled(name: string, n: number): string {
  const p = join(tmp, name);
  writeFileSync(p, Buffer.alloc(8 * n, n));
  return p;
}

const PLAIN = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };

test('profileOf: a plain filter is served; a listener, flags or a notify action are compiled every time', () => {
  const c = new SeccompCache(join(tmp, 'a'), runtime);
  assert.equal(c.profileOf(PLAIN), JSON.stringify(PLAIN));
  assert.equal(c.profileOf(undefined), undefined);
  assert.equal(c.profileOf({ ...PLAIN, listenerPath: '/run/l.sock' }), undefined);
  assert.equal(c.profileOf({ ...PLAIN, flags: ['SECCOMP_FILTER_FLAG_LOG'] }), undefined);
  assert.equal(c.profileOf({ ...PLAIN, flags: [] }), JSON.stringify({ ...PLAIN, flags: [] }));
  assert.equal(c.profileOf({ ...PLAIN, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }), undefined);
  assert.equal(c.profileOf({ defaultAction: 'SCMP_ACT_NOTIFY' }), undefined);
});

test('a program learnt for a profile is served for exactly that profile, as the runtime wrote it', () => {
  const dir = join(tmp, 'b');
  const c = new SeccompCache(dir, runtime);
  const profile = c.profileOf(PLAIN)!;
  assert.equal(c.program(profile), undefined);
  c.learn(profile, compiled('p3', 3));
  assert.equal(c.program(profile), Buffer.alloc(24, 3).toString('base64'));
  const other = c.profileOf({ ...PLAIN, defaultAction: 'SCMP_ACT_ALLOW' })!;
  assert.equal(c.program(other), undefined);
  // Written whole: no temporary file is left beside the entry.
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('an entry is not served for another profile that shares its file name, nor after the runtime changes', () => {
  const dir = join(tmp, 'c');
  const c = new SeccompCache(dir, runtime);
  const a = c.profileOf(PLAIN)!;
  c.learn(a, compiled('p2', 2));
  const [file] = readdirSync(dir);
  // Another profile's text under A's name (as a hash collision would leave it): A is not served B's program.
  const entry = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { profile: string };
  writeFileSync(join(dir, file!), JSON.stringify({ ...entry, profile: JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }) }));
  assert.equal(c.program(a), undefined);
  c.learn(a, compiled('p2b', 2));
  assert.ok(c.program(a));
  // An upgraded runtime binary (another identity) compiles anew.
  writeFileSync(runtime, 'v2, longer');
  assert.equal(new SeccompCache(dir, runtime).program(a), undefined);
  writeFileSync(runtime, 'v1');
});

test('a damaged entry or an unusable program is never served', () => {
  const dir = join(tmp, 'd');
  const c = new SeccompCache(dir, runtime);
  const a = c.profileOf(PLAIN)!;
  c.learn(a, compiled('empty', 0));
  assert.equal(c.program(a), undefined, 'an empty program is not kept');
  c.learn(a, compiled('p1', 1));
  const [file] = readdirSync(dir);
  const entry = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { bpf: string };
  writeFileSync(join(dir, file!), JSON.stringify({ ...entry, bpf: Buffer.alloc(12).toString('base64') }));
  assert.equal(c.program(a), undefined, 'not whole instructions');
  writeFileSync(join(dir, file!), '{"builtBy":');
  assert.equal(c.program(a), undefined, 'not JSON');
  c.learn(a, join(tmp, 'no-such-file'));
  assert.equal(c.program(a), undefined);
});

test("crun's driver hands a kept program to a spec of that profile, unless the spec has seccomp annotations of its own", () => {
  const dir = join(tmp, 'e');
  const c = new SeccompCache(dir, runtime);
  c.learn(c.profileOf(PLAIN)!, compiled('p4', 4));
  const driver = new OciDriver('crun', runtime, { kind: 'crun', seccompCacheDir: dir });
  const spec = (annotations: Record<string, string>) => ({ annotations, linux: { seccomp: PLAIN } }) as unknown as OciSpec;
  const plain = spec({ 'org.example': 'x' });
  driver.prepareSpec('a', plain);
  assert.deepEqual(plain.annotations, { 'org.example': 'x', [BPF_ANNOTATION]: Buffer.alloc(32, 4).toString('base64') });
  // Failing on unknown syscalls is a compile-time choice: such a container compiles its profile itself.
  const strict = spec({ 'run.oci.seccomp_fail_unknown_syscall': '1' });
  driver.prepareSpec('b', strict);
  assert.deepEqual(strict.annotations, { 'run.oci.seccomp_fail_unknown_syscall': '1' });
  const own = spec({ [BPF_ANNOTATION]: 'AAAAAAAAAAA=' });
  driver.prepareSpec('c', own);
  assert.deepEqual(own.annotations, { [BPF_ANNOTATION]: 'AAAAAAAAAAA=' });
  // runc takes no program: its specs are left as they are.
  const runc = new OciDriver('runc', runtime, { kind: 'runc', seccompCacheDir: dir });
  const forRunc = spec({});
  runc.prepareSpec('d', forRunc);
  assert.deepEqual(forRunc.annotations, {});
});
