import { readFileSync } from 'node:fs';
import { InvalidArgument } from '../../errors.ts';
import type { Rlimit } from '../../types.ts';

export interface RlimitPair {
  soft: number;
  hard: number;
}

/** Host limits keyed by OCI name (RLIMIT_NOFILE, …). */
export type HostRlimits = Record<string, RlimitPair>;

/**
 * "unlimited" (RLIM_INFINITY, 2^64-1) is represented as Number.MAX_SAFE_INTEGER: 2^64-1 is not a
 * JS number and JSON.stringify would round it past uint64. Handed to a runtime, 2^53-1 is a finite
 * value no real resource reaches, and being below RLIM_INFINITY it never needs CAP_SYS_RESOURCE.
 */
export const RLIM_UNLIMITED = Number.MAX_SAFE_INTEGER;

/** docker --ulimit names → OCI types. */
const ULIMIT_NAMES: Record<string, string> = {
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** /proc/<pid>/limits row labels → OCI types. */
const PROC_LABELS: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

function limitValue(s: string): number {
  return s === 'unlimited' ? RLIM_UNLIMITED : Number(s);
}

/** This process's limits, read once: nothing in Berth changes them, and every create and start asks. */
let ownLimits: HostRlimits | undefined;

/** Parse /proc/self/limits (this process's, read once, when no text is given). Unknown rows are skipped. */
export function readHostRlimits(text?: string): HostRlimits {
  if (text === undefined) return (ownLimits ??= readHostRlimits(readFileSync('/proc/self/limits', 'utf8')));
  const src = text;
  const out: HostRlimits = {};
  for (const line of src.split('\n')) {
    // Columns are space-padded; the label itself contains single spaces.
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const type = PROC_LABELS[m[1]!.trim()];
    if (!type) continue;
    const soft = limitValue(m[2]!);
    const hard = limitValue(m[3]!);
    if (Number.isFinite(soft) && Number.isFinite(hard)) out[type] = { soft, hard };
  }
  return out;
}

function parseValue(spec: string, v: string): number {
  if (v === 'unlimited' || v === '-1') return RLIM_UNLIMITED;
  if (!/^\d+$/.test(v)) throw new InvalidArgument(`invalid ulimit "${spec}": "${v}" is not a number`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InvalidArgument(`invalid ulimit "${spec}": ${v} is too large`);
  return n;
}

/** docker's --ulimit syntax: name=soft[:hard]; hard defaults to soft. */
export function parseUlimit(spec: string): Rlimit {
  const eq = spec.indexOf('=');
  if (eq < 0) throw new InvalidArgument(`invalid ulimit "${spec}": expected name=soft[:hard]`);
  const name = spec.slice(0, eq);
  const type = ULIMIT_NAMES[name];
  if (!type) throw new InvalidArgument(`invalid ulimit "${spec}": unknown ulimit type "${name}"`);
  const values = spec.slice(eq + 1).split(':');
  if (values.length > 2 || values[0] === '') {
    throw new InvalidArgument(`invalid ulimit "${spec}": expected name=soft[:hard]`);
  }
  const soft = parseValue(spec, values[0]!);
  const hard = values.length === 2 ? parseValue(spec, values[1]!) : soft;
  if (soft > hard) {
    throw new InvalidArgument(`invalid ulimit "${spec}": soft limit ${soft} exceeds hard limit ${hard}`);
  }
  return { type, soft, hard };
}

function shortName(type: string): string {
  return type.replace(/^RLIMIT_/, '').toLowerCase();
}

/**
 * Check requested limits against the host's: without CAP_SYS_RESOURCE the runtime cannot raise a
 * hard limit, so fail early with a clear message. Returns the requests unchanged.
 */
export function clampRlimits(requested: readonly Rlimit[], host: HostRlimits): Rlimit[] {
  for (const r of requested) {
    const h = host[r.type];
    if (h && r.hard > h.hard) {
      throw new InvalidArgument(
        `ulimit ${shortName(r.type)}: hard limit ${r.hard} exceeds the host's hard limit ${h.hard}`,
      );
    }
  }
  return requested.map((r) => ({ ...r }));
}

/** Limits every container gets unless overridden: docker passes its own nofile, capped at 1048576. */
export function defaultRlimits(host: HostRlimits): Rlimit[] {
  const cap = 1048576;
  const hostHard = host.RLIMIT_NOFILE?.hard ?? cap;
  const n = Math.min(cap, hostHard);
  return [{ type: 'RLIMIT_NOFILE', soft: n, hard: n }];
}
