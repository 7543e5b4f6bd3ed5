/**
 * Log drivers: which exist, their options as docker checks them, and what a container's choice means for
 * its monitor (a LogTarget).
 *
 * - json-file (docker's default) and local: docker's file formats, written by Berth's log writer
 *   (src/logs/log-writer.c) from the monitor's output, rotated by `max-size`/`max-file`, `compress`ed.
 * - k8s-file: the monitor's own file (conmon's format), replaced when it reaches `max-size`.
 * - journald: the monitor sends each line to the journal; none: output goes nowhere.
 */
import { InvalidArgument } from '../errors.ts';
import type { LogTarget } from '../runtime/driver.ts';

export const LOG_DRIVERS = ['json-file', 'local', 'k8s-file', 'journald', 'none'] as const;
export type LogDriverName = (typeof LOG_DRIVERS)[number];

/** docker's default driver. */
export const DEFAULT_LOG_DRIVER: LogDriverName = 'json-file';

/** The drivers that keep the log in a file of the container's (read as it grows, with no process to ask). */
export const keepsFile = (driver: string): boolean => driver === 'json-file' || driver === 'local' || driver === 'k8s-file';

/** The drivers whose log `logs` can read (and `attach --logs` replay). */
export const readsLog = (driver: string): boolean => driver !== 'none';

/** The options each driver takes (docker's sets; k8s-file's is podman's). */
const OPTIONS: Record<LogDriverName, readonly string[]> = {
  'json-file': ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  local: ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  'k8s-file': ['max-size', 'path'],
  journald: ['tag', 'labels', 'labels-regex', 'env', 'env-regex'],
  none: [],
};

/** docker's FromHumanSize: decimal units (`10m` is 10,000,000 bytes), an optional `b`, fractions allowed. */
export function humanSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(text);
  if (!m) return undefined;
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }[(m[2] ?? '').toLowerCase()]!;
  return Math.floor(Number(m[1]) * unit);
}

function bool(driver: string, key: string, v: string): boolean {
  if (/^(1|t|T|TRUE|true|True)$/.test(v)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false;
  throw new InvalidArgument(`invalid value for ${key} of log driver ${driver}: ${v} is not a boolean`);
}

function whole(driver: string, key: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw new InvalidArgument(`invalid value for ${key} of log driver ${driver}: ${v} is not a whole number`);
  return Number(v);
}

/** The rotation a driver's options ask for: bytes per file (-1: never), files kept, compression. */
export interface Rotation {
  maxSize: number;
  maxFile: number;
  compress: boolean;
}

/**
 * Check a driver and its options as docker does at create (unknown driver or option, a bad size, count or
 * flag, compression without rotation), and return the rotation they ask for.
 */
export function checkLogConfig(driver: string, options: Record<string, string>): Rotation {
  if (!(LOG_DRIVERS as readonly string[]).includes(driver)) {
    throw new InvalidArgument(`logger: no log driver named '${driver}' is registered (Berth has ${LOG_DRIVERS.join(', ')})`);
  }
  const d = driver as LogDriverName;
  for (const k of Object.keys(options)) {
    if (!OPTIONS[d].includes(k)) throw new InvalidArgument(`unknown log opt '${k}' for ${d} log driver`);
  }
  const size = options['max-size'];
  if (d === 'k8s-file') {
    let maxSize = -1;
    if (size !== undefined) {
      const m = /^(\d+)([kmg]?)b?$/i.exec(size);
      if (!m) throw new InvalidArgument(`invalid max-size for log driver: ${size}`);
      maxSize = Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
      if (maxSize < 1024) throw new InvalidArgument(`max-size ${size} is too small: at least 1k`);
    }
    if (options.path !== undefined && !options.path.startsWith('/')) throw new InvalidArgument(`invalid path for log driver k8s-file: ${options.path} is not absolute`);
    return { maxSize, maxFile: 1, compress: false };
  }
  if (d === 'local') {
    // docker's local defaults: 20 MiB files, five of them, the rotated ones compressed.
    const r: Rotation = { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true };
    if (size !== undefined) {
      const n = humanSize(size);
      if (n === undefined) throw new InvalidArgument(`invalid value for max-size: ${size}`);
      r.maxSize = n;
    }
    if (options['max-file'] !== undefined) r.maxFile = whole(d, 'max-file', options['max-file']);
    if (options.compress !== undefined) r.compress = bool(d, 'compress', options.compress);
    if (r.maxSize < 0) throw new InvalidArgument('max-size must not be negative');
    if (r.maxFile < 0) throw new InvalidArgument('max-file must not be negative');
    if (r.compress && r.maxFile <= 1) throw new InvalidArgument('compression cannot be enabled when max file count is 1');
    if (r.maxSize === 0) r.maxSize = -1; // docker: 0 means no limit
    return r;
  }
  const r: Rotation = { maxSize: -1, maxFile: 1, compress: false };
  if (d !== 'json-file') return r;
  if (size !== undefined) {
    const n = humanSize(size);
    if (n === undefined) throw new InvalidArgument(`invalid size: '${size}'`);
    if (n <= 0) throw new InvalidArgument('max-size must be a positive number');
    r.maxSize = n;
  }
  if (options['max-file'] !== undefined) {
    r.maxFile = whole(d, 'max-file', options['max-file']);
    if (r.maxFile < 1) throw new InvalidArgument('max-file cannot be less than 1');
  }
  if (options.compress !== undefined) {
    r.compress = bool(d, 'compress', options.compress);
    if (r.compress && (r.maxFile === 1 || r.maxSize === -1)) {
      throw new InvalidArgument('compress cannot be true when max-file is less than 2 or max-size is not set');
    }
  }
  return r;
}

/** What `tag` templates may name (docker's log tag fields). */
export interface TagFields {
  id: string;
  name: string;
  imageName: string;
  imageId: string;
}

const TAG_FIELDS: Record<string, (c: TagFields) => string> = {
  ID: (c) => c.id.slice(0, 12),
  FullID: (c) => c.id,
  Name: (c) => c.name.replace(/^\//, ''),
  ImageName: (c) => c.imageName,
  ImageID: (c) => c.imageId.replace(/^sha256:/, '').slice(0, 12),
  ImageFullID: (c) => c.imageId,
  DaemonName: () => 'berth',
};

/** A `tag` template (`{{.Name}}/{{.ID}}`) filled in; an unknown field is refused. */
export function expandTag(template: string, c: TagFields): string {
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, f: string) => {
    const field = TAG_FIELDS[f];
    if (!field) throw new InvalidArgument(`invalid log tag template ${template}: no field ${f} (use ${Object.keys(TAG_FIELDS).join(', ')})`);
    return field(c);
  });
}

/** What a container's labels and environment give its records (`labels`, `env`, their `-regex`es, `tag`). */
export function logAttributes(options: Record<string, string>, labels: Record<string, string>, env: readonly string[], tag: TagFields): Record<string, string> {
  const attrs: Record<string, string> = {};
  const envMap = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i > 0) envMap.set(e.slice(0, i), e.slice(i + 1));
  }
  const pick = (names: string | undefined, regex: string | undefined, from: Map<string, string>) => {
    for (const n of (names ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const v = from.get(n);
      if (v !== undefined) attrs[n] = v;
    }
    if (regex !== undefined) {
      const re = new RegExp(regex);
      for (const [k, v] of from) if (re.test(k)) attrs[k] = v;
    }
  };
  pick(options.labels, options['labels-regex'], new Map(Object.entries(labels)));
  pick(options.env, options['env-regex'], envMap);
  if (options.tag !== undefined && options.tag !== '') attrs.tag = expandTag(options.tag, tag);
  return attrs;
}

/** Where each driver keeps a container's log in its directory (docker's names for its two). */
export function logFile(driver: string, dir: string, id: string, options: Record<string, string> = {}): string | null {
  if (driver === 'json-file') return `${dir}/${id}-json.log`;
  if (driver === 'local') return `${dir}/local-logs/container.log`;
  // podman's `--log-opt path=`: where a CRI client (kubelet) reads the container's log.
  if (driver === 'k8s-file') return options.path || `${dir}/ctr.log`;
  return null;
}

/** A container as its log needs it. */
export interface LoggedContainer extends TagFields {
  dir: string;
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
  env: readonly string[];
}

/** The log a container's monitor is started with, and read from. */
export function logTarget(c: LoggedContainer): LogTarget {
  const rotation = checkLogConfig(c.driver, c.options);
  const attrs = c.driver === 'json-file' || c.driver === 'local' ? logAttributes(c.options, c.labels, c.env, c) : {};
  return { driver: c.driver as LogDriverName, id: c.id, path: logFile(c.driver, c.dir, c.id, c.options), ...rotation, attrs };
}

/** Check a driver, its options and its tag template at create, before anything is made. */
export function validateLogConfig(driver: string, options: Record<string, string>): void {
  checkLogConfig(driver, options);
  if (options.tag) expandTag(options.tag, { id: '', name: '', imageName: '', imageId: '' });
  for (const k of ['labels-regex', 'env-regex']) {
    if (options[k] === undefined) continue;
    try {
      new RegExp(options[k]!);
    } catch (e) {
      throw new InvalidArgument(`invalid ${k} for log driver ${driver}: ${(e as Error).message}`);
    }
  }
}
