/**
 * Isolation as a docker user relies on it: a static probe (test/fixtures/probe.c) tries the classic
 * container escapes and privileged operations from inside a default container (all refused), a
 * --privileged one and one with --cap-add SYS_ADMIN (exactly the expected ones get through). Its
 * exe-write attempt (CVE-2019-5736) attacks the runtime processes that enter the container while it
 * watches, so each probe run is entered with `berth exec`; a stand-in runtime without runc's protection
 * shows that attempt can succeed. Then each
 * isolation option is checked by what it changes inside the container, by the spec where no LSM runs
 * here (SELinux labels, AppArmor), and by what it refuses before anything is created. Last, mounts stay
 * inside the container: image symlinks never lead a mount onto the host, and /proc and /sys are off
 * limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BERTH, cli, leaksUnder, REPO, runAsync, setupEnv, show, type Env, type Result } from './helpers.ts';

let env: Env;
/** Directory holding the compiled probe, bound read-only at /probe. */
let probeDir = '';
/** Scratch directory on the host for bind sources and profiles. */
let work = '';
/** MAJOR:MINOR of the block device the probe makes a node for. */
let blk = '';

/** Every line the probe prints, in order. */
const ATTEMPTS = [
  'mount', 'umount', 'sysctl-write', 'kcore-read', 'blockdev-open', 'devmem-open', 'finit_module', 'reboot',
  'swapon', 'add_key', 'unshare-user', 'unshare-mnt', 'bpf', 'perf_event_open', 'settimeofday',
  'cgroupfs-write', 'exe-write', 'ptrace-pid1', 'open_by_handle_at',
] as const;
type Attempt = (typeof ATTEMPTS)[number];
type Verdict = 'ALLOWED' | 'BLOCKED';

// Bound before the hooks: before() builds an image with them.
const { ok, runD, rmf, allIds, containerDirs } = cli(() => env);

before(() => {
  env = setupEnv('isolation');
  work = mkdtempSync('/tmp/berth-iso-work-');
  probeDir = mkdtempSync('/tmp/berth-iso-probe-');
  const source = join(REPO, 'test', 'fixtures', 'probe.c');
  const cc = spawnSync('gcc', ['-static', '-O2', '-o', join(probeDir, 'probe'), source], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `gcc: ${cc.error ?? cc.stderr}`);
  blk = blockDevice();
  buildEvilImage();
});

after(() => {
  rmSync(probeDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  if (env) {
    env.berth(['volume', 'prune', '-af']);
    env.teardown();
  }
});

// ---- helpers ----


function runOut(args: string[]): string {
  return ok(['run', '--rm', ...args]).stdout;
}

/** The command fails with `why` on stderr and leaves no new container, directory, mount, conmon or cgroup. */
function refused(args: string[], why: RegExp, code: number | undefined = 125): Result {
  const ids = allIds();
  const dirs = containerDirs();
  const leaks = leaksUnder(env.root);
  const r = env.berth(args);
  if (code === undefined) assert.notEqual(r.code, 0, show(r));
  else assert.equal(r.code, code, `berth ${args.join(' ')}\n${show(r)}`);
  assert.match(r.stderr, why);
  assert.deepEqual(allIds(), ids, 'no container is left');
  assert.deepEqual(containerDirs(), dirs, 'no container directory is left');
  assert.deepEqual(leaksUnder(env.root), leaks, 'no mount, conmon or cgroup is left');
  return r;
}

/** The OCI spec of a container (written when it is started). */
function spec(id: string): { process: Record<string, unknown>; linux: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(env.root, 'containers', id, 'config.json'), 'utf8'));
}

/** Linux's dev_t split (12 bits of major, 20 of minor around the low byte). */
function majorMinor(dev: number): [number, number] {
  return [Math.floor(dev / 256) & 0xfff, (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00)];
}

/**
 * The host's root disk (the device under /), as the probe's mknod target. Some hosts refuse even root a
 * raw open of the mounted root disk (this VM's kernel does: EPERM on the host itself), which would make
 * the privileged run's "ALLOWED" impossible; then /dev/loop0 stands in, a block device root may open.
 */
function blockDevice(): string {
  const [major, minor] = majorMinor(statSync('/').dev);
  const name = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8'))?.[1];
  try {
    closeSync(openSync(`/dev/${name}`, 'r'));
    return `${major}:${minor}`;
  } catch {
    const [lmaj, lmin] = majorMinor(statSync('/dev/loop0').rdev);
    return `${lmaj}:${lmin}`;
  }
}

interface ProbeLine {
  verdict: Verdict | 'ERROR';
  detail: string;
}

/** The runtime enters the container the usual way: `berth exec CTR true`, three times. */
async function execThrice(name: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await env.berthAsync(['exec', name, 'true']);
    assert.equal(r.code, 0, `exec ${name} true\n${show(r)}`);
  }
}

let probeRuns = 0;

/**
 * Run the probe in a fresh container with `flags`; one verdict per attempt, every attempt present. The
 * exe-write attempt needs a runtime process entering the container while it watches: once the probe says
 * on stderr that it watches, `enter` makes some enter (by default `berth exec … true`, three times), and
 * an exec of `touch /tmp/.probe-exe-done` (itself a fourth entry) ends the watch.
 */
async function probe(flags: string[], enter: (name: string) => Promise<void> = execThrice): Promise<Map<string, ProbeLine>> {
  const name = `iso-probe-${++probeRuns}`;
  const args = ['--root', env.root, 'run', '--rm', '--name', name, ...flags, '-v', `${probeDir}:/probe:ro`, 'busybox',
    '/probe/probe', '--blk', blk, '--exe-watch', '120'];
  const child = spawn(BERTH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 128));
  });
  const watching = new Promise<boolean>((resolve) => {
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes('probe: exe-write: watching\n')) resolve(true);
    });
    exited.then(() => resolve(false), () => resolve(false));
  });
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  try {
    assert.ok(await watching, `the probe ended before exe-write watched\nstdout: ${stdout}\nstderr: ${stderr}`);
    await enter(name);
    const done = await env.berthAsync(['exec', name, 'touch', '/tmp/.probe-exe-done']);
    // The probe ends as soon as the file is there, and the container with it: a touch that made the file but
    // had not exited yet is killed with the container (137). The probe's own exit 0 below says it saw the file.
    assert.ok(done.code === 0 || done.code === 137, `exec touch /tmp/.probe-exe-done\n${show(done)}`);
    const code = await exited;
    assert.equal(code, 0, `berth run … probe\nexit ${code}\nstdout: ${stdout}\nstderr: ${stderr}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited.catch(() => undefined);
      env.berth(['rm', '-f', name]);
    }
  }
  const out = new Map<string, ProbeLine>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const m = /^(\S+) (ALLOWED|BLOCKED|ERROR)(?: (.*))?$/.exec(line);
    assert.ok(m, `unexpected probe line: ${line}`);
    out.set(m[1]!, { verdict: m[2] as ProbeLine['verdict'], detail: m[3] ?? '' });
  }
  assert.deepEqual([...out.keys()], [...ATTEMPTS], stdout);
  return out;
}

/** Compare verdicts as one object so a failure shows every attempt that differs, with its detail. */
function assertVerdicts(got: Map<string, ProbeLine>, want: Record<Attempt, Verdict>): void {
  const actual = Object.fromEntries([...got].map(([k, v]) => [k, v.verdict]));
  const details = [...got].map(([k, v]) => `${k} ${v.verdict} ${v.detail}`).join('\n');
  assert.deepEqual(actual, want, `probe output:\n${details}`);
}

function every(v: Verdict): Record<Attempt, Verdict> {
  return Object.fromEntries(ATTEMPTS.map((a) => [a, v])) as Record<Attempt, Verdict>;
}

/** An image whose symlinks point out of the rootfs if a mount target were resolved on the host. */
function buildEvilImage(): void {
  const dir = mkdtempSync('/tmp/berth-iso-img-');
  try {
    const tar = join(dir, 'img.tar');
    const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);
    const links: [string, string][] = [['evil', '/etc'], ['evil2', '../../../../../../tmp'], ['evilproc', '/proc'], ['evilsys', '/sys']];
    for (const [name, target] of links) assert.equal(spawnSync('ln', ['-s', target, join(dir, name)]).status, 0);
    const app = spawnSync('tar', ['--numeric-owner', '-rf', tar, '-C', dir, ...links.map(([n]) => n)], { encoding: 'utf8' });
    assert.equal(app.status, 0, app.stderr);
    ok(['import', '--change', 'CMD ["sh"]', tar, 'evil:latest']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the probe ----

describe('the probe', () => {
  test('a default container is refused every attempt', async () => {
    const got = await probe([]);
    assertVerdicts(got, every('BLOCKED'));
    // The runtime processes that entered were there to be attacked: the container may not even resolve
    // their /proc/<pid>/exe (the runtime is not dumpable, the container lacks CAP_SYS_PTRACE).
    assert.match(got.get('exe-write')!.detail, /^EACCES \(.*; [1-9]\d* runtime process(es)? seen entering/);
  });

  test('--privileged lets through all but what the kernel refuses the host too', async () => {
    // Privileged means: every capability the engine holds, no seccomp filter, every host device and the
    // device cgroup open, no masked or read-only /proc paths, /sys and /sys/fs/cgroup writable (docker
    // clears "ro" on both). Some calls then get past every privilege check and fail on this kernel for
    // other reasons (no /dev/mem driver, no module support, CAD_OFF in a child pid namespace, /dev/null is
    // no swap area): the probe counts those as ALLOWED. exe-write stays refused, by the runtime itself: with
    // CAP_SYS_PTRACE the container reaches the entering runtime's exe, but runc 1.1 runs from a read-only
    // bind mount of its binary (EROFS) and crun from a sealed memfd copy of itself, never from the host's
    // file (the next test shows the attempt succeeding against a runtime without that protection).
    const got = await probe(['--privileged']);
    assertVerdicts(got, { ...every('ALLOWED'), 'exe-write': 'BLOCKED' });
    assert.match(got.get('exe-write')!.detail, /^(EROFS|sealed) \(/);
  });

  test('exe-write can succeed: an entering process run from a writable host file is opened for writing', async () => {
    // A stand-in for a runtime without runc's and crun's protection: nsenter joins the container's pid
    // namespace and runs sleep there, both run from copies under the work directory, so what the probe
    // opens for writing is never a binary of the host's own (it writes nothing, and closes it at once).
    const nsenter = join(work, 'fake-nsenter');
    const runtime = join(work, 'fake-runtime');
    copyFileSync('/usr/bin/nsenter', nsenter);
    copyFileSync('/bin/sleep', runtime);
    chmodSync(nsenter, 0o755);
    chmodSync(runtime, 0o755);
    const bytes = readFileSync(runtime);
    const enter = async (name: string): Promise<void> => {
      const pid = ok(['inspect', '-f', '{{.State.Pid}}', name]).stdout.trim();
      const r = await runAsync(nsenter, ['-t', pid, '-p', '--', runtime, '0.3']);
      assert.equal(r.code, 0, `nsenter: ${r.stderr}`);
    };
    const priv = (await probe(['--privileged'], enter)).get('exe-write')!;
    assert.equal(priv.verdict, 'ALLOWED', priv.detail);
    assert.match(priv.detail, new RegExp(`^\\(pid \\d+ \\S+: ${work}/fake-(nsenter|runtime) opened for writing;`));
    assert.deepEqual(readFileSync(runtime), bytes, 'nothing was written');
    // Without CAP_SYS_PTRACE a container cannot resolve the exe of a process holding capabilities it lacks.
    const plain = (await probe([], enter)).get('exe-write')!;
    assert.equal(plain.verdict, 'BLOCKED', plain.detail);
    assert.match(plain.detail, /^EACCES \(/);
  });

  test('--cap-add SYS_ADMIN opens what the capability and the seccomp profile allow together', async () => {
    // docker's profile allows bpf, mount, perf_event_open, umount2 and unshare (among others) only to a
    // container holding CAP_SYS_ADMIN; the kernel then lets CAP_SYS_ADMIN mount, unmount and unshare a
    // mount namespace, create BPF maps (bpf_capable) and open perf events (perfmon_capable), and anyone
    // not chrooted create a user namespace. Everything else stays closed: /proc/sys and the cgroup mount
    // are read-only (a remount is not tried), the masks and the device cgroup hold, finit_module, reboot,
    // settimeofday and ptrace of a non-dumpable process need CAP_SYS_MODULE, _BOOT, _TIME and _PTRACE,
    // open_by_handle_at needs CAP_DAC_READ_SEARCH in the profile, and the profile never allows swapon
    // or add_key (the kernel keyring is not namespaced); nor can the container resolve the exe of the
    // runtime entering it (exe-write: CAP_SYS_PTRACE).
    const open: Attempt[] = ['mount', 'umount', 'unshare-user', 'unshare-mnt', 'bpf', 'perf_event_open'];
    const want = every('BLOCKED');
    for (const a of open) want[a] = 'ALLOWED';
    assertVerdicts(await probe(['--cap-add', 'SYS_ADMIN']), want);
  });
});

// ---- capabilities ----

test('--cap-drop ALL --cap-add CHOWN leaves CAP_CHOWN alone, whatever the spelling', () => {
  const spellings: [string, string][] = [['ALL', 'CHOWN'], ['all', 'cap_chown'], ['All', 'Cap_Chown']];
  for (const [drop, add] of spellings) {
    const out = runOut(['--cap-drop', drop, '--cap-add', add, 'busybox', 'grep', '-E', '^Cap(Eff|Prm|Bnd)', '/proc/self/status']);
    assert.equal(out, 'CapPrm:\t0000000000000001\nCapEff:\t0000000000000001\nCapBnd:\t0000000000000001\n', `${drop} ${add}`);
  }
});

test('--cap-add ALL gives every capability the engine holds, with the seccomp filter still on', () => {
  // The engine's bounding set is its own (this host's root lacks CAP_SYS_RESOURCE); ALL is not --privileged.
  const bnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  const out = runOut(['--cap-add', 'ALL', 'busybox', 'grep', '-E', '^(Cap(Prm|Eff|Bnd)|Seccomp):', '/proc/self/status']);
  assert.equal(out, `CapPrm:\t${bnd}\nCapEff:\t${bnd}\nCapBnd:\t${bnd}\nSeccomp:\t2\n`);
});

test('adding a capability the engine lacks (SYS_RESOURCE) is refused at create', () => {
  refused(['create', '--cap-add', 'SYS_RESOURCE', 'busybox', 'true'], /^Error: .*CAP_SYS_RESOURCE/);
  refused(['run', '--rm', '--cap-add', 'sys_resource', 'busybox', 'true'], /CAP_SYS_RESOURCE/);
  refused(['create', '--cap-add', 'NOT_A_CAP', 'busybox', 'true'], /unknown capability: "CAP_NOT_A_CAP"/);
});

// ---- devices ----

test('--device maps a host device at a new path; a missing device or a bad mode is refused', () => {
  const script = 'ls -l /dev/mynull && echo data > /dev/mynull && echo written';
  const out = runOut(['--device', '/dev/null:/dev/mynull', 'busybox', 'sh', '-c', script]);
  assert.match(out, /^crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* \/dev\/mynull\nwritten\n$/);
  refused(['create', '--device', '/dev/nonexist', 'busybox', 'true'], /"\/dev\/nonexist": no such file or directory/);
  refused(['create', '--device', '/dev/null:/x:rwx', 'busybox', 'true'], /invalid device mode: rwx/);
});

test('--device HOST:CTR:r lets the node be opened for reading and refuses opening it for writing', () => {
  // /dev/loop-control: opening it does nothing (only its ioctls do); the shell's > opens O_WRONLY.
  const script = ': < /dev/lc && echo read-open; : > /dev/lc && echo write-open';
  const r = env.berth(['run', '--rm', '--device', '/dev/loop-control:/dev/lc:r', 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stdout, 'read-open\n');
  assert.match(r.stderr, /can't create '?\/dev\/lc'?: (Operation not permitted|Permission denied)\n$/);
  // The same node with rw: the refusal above was the mode's.
  assert.equal(runOut(['--device', '/dev/loop-control:/dev/lc:rw', 'busybox', 'sh', '-c', script]), 'read-open\nwrite-open\n');
});

test('--device-cgroup-rule allows opening a node the default device cgroup denies', () => {
  // /dev/loop-control: a character device no container may open by default; opening it does nothing.
  const [major, minor] = majorMinor(statSync('/dev/loop-control').rdev);
  const script = `mknod /tmp/node c ${major} ${minor} && : < /tmp/node && echo opened`;
  const denied = env.berth(['run', '--rm', 'busybox', 'sh', '-c', script]);
  assert.notEqual(denied.code, 0, show(denied));
  assert.match(denied.stderr, /can't open '?\/tmp\/node'?: Operation not permitted/);
  assert.equal(runOut(['--device-cgroup-rule', `c ${major}:${minor} rwm`, 'busybox', 'sh', '-c', script]), 'opened\n');
  refused(['create', '--device-cgroup-rule', 'c 1:3', 'busybox', 'true'], /invalid device cgroup rule format: 'c 1:3'/);
});

// ---- seccomp and no-new-privileges ----

test('--security-opt seccomp=<file> loads a docker-format profile; bad or missing files are refused', () => {
  const profile = join(work, 'no-mkdir.json');
  writeFileSync(profile, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
  }));
  const script = 'touch /tmp/f && echo touched; mkdir /tmp/d';
  const r = env.berth(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stdout, 'touched\n');
  assert.match(r.stderr, /can't create directory '\/tmp\/d': Operation not permitted/);

  const bad = join(work, 'bad.json');
  writeFileSync(bad, '{"defaultAction": ');
  refused(['create', '--security-opt', `seccomp=${bad}`, 'busybox', 'true'], /decoding seccomp profile failed/);
  const missing = join(work, 'missing.json');
  refused(['create', '--security-opt', `seccomp=${missing}`, 'busybox', 'true'], /missing\.json.*no such file or directory/);
});

test('seccomp: filtered by default, unconfined on request; no-new-privileges sets NoNewPrivs', () => {
  const status = (flags: string[]) => runOut([...flags, 'busybox', 'grep', '-E', '^(NoNewPrivs|Seccomp):', '/proc/self/status']);
  assert.equal(status([]), 'NoNewPrivs:\t0\nSeccomp:\t2\n');
  assert.equal(status(['--security-opt', 'seccomp=unconfined']), 'NoNewPrivs:\t0\nSeccomp:\t0\n');
  assert.equal(status(['--security-opt', 'no-new-privileges']), 'NoNewPrivs:\t1\nSeccomp:\t2\n');
  assert.equal(status(['--security-opt', 'no-new-privileges=true']), 'NoNewPrivs:\t1\nSeccomp:\t2\n');
});

test('crun gets the seccomp program it compiled for a profile before: the same filter, loaded without compiling', (t) => {
  if (ok(['info', '--format', '{{.DefaultRuntime}}']).stdout.trim() !== 'crun') return t.skip('the default runtime is not crun: only crun loads a ready program');
  rmSync(join(env.root, 'seccomp'), { recursive: true, force: true });
  const annotated = (id: string) => (spec(id) as { annotations?: Record<string, string> }).annotations?.['run.oci.seccomp_bpf_data'];
  const loaded = (id: string) => readFileSync(`/run/crun/${id}/seccomp.bpf`);
  const ids: string[] = [];
  try {
    // The first create of docker's default profile compiles it; the second is handed what the first loaded.
    ids.push(runD(['busybox', 'sleep', '600']), runD(['busybox', 'sleep', '600']));
    const [first, second] = ids as [string, string];
    assert.equal(annotated(first), undefined);
    const program = annotated(second);
    assert.ok(program, 'the second spec carries the compiled program');
    assert.deepEqual(Buffer.from(program, 'base64'), loaded(first));
    assert.deepEqual(loaded(second), loaded(first));
    assert.match(ok(['exec', second, 'grep', 'Seccomp:', '/proc/1/status']).stdout, /Seccomp:\t2/);
    // Another profile is another entry, and what it refuses is refused when its program comes ready-made.
    const profile = join(work, 'no-mkdir-kept.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const mkdir = () => env.berth(['run', '-d', '--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'mkdir /tmp/d; echo $? > /tmp/rc; sleep 600']);
    for (let i = 0; i < 2; i++) {
      const r = mkdir();
      assert.equal(r.code, 0, show(r));
      ids.push(r.stdout.trim());
    }
    const [, , own1, own2] = ids as [string, string, string, string];
    assert.equal(annotated(own1), undefined);
    assert.ok(annotated(own2) && annotated(own2) !== program);
    assert.deepEqual(loaded(own2), loaded(own1));
    for (const id of [own1, own2]) assert.equal(ok(['exec', id, 'sh', '-c', 'while [ ! -e /tmp/rc ]; do sleep 0.05; done; cat /tmp/rc']).stdout, '1\n');
  } finally {
    rmf(...ids);
  }
});

// ---- LSM options (no SELinux or AppArmor on this host: checked in the spec) ----

test('--security-opt label=… goes into the spec; without SELinux here the engine refuses to start it cleanly', () => {
  // config.json is written at start, so the spec is read after a start attempt. The engine refuses a
  // label when SELinux is off, whatever the runtime (runc would name SELinux, crun only a failed write);
  // docker instead ignores label options on such a host, so on a non-SELinux host this container never runs.
  const labels = ['--security-opt', 'label=level:s0:c1,c2', '--security-opt', 'label=type:spc_t'];
  const id = ok(['create', ...labels, 'busybox', 'true']).stdout.trim();
  try {
    const start = env.berth(['start', id]);
    const s = spec(id);
    assert.equal(s.process.selinuxLabel, 'system_u:system_r:spc_t:s0:c1,c2');
    assert.equal(s.linux.mountLabel, 'system_u:object_r:container_file_t:s0:c1,c2');
    if (!existsSync('/sys/fs/selinux/enforce')) {
      assert.notEqual(start.code, 0, show(start));
      assert.match(start.stderr, /selinux/i);
    }
  } finally {
    rmf(id);
  }
  assert.deepEqual(leaksUnder(env.root), []);
  if (!existsSync('/sys/fs/selinux/enforce')) {
    refused(['run', '--rm', '--security-opt', 'label=type:spc_t', 'busybox', 'true'], /selinux/i, undefined);
  }
  // label=disable asks for no labels at all: the container runs.
  assert.equal(runOut(['--security-opt', 'label=disable', 'busybox', 'echo', 'ran']), 'ran\n');
});

test('--security-opt apparmor=<profile> reaches the spec; without AppArmor the start fails cleanly', () => {
  const enabled = '/sys/module/apparmor/parameters/enabled';
  const apparmor = existsSync(enabled) && readFileSync(enabled, 'utf8').startsWith('Y');
  const id = ok(['create', '--security-opt', 'apparmor=berth-test-profile', 'busybox', 'true']).stdout.trim();
  try {
    const start = env.berth(['start', id]);
    assert.equal(spec(id).process.apparmorProfile, 'berth-test-profile');
    if (!apparmor) {
      assert.notEqual(start.code, 0, show(start));
      assert.match(start.stderr, /apparmor/i);
    }
  } finally {
    rmf(id);
  }
  assert.deepEqual(leaksUnder(env.root), []);
  if (!apparmor) {
    // runc: "unable to apply apparmor profile"; crun: "AppArmor is not initialized correctly".
    refused(['run', '--rm', '--security-opt', 'apparmor=berth-test-profile', 'busybox', 'true'], /apparmor/i, undefined);
  }
});

// ---- masked and read-only paths ----

test('the /proc and /sys paths docker masks are masked by default; systempaths=unconfined unmasks them', () => {
  // docker's list; only those this kernel has can be masked (this one has no /proc/kcore, for one).
  const candidates = ['/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
    '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
  const present = candidates.filter((p) => existsSync(p));
  assert.ok(present.length > 0);
  const mountPoints = (flags: string[]) =>
    new Set(runOut([...flags, 'busybox', 'cat', '/proc/self/mountinfo']).split('\n').map((l) => l.split(' ')[4]));
  const byDefault = mountPoints([]);
  assert.deepEqual(present.filter((p) => !byDefault.has(p)), [], 'every present path is covered');
  assert.ok(byDefault.has('/proc/sys'), '/proc/sys is bound read-only');
  const unconfined = mountPoints(['--security-opt', 'systempaths=unconfined']);
  assert.deepEqual(present.filter((p) => unconfined.has(p)), []);
  assert.ok(!unconfined.has('/proc/sys'));
  // A masked file reads empty (it is /dev/null); unmasked, it has the kernel's content.
  const file = ['/proc/kcore', '/proc/timer_list', '/proc/keys'].find((p) => present.includes(p))!;
  assert.equal(runOut(['busybox', 'sh', '-c', `head -c 16 ${file} | wc -c`]).trim(), '0');
  assert.equal(runOut(['--security-opt', 'systempaths=unconfined', 'busybox', 'sh', '-c', `head -c 16 ${file} | wc -c`]).trim(), '16');
});

// ---- sysctls ----

test('--sysctl sets namespaced sysctls; host-wide ones and net.* in the host network are refused', () => {
  const out = runOut(['--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789', 'busybox', 'cat',
    '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmax']);
  assert.equal(out, '1\n123456789\n');
  assert.notEqual(readFileSync('/proc/sys/kernel/shmmax', 'utf8'), '123456789\n', 'the host keeps its own value');
  refused(['create', '--sysctl', 'kernel.panic=1', 'busybox', 'true'], /sysctl 'kernel.panic' is not allowed/);
  refused(['create', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'],
    /not allowed in host network namespace/);
  for (const name of ['kernel.shmmax', 'kernel.msgmax', 'kernel.sem', 'fs.mqueue.msg_max']) {
    refused(['create', '--ipc', 'host', '--sysctl', `${name}=1`, 'busybox', 'true'], new RegExp(`^Error: sysctl '${name}' is not allowed in host IPC namespace\n$`));
  }
  for (const name of ['kernel.domainname', 'kernel.hostname']) {
    refused(['create', '--uts', 'host', '--sysctl', `${name}=x`, 'busybox', 'true'], new RegExp(`^Error: sysctl '${name}' is not allowed in host UTS namespace\n$`));
  }
});

// ---- namespaces ----

describe('shared namespaces', () => {
  let owner = '';
  before(() => {
    owner = runD(['--name', 'iso-owner', '--ipc', 'shareable', 'busybox', 'sh', '-c', 'echo hi > /dev/shm/from-owner && exec sleep 300']);
    ok(['exec', owner, 'sh', '-c', 'for i in $(seq 100); do [ -f /dev/shm/from-owner ] && exit 0; sleep 0.05; done; exit 1']);
  });
  after(() => {
    if (owner) rmf(owner);
  });
  const nsOf = (id: string, ns: string) => ok(['exec', id, 'readlink', `/proc/self/ns/${ns}`]).stdout.trim();

  test('--pid container:<a> sees a\'s processes', () => {
    const out = runOut(['--pid', 'container:iso-owner', 'busybox', 'ps', '-o', 'pid,args']);
    assert.match(out, /^\s*1 sleep 300$/m);
  });

  test('--ipc container:<a> shares a\'s IPC namespace and /dev/shm', () => {
    try {
      const id = runD(['--name', 'iso-ipc', '--ipc', 'container:iso-owner', 'busybox', 'sleep', '300']);
      assert.equal(nsOf(id, 'ipc'), nsOf(owner, 'ipc'));
      assert.equal(ok(['exec', id, 'cat', '/dev/shm/from-owner']).stdout, 'hi\n');
    } finally {
      env.berth(['rm', '-f', 'iso-ipc']);
    }
    // As docker: only a container made shareable can be joined.
    const plain = runD(['busybox', 'sleep', '300']);
    try {
      const r = env.berth(['run', '--rm', '--ipc', `container:${plain}`, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /is not shareable \(create it with --ipc shareable\)/);
    } finally {
      rmf(plain);
    }
  });

  test('--network container:<a> joins a\'s network namespace', () => {
    const id = runD(['--network', 'container:iso-owner', 'busybox', 'sleep', '300']);
    const other = runD(['busybox', 'sleep', '300']);
    try {
      assert.equal(nsOf(id, 'net'), nsOf(owner, 'net'));
      assert.notEqual(nsOf(other, 'net'), nsOf(owner, 'net'));
    } finally {
      rmf(id, other);
    }
  });

  test('sysctls of a namespace joined from another container (or by path) are refused', () => {
    // The sysctl would be written into the owner's namespace, behind its back.
    const forward = () => ok(['exec', owner, 'cat', '/proc/sys/net/ipv4/ip_forward']).stdout;
    const shmmax = () => ok(['exec', owner, 'cat', '/proc/sys/kernel/shmmax']).stdout;
    const before = [forward(), shmmax()];
    const line = (flag: string, name: string, ns: string) =>
      new RegExp(`^Error: sysctl '${name}' is not allowed: ${flag} container:${owner.slice(0, 12)} shares that container's ${ns} namespace, and the sysctl would change it there\n$`);
    refused(['create', '--network', 'container:iso-owner', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'],
      line('--network', 'net.ipv4.ip_forward', 'network'));
    refused(['run', '--rm', '--network', `container:${owner}`, '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'],
      line('--network', 'net.ipv4.ip_forward', 'network'));
    for (const name of ['kernel.shmmax', 'kernel.msgmnb', 'kernel.sem', 'fs.mqueue.msg_max']) {
      refused(['create', '--ipc', 'container:iso-owner', '--sysctl', `${name}=1`, 'busybox', 'true'], line('--ipc', name, 'IPC'));
    }
    const pid = ok(['inspect', '-f', '{{.State.Pid}}', owner]).stdout.trim();
    refused(['create', '--network', `ns:/proc/${pid}/ns/net`, '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'],
      new RegExp(`^Error: sysctl 'net.ipv4.ip_forward' is not allowed: --network ns:/proc/${pid}/ns/net joins a network namespace Berth did not make`));
    assert.deepEqual([forward(), shmmax()], before, 'the owner keeps its values');
    // A sysctl of a namespace the joiner has to itself is still set.
    assert.equal(runOut(['--network', 'container:iso-owner', '--sysctl', 'kernel.shmmax=123456', 'busybox', 'cat', '/proc/sys/kernel/shmmax']), '123456\n');
    assert.deepEqual([forward(), shmmax()], before);
  });

  test('joining a container that is not running is refused', () => {
    const stopped = ok(['create', '--name', 'iso-stopped', 'busybox', 'true']).stdout.trim();
    try {
      refused(['run', '--rm', '--pid', 'container:iso-stopped', 'busybox', 'true'], /not running/, undefined);
      refused(['create', '--network', 'container:iso-nonexistent', 'busybox', 'true'], /no such container/i, undefined);
    } finally {
      rmf(stopped);
    }
  });
});

test('--pid host and --ipc host are the host\'s namespaces; the host\'s /dev/shm comes with --ipc host', () => {
  const host = (ns: string) => readlinkSync(`/proc/self/ns/${ns}`);
  const pid = runOut(['--pid', 'host', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/pid; cat /proc/1/comm; echo $$']).split('\n');
  assert.equal(pid[0], host('pid'));
  assert.equal(pid[1], readFileSync('/proc/1/comm', 'utf8').trim(), 'pid 1 is the host\'s init');
  assert.notEqual(pid[2], '1');
  const own = runOut(['busybox', 'sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; echo $$']).split('\n');
  assert.notEqual(own[0], host('pid'));
  assert.notEqual(own[1], host('ipc'));
  assert.equal(own[2], '1');
  const token = `berth-iso-${process.pid}`;
  writeFileSync(`/dev/shm/${token}`, 'from the host\n');
  try {
    const script = `readlink /proc/self/ns/ipc; cat /dev/shm/${token}`;
    assert.equal(runOut(['--ipc', 'host', 'busybox', 'sh', '-c', script]), `${host('ipc')}\nfrom the host\n`);
    const r = env.berth(['run', '--rm', 'busybox', 'sh', '-c', script]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /No such file or directory/);
  } finally {
    rmSync(`/dev/shm/${token}`, { force: true });
  }
});

test('--uts host shows the host\'s hostname; --hostname with it is refused', () => {
  assert.equal(runOut(['--uts', 'host', 'busybox', 'hostname']), `${hostname()}\n`);
  refused(['create', '--hostname', 'x', '--uts', 'host', 'busybox', 'true'], /conflicting options: hostname and the UTS mode/);
});

test('--cgroupns private gives a cgroup namespace of its own; host shares the host\'s', () => {
  const host = readlinkSync('/proc/self/ns/cgroup');
  const priv = runOut(['--cgroupns', 'private', 'busybox', 'readlink', '/proc/self/ns/cgroup']).trim();
  assert.match(priv, /^cgroup:\[\d+\]$/);
  assert.notEqual(priv, host);
  assert.equal(runOut(['--cgroupns', 'host', 'busybox', 'readlink', '/proc/self/ns/cgroup']).trim(), host);
  refused(['create', '--cgroupns', 'sideways', 'busybox', 'true'], /invalid --cgroupns mode/);
});

// ---- /dev/shm, groups, read-only root, init ----

test('--shm-size 1m gives a 1024 KiB /dev/shm', () => {
  const out = runOut(['--shm-size', '1m', 'busybox', 'df', '-k', '/dev/shm']);
  assert.match(out.split('\n')[1]!, /^shm\s+1024\s+0\s+1024\s/);
});

test('--group-add by number and by name adds supplementary groups', () => {
  const out = runOut(['--group-add', '10', '--group-add', 'daemon', 'busybox', 'sh', '-c', 'id; grep ^Groups: /proc/self/status']);
  assert.match(out, /^uid=0\(root\) gid=0\(root\) groups=.*\b1\(daemon\)/);
  assert.match(out, /groups=.*\b10\(wheel\)/);
  const groups = /^Groups:\s*(.*)$/m.exec(out)![1]!.trim().split(/\s+/);
  assert.ok(groups.includes('1') && groups.includes('10'), out);
});

test('--read-only makes / read-only while a --tmpfs /run stays writable', () => {
  const r = env.berth(['run', '--rm', '--read-only', '--tmpfs', '/run', 'busybox', 'sh', '-c',
    'touch /run/ok && echo run-writable; grep " / " /proc/mounts | cut -d" " -f4 | cut -d, -f1; touch /etc/no']);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stdout, 'run-writable\nro\n');
  assert.match(r.stderr, /touch: \/etc\/no: Read-only file system/);
});

test('--init runs catatonit or tini as pid 1 with the command as its child', () => {
  const out = runOut(['--init', 'busybox', 'sh', '-c', 'ps -o pid,ppid,args; /proc/1/exe --version']);
  const lines = out.split('\n');
  assert.match(lines[1]!, /^\s*1\s+0\s+\S+ -- sh -c /, out);
  assert.match(out, /^\s*\d+\s+1\s+(\{ps\} )?(sh|ps)\b/m, 'the command runs as a child of pid 1');
  assert.match(out, /catatonit|tini/);
});

// ---- privileged ----

test('--privileged sees host devices and a writable /sys', () => {
  const [rmaj, rmin] = majorMinor(statSync('/').dev);
  const [lmaj, lmin] = majorMinor(statSync('/dev/loop-control').rdev);
  const root = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${rmaj}:${rmin}/uevent`, 'utf8'))![1]!;
  const out = runOut(['--privileged', 'busybox', 'sh', '-c', `ls -l /dev/loop-control /dev/${root}; grep -E "^sysfs /sys " /proc/mounts`]);
  assert.match(out, new RegExp(`^c\\S+\\s+1 root\\s+root\\s+${lmaj},\\s+${lmin} .* /dev/loop-control$`, 'm'));
  assert.match(out, new RegExp(`^b\\S+\\s+1 root\\s+root\\s+${rmaj},\\s+${rmin} .* /dev/${root}$`, 'm'));
  assert.match(out, /^sysfs \/sys sysfs rw,/m);
  // Without --privileged, neither device is there and /sys is read-only.
  const plain = runOut(['busybox', 'sh', '-c', `ls /dev/loop-control /dev/${root} 2>&1; grep -E "^sysfs /sys " /proc/mounts`]);
  assert.match(plain, /No such file or directory[\s\S]*No such file or directory/);
  assert.match(plain, /^sysfs \/sys sysfs ro,/m);
});

test('inspect reports the isolation options given', () => {
  const id = ok(['create', '--privileged', '--cap-add', 'NET_ADMIN', '--security-opt', 'no-new-privileges', '--shm-size', '1m',
    '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true']).stdout.trim();
  try {
    const hc = JSON.parse(ok(['inspect', id]).stdout)[0].HostConfig as Record<string, unknown>;
    assert.deepEqual(
      { Privileged: hc.Privileged, CapAdd: hc.CapAdd, SecurityOpt: hc.SecurityOpt, ShmSize: hc.ShmSize, Sysctls: hc.Sysctls },
      {
        Privileged: true, CapAdd: ['NET_ADMIN'], SecurityOpt: ['no-new-privileges'], ShmSize: 1048576,
        Sysctls: { 'net.ipv4.ip_forward': '1' },
      },
    );
  } finally {
    rmf(id);
  }
});

// ---- mount safety ----

test('mount targets through image symlinks stay inside the rootfs, never on the host', () => {
  const token = `berth-evil-${process.pid}`;
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'f'), 'from the host dir\n');
  const etcBefore = readdirSync('/etc').sort();
  // /evil -> /etc (absolute) and /evil2 -> ../../../../../../tmp (climbing) resolve inside the rootfs.
  assert.equal(runOut(['-v', `${src}:/evil/${token}`, 'evil', 'cat', `/etc/${token}/f`]), 'from the host dir\n');
  assert.equal(runOut(['-v', `${src}:/evil2/${token}`, 'evil', 'cat', `/tmp/${token}/f`]), 'from the host dir\n');
  assert.equal(runOut(['--tmpfs', `/evil/${token}-t`, 'evil', 'sh', '-c', `grep -c " /etc/${token}-t " /proc/mounts`]), '1\n');
  assert.equal(runOut(['-v', `${token}-vol:/evil2/${token}-v`, 'evil', 'sh', '-c', `echo x > /tmp/${token}-v/x && echo ok`]), 'ok\n');
  assert.deepEqual(readdirSync('/etc').sort(), etcBefore, 'nothing new in the host\'s /etc');
  assert.deepEqual(readdirSync('/tmp').filter((n) => n.includes(token)), [], 'nothing new in the host\'s /tmp');
  assert.deepEqual(readdirSync(src), ['f'], 'the bind source is untouched');
  ok(['volume', 'rm', `${token}-vol`]);
});

test('mounts on /proc or /sys are refused, directly or through an image symlink', () => {
  const src = join(work, 'src2');
  mkdirSync(src, { recursive: true });
  refused(['create', '-v', `${src}:/proc/foo`, 'busybox', 'true'], /\/proc\/foo/);
  refused(['create', '--tmpfs', '/sys/x', 'busybox', 'true'], /\/sys\/x/);
  refused(['create', '--mount', `type=bind,src=${src},dst=/proc/sys/kernel`, 'busybox', 'true'], /\/proc\/sys\/kernel/);
  // Through a symlink only the runtime sees the real target and refuses it at start: runc because it is
  // inside /proc, crun because it cannot make the mount point in the proc file system it resolves to.
  refused(['run', '--rm', '-v', `${src}:/evilproc/foo`, 'evil', 'true'], /inside \/proc|mkdir `\/evilproc\/foo`/, undefined);
  refused(['run', '--rm', '--tmpfs', '/evilsys/x', 'evil', 'true'], /\/sys\/x|read-only file system|mkdir `\/evilsys\/x`/, undefined);
});

test('--ipc, --uts and --pid ns:<path> join a namespace named by its file, as --network ns: does', () => {
  const dir = mkdtempSync('/tmp/berth-test-nsfiles-');
  const [uts, ipc] = [join(dir, 'uts'), join(dir, 'ipc')];
  try {
    writeFileSync(uts, '');
    writeFileSync(ipc, '');
    const pinned = spawnSync('unshare', [`--uts=${uts}`, `--ipc=${ipc}`, 'hostname', 'from-a-file'], { encoding: 'utf8' });
    assert.equal(pinned.status, 0, pinned.stderr);
    const ipcInode = `ipc:[${statSync(ipc).ino}]`;
    assert.equal(runOut(['--uts', `ns:${uts}`, '--ipc', `ns:${ipc}`, 'busybox', 'sh', '-c', 'hostname; readlink /proc/self/ns/ipc']), `from-a-file\n${ipcInode}\n`);
    refused(['run', '--rm', '--ipc', 'ns:/etc/hostname', 'busybox', 'true'], /invalid --ipc ns:\/etc\/hostname: \/etc\/hostname is not an IPC namespace/);
    refused(['run', '--rm', '--uts', 'ns:relative', 'busybox', 'true'], /invalid --uts ns:relative: relative is not a UTS namespace/);
    refused(['run', '--rm', '--uts', `ns:${uts}`, '--hostname', 'x', 'busybox', 'true'], /conflicting options: hostname and the UTS mode/);
  } finally {
    for (const f of [uts, ipc]) spawnSync('umount', [f]);
    rmSync(dir, { recursive: true, force: true });
  }
});
