/**
 * Seccomp for the OCI spec: docker's default filter, rebuilt for the container's capabilities and the
 * host's architecture and kernel, and docker-format profile files (includes/excludes) converted to OCI.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { nodeUtil } from '../../sys/builtins.ts';
import { InvalidArgument } from '../../errors.ts';

export type SeccompAction =
  | 'SCMP_ACT_KILL' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_TRAP' | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE' | 'SCMP_ACT_ALLOW' | 'SCMP_ACT_LOG' | 'SCMP_ACT_NOTIFY';
export type SeccompOp =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

const ACTIONS: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
]);
const OPS: ReadonlySet<string> = new Set<SeccompOp>([
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
]);

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOp;
}

export interface OciSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

/** OCI linux.seccomp. An empty `architectures` means the native one only. */
export interface OciSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls: OciSyscall[];
}

const EPERM = 1;
const ENOSYS = 38;
const AF_ALG = 38; // AF_VSOCK is 40; the one family between them stays allowed
const AF_VSOCK = 40;
/** CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** personality(2) values glibc and common tools use: LINUX, LINUX32, UNAME26 variants, and the query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** Node's process.arch → the native names docker's profiles use in includes/excludes. */
const NATIVE: Readonly<Record<string, string>> = {
  x64: 'amd64', ia32: 'x86', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
  loong64: 'loong64',
};
const SCMP_ARCH: Readonly<Record<string, string>> = {
  amd64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64', loong64: 'SCMP_ARCH_LOONGARCH64',
};
/** The native architecture with the sub-architectures whose binaries it also runs (docker's archMap). */
const DEFAULT_ARCHES: Readonly<Record<string, readonly string[]>> = {
  amd64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
  riscv64: ['SCMP_ARCH_RISCV64'],
  loong64: ['SCMP_ARCH_LOONGARCH64'],
};

const words = (s: string): string[] => s.trim().split(/\s+/);

// Docker's default allow-list. Names this host's libseccomp does not know are skipped by the runtime.
const ALLOWED = words(`
  _llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
  chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd
  eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark
  fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock
  fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
  futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat get_robust_list get_thread_area getcpu
  getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
  getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
  getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr getxattrat
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
  io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc kill landlock_add_rule
  landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount listxattr
  listxattrat llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
  memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
  mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
  mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
  newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
  poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
  pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
  recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall riscv_hwprobe rmdir
  rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min sched_getaffinity
  sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
  sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
  semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto set_robust_list set_thread_area
  set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
  setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid
  setsockopt setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
  sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink symlinkat
  sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
  timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
  timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime
  utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`);

/** Allowed only on one native architecture. */
const ARCH_ALLOWED: Readonly<Record<string, string>> = {
  amd64: 'arch_prctl modify_ldt',
  x86: 'modify_ldt',
  arm: 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls',
  arm64: 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls',
  ppc64le: 'sync_file_range2 swapcontext',
  s390x: 's390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr',
  riscv64: 'riscv_flush_icache',
};

/** Allowed only when the container holds the capability that governs them anyway. */
const CAP_ALLOWED: Readonly<Record<string, string>> = {
  CAP_DAC_READ_SEARCH: 'open_by_handle_at',
  CAP_SYS_ADMIN:
    'bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr ' +
    'lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl ' +
    'quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare',
  CAP_SYS_BOOT: 'reboot',
  CAP_SYS_CHROOT: 'chroot',
  CAP_SYS_MODULE: 'delete_module init_module finit_module',
  CAP_SYS_PACCT: 'acct',
  CAP_SYS_PTRACE: 'kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace',
  CAP_SYS_RAWIO: 'iopl ioperm',
  CAP_SYS_TIME: 'settimeofday stime clock_settime clock_settime64',
  CAP_SYS_TTY_CONFIG: 'vhangup',
  CAP_SYS_NICE: 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node',
  CAP_SYSLOG: 'syslog',
  CAP_BPF: 'bpf',
  CAP_PERFMON: 'perf_event_open',
};

/** Since 4.8 ptrace can no longer bypass seccomp, so docker allows it without CAP_SYS_PTRACE. */
const PTRACE_SAFE = { since: [4, 8] as const, names: words('process_vm_readv process_vm_writev ptrace') };

/** Docker's native name for a Node process.arch value (names docker already uses pass through). */
export function nativeArch(arch: string): string {
  return NATIVE[arch] ?? arch;
}

/** "6.8.0-45-generic" → [6, 8]; [0, 0] when unreadable. */
function kernelVersion(text: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function atLeast(have: readonly [number, number], want: readonly [number, number]): boolean {
  return have[0] !== want[0] ? have[0] > want[0] : have[1] >= want[1];
}

const argRule = (names: string[], arg: OciSeccompArg): OciSyscall => ({ names, action: 'SCMP_ACT_ALLOW', args: [arg] });

/**
 * Docker's default profile for a container holding `caps` (its bounding set): unlisted syscalls fail
 * with EPERM; namespace-creating clone flags need CAP_SYS_ADMIN; clone3, whose flags a filter cannot
 * inspect, answers ENOSYS without it so libc falls back to clone.
 */
export function defaultSeccomp(caps: readonly string[], arch: string = process.arch, kernel: string = release()): OciSeccomp {
  const native = nativeArch(arch);
  const held = new Set(caps);
  const allowed = new Set(ALLOWED);
  const add = (names: readonly string[]) => names.forEach((n) => allowed.add(n));
  if (ARCH_ALLOWED[native]) add(words(ARCH_ALLOWED[native]));
  if (atLeast(kernelVersion(kernel), PTRACE_SAFE.since)) add(PTRACE_SAFE.names);
  for (const [cap, names] of Object.entries(CAP_ALLOWED)) if (held.has(cap)) add(words(names));

  const syscalls: OciSyscall[] = [
    { names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' },
    argRule(['socket'], { index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }),
    argRule(['socket'], { index: 0, value: AF_ALG + 1, op: 'SCMP_CMP_EQ' }),
    argRule(['socket'], { index: 0, value: AF_VSOCK, op: 'SCMP_CMP_GT' }),
    ...PERSONALITIES.map((value) => argRule(['personality'], { index: 0, value, op: 'SCMP_CMP_EQ' })),
  ];
  if (!held.has('CAP_SYS_ADMIN')) {
    // s390 passes clone's flags as the second argument.
    const index = native === 's390x' ? 1 : 0;
    syscalls.push(argRule(['clone'], { index, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }));
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: [...(DEFAULT_ARCHES[native] ?? [])],
    syscalls,
  };
}

/** A docker-format rule condition (includes/excludes). */
interface Condition {
  caps: string[];
  arches: string[];
  minKernel?: [number, number];
}

interface Host {
  caps: ReadonlySet<string>;
  native: string;
  kernel: [number, number];
}

function fail(why: string): never {
  throw new InvalidArgument(`decoding seccomp profile failed: ${why}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(`${what} must be a list of strings`);
  return [...(v as string[])];
}

function uint(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${what} must be an unsigned integer, got ${JSON.stringify(v)}`);
  return v;
}

function action(v: unknown): SeccompAction {
  if (typeof v !== 'string' || !ACTIONS.has(v)) fail(`unknown action ${JSON.stringify(v)}`);
  return v as SeccompAction;
}

function condition(v: unknown, what: string): Condition | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(`${what} must be an object`);
  const c: Condition = { caps: stringList(v.caps, `${what}.caps`), arches: stringList(v.arches, `${what}.arches`) };
  if (v.minKernel !== undefined && v.minKernel !== '') {
    const m = typeof v.minKernel === 'string' ? /^(\d+)\.(\d+)$/.exec(v.minKernel) : null;
    if (!m || (m[1] === '0' && m[2] === '0')) {
      fail(`invalid kernel version: ${JSON.stringify(v.minKernel)}, expected "<kernel>.<major>"`);
    }
    c.minKernel = [Number(m[1]), Number(m[2])];
  }
  return c;
}

/** Docker's reading: a rule applies when every include holds and no exclude does. */
function applies(includes: Condition | undefined, excludes: Condition | undefined, host: Host): boolean {
  if (excludes) {
    if (excludes.arches.includes(host.native)) return false;
    if (excludes.caps.some((c) => host.caps.has(c))) return false;
    if (excludes.minKernel && atLeast(host.kernel, excludes.minKernel)) return false;
  }
  if (includes) {
    if (includes.arches.length > 0 && !includes.arches.includes(host.native)) return false;
    if (!includes.caps.every((c) => host.caps.has(c))) return false;
    if (includes.minKernel && !atLeast(host.kernel, includes.minKernel)) return false;
  }
  return true;
}

function seccompArg(v: unknown, what: string): OciSeccompArg {
  if (!isObject(v)) fail(`${what} must be an object`);
  if (typeof v.op !== 'string' || !OPS.has(v.op)) fail(`unknown operator ${JSON.stringify(v.op)}`);
  const arg: OciSeccompArg = { index: uint(v.index, `${what}.index`) ?? 0, value: uint(v.value, `${what}.value`) ?? 0, op: v.op as SeccompOp };
  const two = uint(v.valueTwo, `${what}.valueTwo`);
  if (two !== undefined) arg.valueTwo = two;
  return arg;
}

function syscallRule(v: unknown, i: number, host: Host): OciSyscall | undefined {
  const what = `syscalls[${i}]`;
  if (!isObject(v)) fail(`${what} must be an object`);
  let names = stringList(v.names, `${what}.names`);
  if (typeof v.name === 'string' && v.name !== '') {
    if (names.length > 0) fail("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    names = [v.name];
  }
  const rule: OciSyscall = { names, action: action(v.action) };
  const errnoRet = uint(v.errnoRet, `${what}.errnoRet`);
  if (errnoRet !== undefined) rule.errnoRet = errnoRet;
  if (v.args !== undefined && v.args !== null) {
    if (!Array.isArray(v.args)) fail(`${what}.args must be a list`);
    rule.args = v.args.map((a, j) => seccompArg(a, `${what}.args[${j}]`));
  }
  const includes = condition(v.includes, `${what}.includes`);
  const excludes = condition(v.excludes, `${what}.excludes`);
  return applies(includes, excludes, host) ? rule : undefined;
}

function architectures(p: Record<string, unknown>, native: string): string[] {
  const listed = stringList(p.architectures, 'architectures');
  if (p.archMap === undefined || p.archMap === null) return listed;
  if (!Array.isArray(p.archMap)) fail('archMap must be a list');
  if (listed.length > 0 && p.archMap.length > 0) {
    fail("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const entry = p.archMap.find((a) => isObject(a) && a.architecture === SCMP_ARCH[native]);
  if (!isObject(entry)) return [];
  return [SCMP_ARCH[native]!, ...stringList(entry.subArchitectures, 'archMap.subArchitectures')];
}

/**
 * A docker-format profile (archMap or architectures; syscalls by `names` or legacy `name`; rules kept
 * or dropped by includes/excludes on caps, arches and minKernel) as an OCI seccomp section for a
 * container holding `caps`. Undefined for a profile with no defaultAction and no rules, which docker
 * reads as "no filter".
 */
export function loadSeccompProfile(
  json: string,
  caps: readonly string[],
  arch: string = process.arch,
  kernel: string = release(),
): OciSeccomp | undefined {
  let p: unknown;
  try {
    p = JSON.parse(json);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!isObject(p)) fail('the profile must be a JSON object');
  const rules = p.syscalls ?? [];
  if (!Array.isArray(rules)) fail('syscalls must be a list');
  if ((p.defaultAction === undefined || p.defaultAction === '') && rules.length === 0) return undefined;

  const native = nativeArch(arch);
  const host: Host = { caps: new Set(caps), native, kernel: kernelVersion(kernel) };
  const out: OciSeccomp = {
    defaultAction: action(p.defaultAction),
    architectures: architectures(p, native),
    syscalls: rules.map((r, i) => syscallRule(r, i, host)).filter((r) => r !== undefined),
  };
  const errnoRet = uint(p.defaultErrnoRet, 'defaultErrnoRet');
  if (errnoRet !== undefined) out.defaultErrnoRet = errnoRet;
  const flags = stringList(p.flags, 'flags');
  if (flags.length > 0) out.flags = flags;
  if (typeof p.listenerPath === 'string' && p.listenerPath) out.listenerPath = p.listenerPath;
  if (typeof p.listenerMetadata === 'string' && p.listenerMetadata) out.listenerMetadata = p.listenerMetadata;
  return out;
}

/** The text of a --security-opt seccomp=FILE profile, failing as docker's CLI does. */
export function readSeccompProfile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).errno;
    const why = errno !== undefined ? nodeUtil().getSystemErrorMessage(errno) : (e as Error).message;
    throw new InvalidArgument(`opening seccomp profile (${file}) failed: open ${file}: ${why}`, { cause: e });
  }
}
