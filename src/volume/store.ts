/**
 * Volumes of the local driver: a directory `<root>/volumes/<name>/_data`, or, with `--opt type=…`, a
 * filesystem mounted there while a container uses it (docker's local driver). Which containers use a
 * volume is the engine's knowledge (their configs); this store only makes, mounts, fills and removes.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, chmodSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument, NoSuchVolume, NotFound, RuntimeFailure } from '../errors.ts';
import { EventRepo } from '../store/events.ts';
import type { VolumeRepo, VolumeRow } from '../store/volumes.ts';
import { isMounted, mountFs, unmount } from '../sys/mount.ts';
import { run } from '../sys/run.ts';
import { treeSize } from '../sys/du.ts';

export interface VolumeCreateOptions {
  /** Default: a new 64-hex name (an anonymous volume). */
  name?: string;
  driver?: string;
  /** `--opt`: type, device, o. */
  options?: Record<string, string>;
  labels?: Record<string, string>;
  anonymous?: boolean;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const OPTION_KEYS = new Set(['type', 'device', 'o']);

export function validateVolumeName(name: string): string {
  if (!NAME.test(name)) {
    throw new InvalidArgument(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. ` +
        'If you intended to pass a host directory, use absolute path',
    );
  }
  return name;
}

/** The local driver's options, checked as docker's local driver checks them. */
function validateOptions(opts: Record<string, string>): Record<string, string> {
  for (const k of Object.keys(opts)) {
    if (!OPTION_KEYS.has(k)) throw new InvalidArgument(`invalid option key: "${k}"`);
  }
  if (opts.type !== undefined && !opts.device) throw new InvalidArgument('missing required option: "device"');
  if (opts.device !== undefined && !opts.type) throw new InvalidArgument('missing required option: "type"');
  if (opts.type === 'none' && opts.device && !opts.device.startsWith('/')) {
    throw new InvalidArgument(`invalid device for a bind volume: "${opts.device}" is not an absolute path`);
  }
  if (opts.type === 'none' && !(opts.o ?? '').split(',').some((o) => o === 'bind' || o === 'rbind')) {
    throw new InvalidArgument('a volume of type "none" needs o=bind');
  }
  return { ...opts };
}

export class VolumeStore {
  readonly root: string;
  readonly repo: VolumeRepo;
  private eventLog?: EventRepo;

  constructor(root: string, repo: VolumeRepo) {
    this.root = root;
    this.repo = repo;
  }

  dir(name: string): string {
    return join(this.root, 'volumes', name);
  }

  /** Where containers bind the volume from. */
  mountpoint(name: string): string {
    return join(this.dir(name), '_data');
  }

  get(name: string): VolumeRow {
    const v = this.repo.get(name);
    if (!v) throw new NoSuchVolume(name);
    return v;
  }

  /** Create a volume; an existing name with the same driver is returned as it is, like docker. */
  create(o: VolumeCreateOptions, newName: () => string): { volume: VolumeRow; created: boolean } {
    const driver = o.driver ?? 'local';
    // As dockerd answers a driver it has no plugin for: not found (404), naming the plugin lookup.
    if (driver !== 'local') throw new NotFound(`create ${o.name ?? ''}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = o.name === undefined ? newName() : validateVolumeName(o.name);
    const existing = this.repo.get(name);
    if (existing) return { volume: existing, created: false };
    const options = validateOptions(o.options ?? {});
    mkdirSync(join(this.root, 'volumes'), { recursive: true, mode: 0o700 });
    mkdirSync(this.dir(name), { mode: 0o701 });
    try {
      mkdirSync(this.mountpoint(name), { mode: 0o755 });
      this.repo.insert({ name, driver, options, labels: { ...(o.labels ?? {}) }, anonymous: o.anonymous ?? false, createdAt: new Date().toISOString() });
    } catch (e) {
      rmSync(this.dir(name), { recursive: true, force: true });
      throw e;
    }
    this.emit('create', name, driver);
    return { volume: this.repo.get(name)!, created: true };
  }

  /** Make the volume's data reachable at its mountpoint (mounting a typed volume) and return that path. */
  async acquire(name: string): Promise<string> {
    const v = this.get(name);
    const target = this.mountpoint(name);
    if (v.options.type && !isMounted(target)) {
      try {
        await mountFs(v.options.type, v.options.device!, target, v.options.o ?? '');
      } catch (e) {
        throw new RuntimeFailure(`volume ${name}: ${(e as Error).message}`, { cause: e });
      }
    }
    return target;
  }

  /** Unmount a typed volume that no running container uses any more (a tmpfs volume's data goes with it). */
  async release(name: string): Promise<void> {
    const v = this.repo.get(name);
    if (v?.options.type) await unmount(this.mountpoint(name));
  }

  /**
   * A new volume's first user fills it with what the image has at the mount's destination (`src`, a
   * directory inside the container's mounted rootfs), owner and mode of that directory included.
   */
  async copyUp(name: string, src: string | null): Promise<void> {
    if (!this.repo.takeCopyUp(name) || src === null) return;
    const dst = this.mountpoint(name);
    const st = statSync(src, { throwIfNoEntry: false });
    if (!st?.isDirectory() || readdirSync(dst).length > 0) return;
    chownSync(dst, st.uid, st.gid);
    chmodSync(dst, st.mode & 0o7777);
    if (readdirSync(src).length === 0) return;
    const r = await run('cp', ['-a', '--', `${src}/.`, `${dst}/`]);
    if (r.code !== 0) throw new RuntimeFailure(`volume ${name}: copying the image's content failed: ${r.stderr.trim()}`);
  }

  /** Bytes of regular files in the volume's data (what removing it reclaims). */
  size(name: string): number {
    return treeSize(this.mountpoint(name));
  }

  /** Delete the volume's data and record. The caller has checked that no container uses it. */
  async remove(name: string): Promise<void> {
    this.get(name);
    await this.release(name);
    if (existsSync(this.dir(name)) && lstatSync(this.dir(name)).isDirectory()) {
      rmSync(this.dir(name), { recursive: true, force: true });
    }
    const driver = this.repo.get(name)?.driver ?? 'local';
    this.repo.delete(name);
    this.emit('destroy', name, driver);
  }

  private emit(action: string, name: string, driver: string): void {
    (this.eventLog ??= new EventRepo(this.repo.db)).record('volume', action, name, { driver });
  }
}
