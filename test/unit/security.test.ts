import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgument } from '../../src/errors.ts';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, tweakCapabilities } from '../../src/runtime/spec/capabilities.ts';
import {
  deviceMappingRule,
  parseDevice,
  parseDeviceCgroupRule,
  privilegedDeviceRules,
  privilegedDevices,
} from '../../src/runtime/spec/devices.ts';
import {
  defaultSeccomp,
  loadSeccompProfile,
  nativeArch,
  readSeccompProfile,
  type OciSeccomp,
} from '../../src/runtime/spec/seccomp.ts';
import { parseSecurityOpts, randomMcsLevel, selinuxLabels } from '../../src/runtime/spec/security-opt.ts';
import { sysctlNamespace, validateSysctls } from '../../src/runtime/spec/sysctl.ts';
import {
  autoMappings,
  parseSubIds,
  parseUserns,
  readSubIdFiles,
  remapMappings,
} from '../../src/runtime/spec/userns.ts';

/** Assert an InvalidArgument with exactly this message (or matching this pattern). */
const invalid = (message: string | RegExp) => (e: unknown) => {
  assert.ok(e instanceof InvalidArgument, `expected InvalidArgument, got ${String(e)}`);
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
};

// ---------------------------------------------------------------- seccomp

const allowed = (p: OciSeccomp) =>
  new Set(p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
const rulesFor = (p: OciSeccomp, name: string) => p.syscalls.filter((r) => r.names.includes(name));

test('default seccomp: EPERM by default, x86_64 and aarch64 architecture sets', () => {
  const p = defaultSeccomp(DEFAULT_CAPABILITIES, 'x64', '6.1.0');
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(defaultSeccomp([], 'arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(defaultSeccomp([], 'mips').architectures, []);
  assert.equal(nativeArch('x64'), 'amd64');
  assert.equal(nativeArch('s390x'), 's390x');
});

test('default seccomp: a large allow-list, no name twice within a rule set', () => {
  const p = defaultSeccomp(DEFAULT_CAPABILITIES, 'x64', '6.1.0');
  const names = allowed(p);
  assert.ok(names.size > 300, `only ${names.size} names`);
  for (const n of ['read', 'write', 'execve', 'openat', 'exit_group', 'futex', 'chroot', 'arch_prctl']) {
    assert.ok(names.has(n), `${n} missing`);
  }
  for (const r of p.syscalls) assert.equal(new Set(r.names).size, r.names.length, `duplicate in ${r.names[0]}`);
  const plain = p.syscalls.filter((r) => !r.args && r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
  assert.equal(new Set(plain).size, plain.length);
});

test('default seccomp: capability-gated syscalls follow the bounding set', () => {
  const base = allowed(defaultSeccomp(DEFAULT_CAPABILITIES, 'x64', '6.1.0'));
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'reboot', 'init_module', 'acct', 'kcmp', 'iopl',
    'settimeofday', 'vhangup', 'mbind', 'syslog', 'perf_event_open', 'open_by_handle_at']) {
    assert.ok(!base.has(n), `${n} allowed by default`);
  }
  const admin = allowed(defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], 'x64', '6.1.0'));
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'fanotify_init', 'clone', 'clone3']) assert.ok(admin.has(n), n);
  const gated: [string, string[]][] = [
    ['CAP_SYS_BOOT', ['reboot']], ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
    ['CAP_SYS_PACCT', ['acct']], ['CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_vm_readv', 'ptrace']],
    ['CAP_SYS_RAWIO', ['iopl', 'ioperm']], ['CAP_SYS_TIME', ['settimeofday', 'stime', 'clock_settime', 'clock_settime64']],
    ['CAP_SYS_TTY_CONFIG', ['vhangup']], ['CAP_SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy']],
    ['CAP_SYSLOG', ['syslog']], ['CAP_BPF', ['bpf']], ['CAP_PERFMON', ['perf_event_open']],
    ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
  ];
  for (const [cap, names] of gated) {
    const got = allowed(defaultSeccomp([cap], 'x64', '6.1.0'));
    for (const n of names) assert.ok(got.has(n), `${n} with ${cap}`);
  }
  assert.ok(!allowed(defaultSeccomp([], 'x64', '6.1.0')).has('chroot'));
});

test('default seccomp: ptrace without CAP_SYS_PTRACE only from kernel 4.8', () => {
  assert.ok(allowed(defaultSeccomp([], 'x64', '4.8.0')).has('ptrace'));
  assert.ok(allowed(defaultSeccomp([], 'x64', '5.15.0-91-generic')).has('process_vm_readv'));
  assert.ok(!allowed(defaultSeccomp([], 'x64', '4.4.0')).has('ptrace'));
});

test('default seccomp: personality, clone and clone3 rules', () => {
  const p = defaultSeccomp(DEFAULT_CAPABILITIES, 'x64', '6.1.0');
  const personality = rulesFor(p, 'personality').map((r) => r.args);
  assert.deepEqual(
    personality,
    [0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((value) => [{ index: 0, value, op: 'SCMP_CMP_EQ' }]),
  );
  assert.deepEqual(rulesFor(p, 'clone'), [
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }] },
  ]);
  assert.deepEqual(rulesFor(p, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  assert.equal(rulesFor(defaultSeccomp([], 's390x', '6.1.0'), 'clone')[0]!.args![0]!.index, 1);

  const admin = defaultSeccomp(['CAP_SYS_ADMIN'], 'x64', '6.1.0');
  assert.deepEqual(rulesFor(admin, 'clone').map((r) => r.action), ['SCMP_ACT_ALLOW']);
  assert.ok(rulesFor(admin, 'clone').every((r) => !r.args));
  assert.ok(rulesFor(admin, 'clone3').every((r) => r.action === 'SCMP_ACT_ALLOW'));
});

test('default seccomp: arch-only syscalls', () => {
  assert.ok(allowed(defaultSeccomp([], 'x64')).has('arch_prctl'));
  assert.ok(!allowed(defaultSeccomp([], 'arm64')).has('arch_prctl'));
  assert.ok(allowed(defaultSeccomp([], 'arm64')).has('set_tls'));
});

const SAMPLE = JSON.stringify({
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
    { name: 'getpid', action: 'SCMP_ACT_ALLOW', comment: 'legacy single name' },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { names: ['old'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.0' } },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
  ],
});

test('loadSeccompProfile applies includes/excludes for caps, arch and kernel', () => {
  const p = loadSeccompProfile(SAMPLE, DEFAULT_CAPABILITIES, 'x64', '6.1.0')!;
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(p.syscalls, [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
    { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW' },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW' },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
  ]);
  const arm = loadSeccompProfile(SAMPLE, ['CAP_SYS_ADMIN'], 'arm64', '4.4.0')!;
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(arm.syscalls.map((r) => r.names[0]), ['read', 'getpid', 'mount', 'old', 'personality']);
});

test('loadSeccompProfile: plain architectures, pass-through fields, empty profile', () => {
  const p = loadSeccompProfile(
    JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' }] }),
    [], 'x64',
  )!;
  assert.deepEqual(p, {
    defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [{ names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' }],
  });
  assert.equal(loadSeccompProfile('{}', [], 'x64'), undefined);
});

test('loadSeccompProfile errors are one-line InvalidArguments', () => {
  const load = (j: string) => () => loadSeccompProfile(j, [], 'x64', '6.1');
  assert.throws(load('{"defaultAction":'), invalid(/^decoding seccomp profile failed: [^\n]+$/));
  assert.throws(load('[]'), invalid('decoding seccomp profile failed: the profile must be a JSON object'));
  assert.throws(load('{"defaultAction":"SCMP_ACT_NOPE"}'), invalid('decoding seccomp profile failed: unknown action "SCMP_ACT_NOPE"'));
  assert.throws(
    load('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}'),
    invalid('decoding seccomp profile failed: unknown operator "SCMP_CMP_XX"'),
  );
  assert.throws(
    load('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}'),
    invalid(/both 'name' and 'names' are specified/),
  );
  assert.throws(
    load('{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}'),
    invalid(/both 'architectures' and 'archMap' are specified/),
  );
  assert.throws(
    load('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4"}}]}'),
    invalid('decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>"'),
  );
});

test('readSeccompProfile: docker\'s message for an unreadable file', () => {
  assert.throws(
    () => readSeccompProfile('/nonexistent/p.json'),
    invalid('opening seccomp profile (/nonexistent/p.json) failed: open /nonexistent/p.json: no such file or directory'),
  );
  const dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  try {
    writeFileSync(join(dir, 'p.json'), SAMPLE);
    assert.equal(readSeccompProfile(join(dir, 'p.json')), SAMPLE);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- capabilities

test('tweakCapabilities: add and drop, any case, with or without CAP_', () => {
  const held = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
  const got = tweakCapabilities(DEFAULT_CAPABILITIES, ['sys_admin', 'Cap_Net_Admin'], ['NET_RAW', 'cap_mknod'], held);
  assert.ok(got.includes('CAP_SYS_ADMIN') && got.includes('CAP_NET_ADMIN'));
  assert.ok(!got.includes('CAP_NET_RAW') && !got.includes('CAP_MKNOD'));
  assert.equal(got.length, DEFAULT_CAPABILITIES.length);
  assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, ['CHOWN'], [], held), [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, [], ['CAP_SYS_RESOURCE'], held), [...DEFAULT_CAPABILITIES]);
});

test('tweakCapabilities: ALL', () => {
  const held = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'];
  assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, ['all'], [], held), held);
  assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, ['ALL'], ['kill'], held), ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, ['chown'], ['ALL'], held), ['CAP_CHOWN']);
  assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, [], ['all'], held), []);
});

test('tweakCapabilities: unknown names and capabilities the engine lacks', () => {
  assert.throws(() => tweakCapabilities([], ['foo'], [], ALL_CAPABILITIES), invalid('unknown capability: "CAP_FOO"'));
  assert.throws(() => tweakCapabilities([], [], ['CAP_BAR'], ALL_CAPABILITIES), invalid('unknown capability: "CAP_BAR"'));
  assert.throws(
    () => tweakCapabilities([], ['sys_resource'], [], ['CAP_CHOWN']),
    invalid('capability not available in the current environment: "CAP_SYS_RESOURCE" (the engine\'s bounding set lacks it)'),
  );
});

// ---------------------------------------------------------------- devices

test('parseDevice: host path only, with container path, with permissions', () => {
  const [d] = parseDevice('/dev/null');
  assert.deepEqual({ ...d, fileMode: undefined, uid: undefined, gid: undefined }, {
    hostPath: '/dev/null', path: '/dev/null', type: 'c', major: 1, minor: 3, access: 'rwm',
    fileMode: undefined, uid: undefined, gid: undefined,
  });
  assert.equal(typeof d!.fileMode, 'number');
  assert.deepEqual(parseDevice('/dev/zero:/dev/nothing').map((x) => [x.path, x.major, x.minor, x.access]), [['/dev/nothing', 1, 5, 'rwm']]);
  assert.deepEqual(parseDevice('/dev/zero:r').map((x) => [x.path, x.access]), [['/dev/zero', 'r']]);
  assert.deepEqual(parseDevice('/dev/zero:/dev/z:rw').map((x) => [x.path, x.access]), [['/dev/z', 'rw']]);
  assert.deepEqual(deviceMappingRule(parseDevice('/dev/zero:mr')[0]!), { allow: true, type: 'c', major: 1, minor: 5, access: 'mr' });
});

test('parseDevice: symlinks resolve, directories map every device beneath', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dev-'));
  try {
    symlinkSync('/dev/null', join(dir, 'nul'));
    assert.deepEqual(parseDevice(`${join(dir, 'nul')}:/dev/n`).map((x) => [x.hostPath, x.path]), [['/dev/null', '/dev/n']]);
    writeFileSync(join(dir, 'plain'), '');
    assert.throws(
      () => parseDevice(dir),
      invalid(`error gathering device information while adding custom device "${dir}": not a device node`),
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
  const all = parseDevice('/dev:/hostdev:r');
  assert.ok(all.length > 3);
  assert.ok(all.every((x) => x.path === x.hostPath.replace(/^\/dev/, '/hostdev') && x.access === 'r'));
  assert.ok(all.some((x) => x.hostPath === '/dev/null'));
});

test('parseDevice errors', () => {
  assert.throws(
    () => parseDevice('/dev/nosuchdevice'),
    invalid('error gathering device information while adding custom device "/dev/nosuchdevice": no such file or directory'),
  );
  assert.throws(() => parseDevice('/dev/null:rwx'), invalid('invalid device mode: rwx'));
  assert.throws(() => parseDevice('/dev/null:/dev/n:rwx'), invalid('invalid device mode: rwx'));
  assert.throws(() => parseDevice('/dev/null:/dev/n:rr'), invalid('invalid device mode: rr'));
  assert.throws(() => parseDevice('/dev/null:/a:rw:x'), invalid('invalid device specification: /dev/null:/a:rw:x'));
  assert.throws(() => parseDevice('null'), invalid('invalid device specification: null: null is not an absolute path'));
  assert.throws(
    () => parseDevice('/etc/hostname'),
    invalid('error gathering device information while adding custom device "/etc/hostname": not a device node'),
  );
});

test('parseDeviceCgroupRule', () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('b *:* m'), { allow: true, type: 'b', access: 'm' });
  assert.deepEqual(parseDeviceCgroupRule('c 42:* r'), { allow: true, type: 'c', major: 42, access: 'r' });
  assert.deepEqual(parseDeviceCgroupRule('a'), { allow: true, type: 'a', access: 'rwm' });
  for (const bad of ['c 1:3', 'x 1:3 rwm', 'c 1-3 rwm', 'c 1:3 rwx', 'c  1:3 r', '']) {
    assert.throws(() => parseDeviceCgroupRule(bad), invalid(`invalid device cgroup rule format: '${bad}'`));
  }
});

test('privilegedDevices: host device nodes without pts, shm, console', () => {
  const devs = privilegedDevices();
  const paths = devs.map((d) => d.path);
  assert.ok(paths.includes('/dev/null') && paths.includes('/dev/zero'));
  assert.ok(!paths.includes('/dev/console'));
  assert.ok(paths.every((p) => !p.startsWith('/dev/pts/') && !p.startsWith('/dev/shm/')));
  assert.ok(devs.every((d) => d.type === 'c' || d.type === 'b'));
  assert.deepEqual(privilegedDeviceRules(), [{ allow: true, access: 'rwm' }]);
});

// ---------------------------------------------------------------- sysctl

test('validateSysctls: namespaced sysctls pass', () => {
  const ok = { 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '20', 'net.ipv4.ip_forward': '1', 'kernel.domainname': 'x.y' };
  assert.deepEqual(validateSysctls(ok), ok);
  assert.equal(sysctlNamespace('kernel.sem'), 'IPC');
  assert.equal(sysctlNamespace('net.core.somaxconn'), 'network');
  assert.equal(sysctlNamespace('kernel.pid_max'), undefined);
});

test('validateSysctls: refusals', () => {
  assert.throws(() => validateSysctls({ 'kernel.pid_max': '1' }), invalid("sysctl 'kernel.pid_max' is not allowed: it is not namespaced"));
  assert.throws(() => validateSysctls({ 'vm.swappiness': '1' }), invalid("sysctl 'vm.swappiness' is not allowed: it is not namespaced"));
  assert.throws(
    () => validateSysctls({ 'net.ipv4.ip_forward': '1' }, { hostNetwork: true }),
    invalid("sysctl 'net.ipv4.ip_forward' is not allowed in host network namespace"),
  );
  assert.throws(
    () => validateSysctls({ 'fs.mqueue.msg_max': '1' }, { hostIpc: true }),
    invalid("sysctl 'fs.mqueue.msg_max' is not allowed in host IPC namespace"),
  );
  assert.throws(
    () => validateSysctls({ 'kernel.domainname': 'x' }, { hostUts: true }),
    invalid("sysctl 'kernel.domainname' is not allowed in host UTS namespace"),
  );
  assert.throws(() => validateSysctls({ 'kernel.hostname': 'x' }), invalid("sysctl 'kernel.hostname' is not allowed: set the hostname with --hostname"));
  assert.deepEqual(validateSysctls({ 'kernel.shmmax': '1' }, { hostNetwork: true }), { 'kernel.shmmax': '1' });
});

// ---------------------------------------------------------------- security-opt

test('parseSecurityOpts: docker and podman options, = and legacy :', () => {
  assert.deepEqual(parseSecurityOpts([]), { noNewPrivileges: false });
  assert.deepEqual(parseSecurityOpts(['seccomp=unconfined', 'apparmor=unconfined', 'no-new-privileges']), {
    seccomp: 'unconfined', apparmor: 'unconfined', noNewPrivileges: true,
  });
  assert.deepEqual(parseSecurityOpts(['seccomp:/etc/p.json', 'no-new-privileges:true']), {
    seccomp: { file: '/etc/p.json' }, noNewPrivileges: true,
  });
  assert.deepEqual(parseSecurityOpts(['seccomp=unconfined', 'seccomp=builtin', 'no-new-privileges=false']), { noNewPrivileges: false });
  assert.deepEqual(
    parseSecurityOpts(['label=user:u', 'label=role:r', 'label=type:spc_t', 'label=level:s0:c1,c2', 'label:filetype:f_t', 'label=nested']),
    { noNewPrivileges: false, label: { user: 'u', role: 'r', type: 'spc_t', level: 's0:c1,c2', filetype: 'f_t', nested: true } },
  );
  assert.deepEqual(parseSecurityOpts(['label=disable']).label, { disable: true });
  assert.deepEqual(parseSecurityOpts(['disable']).label, { disable: true });
  assert.deepEqual(parseSecurityOpts(['systempaths=unconfined', 'mask=/a:/b', 'mask=/c', 'unmask=ALL']), {
    noNewPrivileges: false, systempathsUnconfined: true, mask: ['/a', '/b', '/c'], unmask: ['ALL'],
  });
  assert.deepEqual(parseSecurityOpts(['unmask=/proc/kcore:/sys/firmware']).unmask, ['/proc/kcore', '/sys/firmware']);
});

test('parseSecurityOpts: invalid options', () => {
  for (const bad of ['foo', 'foo=bar', 'seccomp', 'seccomp=', 'label=foo', 'label=bogus:x', 'label=type:',
    'no-new-privileges=maybe', 'systempaths=confined', 'mask=relative', 'unmask=/a:b', '=x']) {
    assert.throws(() => parseSecurityOpts([bad]), invalid(`invalid --security-opt: ${JSON.stringify(bad)}`), bad);
  }
});

test('selinuxLabels: podman\'s types and a random MCS pair', () => {
  const l = selinuxLabels(undefined);
  const m = /^system_u:system_r:container_t:(s0:c(\d+),c(\d+))$/.exec(l.processLabel ?? '');
  assert.ok(m, l.processLabel);
  assert.ok(Number(m[2]) < Number(m[3]) && Number(m[3]) <= 1023);
  assert.equal(l.mountLabel, `system_u:object_r:container_file_t:${m[1]}`);
  assert.match(selinuxLabels({}, { init: true }).processLabel!, /^system_u:system_r:container_init_t:s0:c\d+,c\d+$/);
  assert.match(selinuxLabels({}, { kvm: true }).processLabel!, /^system_u:system_r:container_kvm_t:/);
  for (let i = 0; i < 200; i++) {
    const [, a, b] = /^s0:c(\d+),c(\d+)$/.exec(randomMcsLevel())!;
    assert.ok(Number(a) < Number(b) && Number(a) >= 0 && Number(b) < 1024);
  }
});

test('selinuxLabels: explicit parts, disabled, privileged', () => {
  assert.deepEqual(selinuxLabels({ user: 'u', role: 'r', type: 't', level: 's0:c5,c9', filetype: 'ft' }), {
    processLabel: 'u:r:t:s0:c5,c9', mountLabel: 'u:object_r:ft:s0:c5,c9',
  });
  assert.deepEqual(selinuxLabels({ disable: true }), {});
  assert.deepEqual(selinuxLabels(undefined, { privileged: true }), {});
});

// ---------------------------------------------------------------- userns

const SUBUID = `# subordinate uids
berth:100000:65536
berthremap:200000:1000
berthremap:300000:2000
1001:400000:65536
broken line
bad:1:x
`;
const SUBGID = 'berth:500000:131072\nberthremap:600000:3000\n';

test('parseSubIds: by name or numeric uid, ignoring comments and malformed lines', () => {
  assert.deepEqual(parseSubIds(SUBUID, 'berthremap'), [{ start: 200000, count: 1000 }, { start: 300000, count: 2000 }]);
  assert.deepEqual(parseSubIds(SUBUID, 'alice', 1001), [{ start: 400000, count: 65536 }]);
  assert.deepEqual(parseSubIds(SUBUID, 'bad'), []);
  assert.deepEqual(parseSubIds('', 'berth'), []);
});

test('parseUserns', () => {
  assert.deepEqual(parseUserns(''), { kind: 'host' });
  assert.deepEqual(parseUserns('host'), { kind: 'host' });
  assert.deepEqual(parseUserns('auto'), { kind: 'auto', size: 65536 });
  assert.deepEqual(parseUserns('auto:size=1024'), { kind: 'auto', size: 1024 });
  assert.deepEqual(parseUserns('remap'), { kind: 'remap', user: 'berthremap' });
  assert.deepEqual(parseUserns('remap', 'other'), { kind: 'remap', user: 'other' });
  assert.deepEqual(parseUserns('remap:alice'), { kind: 'remap', user: 'alice' });
  for (const bad of ['private', 'auto:size=0', 'auto:size=x', 'auto:uidmapping=0:1:1', 'remap:']) {
    assert.throws(() => parseUserns(bad), invalid(`invalid --userns mode: ${JSON.stringify(bad)} (host, auto[:size=N], remap[:USER] or keep-id)`));
  }
});

test('remapMappings: every range, concatenated from container id 0', () => {
  assert.deepEqual(remapMappings(SUBUID, SUBGID, 'berthremap'), {
    uidMappings: [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 2000 }],
    gidMappings: [{ containerID: 0, hostID: 600000, size: 3000 }],
  });
  assert.throws(() => remapMappings(SUBUID, SUBGID, 'nobody'), invalid('no subordinate uid range for user nobody in /etc/subuid'));
  assert.throws(() => remapMappings(SUBUID, '', 'berth'), invalid('no subordinate gid range for user berth in /etc/subgid'));
});

test('autoMappings: a free block avoiding used ranges', () => {
  const none = { uid: [], gid: [] };
  assert.deepEqual(autoMappings(SUBUID, SUBGID, 'berth', 65536, none), {
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 500000, size: 65536 }],
  });
  const used = { uid: [], gid: [{ containerID: 0, hostID: 500000, size: 65536 }] };
  assert.deepEqual(autoMappings(SUBUID, SUBGID, 'berth', 65536, used).gidMappings, [{ containerID: 0, hostID: 565536, size: 65536 }]);
  const small = { uid: [{ containerID: 0, hostID: 100010, size: 10 }], gid: [] };
  assert.deepEqual(autoMappings(SUBUID, SUBGID, 'berth', 10, small).uidMappings, [{ containerID: 0, hostID: 100000, size: 10 }]);
  assert.deepEqual(autoMappings(SUBUID, SUBGID, 'berth', 20, small).uidMappings, [{ containerID: 0, hostID: 100020, size: 20 }]);
  // A block never spans two ranges; the second range is tried when the first is full.
  assert.deepEqual(autoMappings(SUBUID, SUBGID, 'berthremap', 1500, none).uidMappings, [{ containerID: 0, hostID: 300000, size: 1500 }]);
  assert.throws(
    () => autoMappings(SUBUID, SUBGID, 'berth', 65536, { uid: [{ containerID: 0, hostID: 100000, size: 1 }], gid: [] }),
    invalid('not enough free subordinate uids for user berth in /etc/subuid: need 65536'),
  );
  assert.throws(() => autoMappings('', SUBGID, 'berth', 10, none), invalid('no subordinate uid range for user berth in /etc/subuid'));
});

test('readSubIdFiles: missing files read as empty', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-subid-'));
  try {
    writeFileSync(join(dir, 'subuid'), SUBUID);
    assert.deepEqual(readSubIdFiles(dir), { subuid: SUBUID, subgid: '' });
  } finally {
    rmSync(dir, { recursive: true });
  }
});
