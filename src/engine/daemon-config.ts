/**
 * The engine's configuration file, in docker's daemon.json keys so a docker user's settings carry over:
 *
 *   { "runtimes": { "NAME": { "path": "/usr/bin/x", "runtimeArgs": ["--flag"] } },
 *     "default-runtime": "NAME",
 *     "insecure-registries": ["host:5000"],
 *     "registry-mirrors": ["http://mirror:5000"],
 *     "registry-mirrors-of": { "registry.k8s.io": ["http://127.0.0.1:5000"] },
 *     "max-layer-size": "16GiB", "max-image-size": "64GiB",
 *     "max-download-attempts": 5, "max-upload-attempts": 5,
 *     "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" },
 *     "storage-driver": "fuse-overlayfs" }
 *
 * Read from `<root>/daemon.json`, else `/etc/berth/daemon.json`. The registry keys may also come from
 * `registries.json` beside it (same places, the file older Berth roots have): both files' lists count.
 * A file that is not valid JSON, or a key of the wrong shape, is refused naming the file and the key.
 * `log-driver` (default json-file, as docker's) and `log-opts` are what a container that names no driver
 * gets (src/logs/drivers.ts checks them as it checks a container's).
 *
 * `registry-mirrors-of` is Berth's own: mirrors of any registry, by its host (docker's `registry-mirrors` serve
 * Docker Hub only), as containerd's registry mirrors are: a CRI client's images named after registry.k8s.io
 * come from a local mirror. A mirror given as http:// is reached over plain HTTP.
 *
 * `storage-driver` is `overlay` (docker's `overlay2` too) or `fuse-overlayfs`: what new containers are mounted
 * with instead of the host's best (src/engine/storage-driver.ts).
 *
 * The size keys are Berth's own (docker has none): the most a layer, and all of an image's layers together,
 * may expand to when pulled, loaded or imported (src/image/unpack-limits.ts). Bytes as a number, or a size
 * string in docker's units (`"16GiB"`, `"500MB"`: binary, as `--memory`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.ts';
import { DEFAULT_LOG_DRIVER, validateLogConfig } from '../logs/drivers.ts';
import { DEFAULT_CAPS } from '../image/unpack-limits.ts';
import { bytesIn } from '../units.ts';
import { parseStorageDriver, type StorageDriverName } from './storage-driver.ts';

/** A runtime named in the configuration: an OCI runtime binary and the global options it is run with. */
export interface ConfiguredRuntime {
  path: string;
  runtimeArgs: string[];
}

export interface DaemonConfig {
  /** The file the settings came from (for messages), or undefined when there is none. */
  file?: string;
  runtimes: Record<string, ConfiguredRuntime>;
  defaultRuntime?: string;
  insecureRegistries: string[];
  registryMirrors: string[];
  /** `registry-mirrors-of`: mirrors by registry host. */
  registryMirrorsOf: Record<string, string[]>;
  /** `max-layer-size`: the most bytes of uncompressed tar one layer may expand to. */
  maxLayerSize: number;
  /** `max-image-size`: the most an image's layers may expand to together. */
  maxImageSize: number;
  /** docker's `max-download-attempts` and `max-upload-attempts`: attempts at one blob. */
  maxDownloadAttempts: number;
  maxUploadAttempts: number;
  /** `log-driver` and `log-opts`: the log of a container that asks for none. */
  logDriver: string;
  logOpts: Record<string, string>;
  /** `storage-driver`: new containers' driver, where the file names one. */
  storageDriver?: StorageDriverName;
}

type Doc = Record<string, unknown>;

/** The first of the files that exists, parsed; undefined when none does. */
function readFirst(files: string[]): { file: string; doc: Doc } | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new InvalidArgument(`${file}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InvalidArgument(`${file}: must hold a JSON object`);
    return { file, doc: doc as Doc };
  }
  return undefined;
}

function strings(file: string, doc: Doc, key: string): string[] {
  const v = doc[key] ?? [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InvalidArgument(`${file}: "${key}" must be a list of strings`);
  return v;
}

function runtimes(file: string, doc: Doc): Record<string, ConfiguredRuntime> {
  const v = doc.runtimes ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgument(`${file}: "runtimes" must be an object of runtimes by name`);
  const out: Record<string, ConfiguredRuntime> = {};
  for (const [name, def] of Object.entries(v as Doc)) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new InvalidArgument(`${file}: runtime name "${name}" is not valid`);
    const d = (def ?? {}) as Doc;
    if (typeof d.path !== 'string' || !d.path.startsWith('/')) throw new InvalidArgument(`${file}: runtime "${name}" needs an absolute "path"`);
    out[name] = { path: d.path, runtimeArgs: strings(file, d, 'runtimeArgs') };
  }
  return out;
}

/** A size key: bytes as a positive whole number, or a string in docker's units. */
function size(file: string, doc: Doc, key: string, dflt: number): number {
  const v = doc[key];
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? bytesIn(v) : undefined;
  if (n === undefined || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgument(`${file}: "${key}" must be a size: bytes as a number, or a string such as "16GiB" or "500MB" (not ${JSON.stringify(v)})`);
  }
  return n;
}

/** A count key: a whole number of at least 1. */
function count(file: string, doc: Doc, key: string, dflt: number): number {
  const v = doc[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgument(`${file}: "${key}" must be a whole number of at least 1 (not ${JSON.stringify(v)})`);
  return v;
}

/** `log-driver` and `log-opts`, checked as a container's would be. */
function logDefaults(file: string, doc: Doc): { driver: string; options: Record<string, string> } {
  const driver = doc['log-driver'] ?? DEFAULT_LOG_DRIVER;
  if (typeof driver !== 'string') throw new InvalidArgument(`${file}: "log-driver" must be a log driver's name`);
  const opts = doc['log-opts'] ?? {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts) || !Object.values(opts).every((v) => typeof v === 'string')) {
    throw new InvalidArgument(`${file}: "log-opts" must be an object of strings`);
  }
  try {
    validateLogConfig(driver, opts as Record<string, string>);
  } catch (e) {
    throw new InvalidArgument(`${file}: "log-driver"/"log-opts": ${(e as Error).message}`, { cause: e });
  }
  return { driver, options: { ...(opts as Record<string, string>) } };
}

/** `registry-mirrors-of`: an object of mirror lists by registry host. */
function mirrorsOf(file: string, doc: Doc): Record<string, string[]> {
  const v = doc['registry-mirrors-of'] ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgument(`${file}: "registry-mirrors-of" must be an object of mirror lists by registry host`);
  return Object.fromEntries(Object.keys(v).map((host) => [host, strings(file, v as Doc, host)]));
}

/** docker's defaults for the attempts at one blob. */
const ATTEMPTS = 5;

export function readDaemonConfig(root: string, etc = '/etc/berth'): DaemonConfig {
  const main = readFirst([join(root, 'daemon.json'), join(etc, 'daemon.json')]);
  const legacy = readFirst([join(root, 'registries.json'), join(etc, 'registries.json')]);
  const cfg: DaemonConfig = {
    file: main?.file, runtimes: {}, insecureRegistries: [], registryMirrors: [], registryMirrorsOf: {},
    ...DEFAULT_CAPS, maxDownloadAttempts: ATTEMPTS, maxUploadAttempts: ATTEMPTS,
    logDriver: DEFAULT_LOG_DRIVER, logOpts: {},
  };
  if (main) {
    cfg.maxLayerSize = size(main.file, main.doc, 'max-layer-size', DEFAULT_CAPS.maxLayerSize);
    cfg.maxImageSize = size(main.file, main.doc, 'max-image-size', DEFAULT_CAPS.maxImageSize);
    cfg.maxDownloadAttempts = count(main.file, main.doc, 'max-download-attempts', ATTEMPTS);
    cfg.maxUploadAttempts = count(main.file, main.doc, 'max-upload-attempts', ATTEMPTS);
    cfg.runtimes = runtimes(main.file, main.doc);
    const dflt = main.doc['default-runtime'];
    if (dflt !== undefined && typeof dflt !== 'string') throw new InvalidArgument(`${main.file}: "default-runtime" must be a runtime's name`);
    cfg.defaultRuntime = dflt;
    ({ driver: cfg.logDriver, options: cfg.logOpts } = logDefaults(main.file, main.doc));
    cfg.registryMirrorsOf = mirrorsOf(main.file, main.doc);
    const driver = main.doc['storage-driver'];
    if (driver !== undefined) cfg.storageDriver = parseStorageDriver(typeof driver === 'string' ? driver : JSON.stringify(driver), `${main.file}: "storage-driver"`);
  }
  for (const src of [main, legacy]) {
    if (!src) continue;
    cfg.insecureRegistries.push(...strings(src.file, src.doc, 'insecure-registries'));
    cfg.registryMirrors.push(...strings(src.file, src.doc, 'registry-mirrors'));
  }
  return cfg;
}
